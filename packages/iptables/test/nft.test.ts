// The nf_tables messages we write for the bridge's masquerade rules against the bytes Debian's
// iptables-nft-restore 1.8.9 sent for the same input. The fixtures are its NFNL_MSG_BATCH,
// captured on a fresh network namespace with
//   strace -f -e trace=sendmsg -e write=all iptables-restore --noflush < input
// (ip6tables-restore for IPv6), the input being the `input` of each case below. iptables-nft adds
// the table again before every rule and sends no NLM_F_ACK; ours sends the table once and asks
// every message to be acknowledged. Everything else must be the same, byte for byte.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { batchBegin, batchEnd, opMessage } from '@cni-ts/process';
import { type Change, type Family, nftOpsOf, renderRestore, rule, xtExprs } from '../src/index.js';

const CHAIN = 'CNI-aaaabbbbccccddddeeeeffff';
const COMMENT = ['-m', 'comment', '--comment', 'name: "mynet" id: "abc"'];
const NLM_F_ACK = 0x4;

function changes(f: Family): Change[] {
  const [subnet, multicast, src] =
    f === 4 ? ['10.22.0.0/16', '224.0.0.0/4', '10.22.0.5/32'] : ['fd00:10:22::/64', 'ff00::/8', 'fd00:10:22::5/128'];
  return [
    { op: 'declare', table: 'nat', chain: CHAIN },
    { op: 'append', rule: rule('nat', CHAIN, '-d', subnet, ...COMMENT, '-j', 'ACCEPT') },
    { op: 'append', rule: rule('nat', CHAIN, '!', '-d', multicast, ...COMMENT, '-j', 'MASQUERADE') },
    { op: 'append', rule: rule('nat', 'POSTROUTING', '-s', src, ...COMMENT, '-j', CHAIN) },
  ];
}

function captured(f: Family): Uint8Array[] {
  const hex = readFileSync(new URL(`../../test/fixtures/restore-masq-ipv${f}.hex`, import.meta.url), 'utf8');
  const bytes = Buffer.from(hex.replace(/\s+/g, ''), 'hex');
  const out: Uint8Array[] = [];
  for (let off = 0; off < bytes.length; ) {
    const len = bytes.readUInt32LE(off);
    out.push(new Uint8Array(bytes.subarray(off, off + len)));
    off += (len + 3) & ~3;
  }
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const type = (b: Uint8Array) => b[4]! | (b[5]! << 8);
const seq = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(8, true);
const noAck = (b: Uint8Array) => {
  const c = new Uint8Array(b);
  c[6]! &= ~NLM_F_ACK;
  return c;
};

for (const f of [4, 6] as const) {
  test(`IPv${f}: the table, the chains and the three rules are the bytes iptables-nft-restore 1.8.9 sent`, (t) => {
    // the fixture was captured for this very input (the `:chain -` line creates it on a fresh node)
    t.true(renderRestore(changes(f)).includes(`:${CHAIN} -`));
    const theirs = captured(f);
    const plan = nftOpsOf(f, [{ op: 'create', table: 'nat', chain: CHAIN }, ...changes(f).slice(1)]);
    if (!plan) return t.fail('the masquerade rules are in the subset');
    const ops = plan(() => false);
    const family = f === 4 ? 2 : 10;
    // theirs, the repeated NEWTABLEs dropped: begin, table, chain, rule, rule, base chain, rule, end
    const wanted = theirs.filter((m, i) => type(m) !== 0x0a00 || i === 1);
    t.is(wanted.length, ops.length + 2);
    t.is(hex(batchBegin(seq(wanted[0]!), f === 4 ? 1 : 3)), hex(wanted[0]!));
    ops.forEach((op, i) => {
      const m = wanted[i + 1]!;
      t.is(hex(noAck(opMessage(family, 'nat', op, seq(m)))), hex(m), `op ${i} (${op.op})`);
    });
    t.is(hex(batchEnd(seq(wanted.at(-1)!))), hex(wanted.at(-1)!));
  });
}

test('with the base chain there, no table and no base chain are created', (t) => {
  const ops = nftOpsOf(4, [{ op: 'create', table: 'nat', chain: CHAIN }, ...changes(4).slice(1)])?.(() => true);
  t.deepEqual(
    ops?.map((o) => o.op),
    ['newChain', 'newRule', 'newRule', 'newRule'],
  );
});

test('address masks: byte-aligned ones compare whole bytes, others mask the whole address first', (t) => {
  const names = (spec: string[]) => xtExprs(4, spec, new Set())?.map((e) => e.expr);
  t.deepEqual(names(['-d', '10.22.0.0/16', '-j', 'ACCEPT']), ['payload', 'cmp', 'counter', 'accept']);
  t.deepEqual(names(['-d', '10.22.16.0/20', '-j', 'ACCEPT']), ['payload', 'bitwise', 'cmp', 'counter', 'accept']);
  const e = xtExprs(4, ['-s', '10.22.31.7/20', '-j', 'ACCEPT'], new Set());
  t.deepEqual(e?.[0], { expr: 'payload', base: 1, offset: 12, len: 4 });
  t.deepEqual(e?.[2], { expr: 'cmp', op: 'eq', data: Uint8Array.of(10, 22, 16, 0) });
});

test('outside the subset: no expressions (iptables-restore writes those)', (t) => {
  for (const spec of [
    ['-p', 'tcp', '-j', 'ACCEPT'],
    ['-d', '10.0.0.0/8'],
    ['-d', '0.0.0.0/0', '-j', 'ACCEPT'],
    ['-d', 'fd00::/8', '-j', 'ACCEPT'],
    ['-d', 'example.org', '-j', 'ACCEPT'],
    ['-j', 'DNAT', '--to-destination', '10.0.0.1'],
    ['-j', 'SOMECHAIN'],
    ['!', '-m', 'comment', '--comment', 'x', '-j', 'ACCEPT'],
    ['-m', 'comment', '--comment', 'x'.repeat(256), '-j', 'ACCEPT'],
  ])
    t.is(xtExprs(4, spec, new Set()), undefined, spec.join(' '));
  t.truthy(xtExprs(4, ['-m', 'comment', '--comment', 'x'.repeat(255), '-j', 'ACCEPT'], new Set()));
  t.is(nftOpsOf(4, [{ op: 'append', rule: rule('filter', 'FORWARD', '-j', 'ACCEPT') }]), undefined);
  t.is(nftOpsOf(4, [{ op: 'append', rule: rule('nat', 'PREROUTING', '-j', 'ACCEPT') }]), undefined);
  t.is(nftOpsOf(4, [{ op: 'delete', rule: rule('nat', 'POSTROUTING', '-j', 'ACCEPT') }]), undefined);
});
