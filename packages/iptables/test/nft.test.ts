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
import {
  type Change,
  type Family,
  type TableName,
  nftOpsOf,
  planNft,
  renderRestore,
  rule,
  ruleExprs,
  splitArgs,
  xtExprs,
} from '../src/index.js';

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

function captured(f: Family, name = 'masq'): Uint8Array[] {
  const hex = readFileSync(new URL(`../../test/fixtures/restore-${name}-ipv${f}.hex`, import.meta.url), 'utf8');
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
    ['!', '-p', 'tcp', '-j', 'ACCEPT'],
    ['-p', 'sctp', '-j', 'ACCEPT'],
    ['-m', 'tcp', '--dport', '80', '-j', 'ACCEPT'],
    ['-p', 'tcp', '-m', 'tcp', '--sport', '80', '-j', 'ACCEPT'],
    ['-p', 'tcp', '-m', 'tcp', '--dport', '80:90', '-j', 'ACCEPT'],
    ['-p', 'tcp', '-m', 'udp', '--dport', '80', '-j', 'ACCEPT'],
    ['-p', 'tcp', '-m', 'multiport', '--dports', '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16', '-j', 'ACCEPT'],
    ['-p', 'tcp', '-m', 'multiport', '--dports', '80:90', '-j', 'ACCEPT'],
    ['-m', 'multiport', '--dports', '80', '-j', 'ACCEPT'],
    ['-m', 'addrtype', '--dst-type', 'BROADCAST', '-j', 'ACCEPT'],
    ['-m', 'addrtype', '!', '--dst-type', 'LOCAL', '-j', 'ACCEPT'],
    ['-m', 'mark', '!', '--mark', '0x1', '-j', 'ACCEPT'],
    ['-m', 'conntrack', '--ctstate', 'BOGUS', '-j', 'ACCEPT'],
    ['-i', 'eth+', '-j', 'ACCEPT'],
    ['-j', 'DNAT', '--to-destination', '10.0.0.1:80-90'],
    ['-j', 'DNAT', '--to-destination', '[fd00::1]:80'],
    ['-j', 'MARK', '--set-mark', '0x1'],
    ['-j', 'LOG'],
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

// A restore input as the changes it stands for, one list per table section (in order).
function sections(text: string): Array<{ table: TableName; changes: Change[] }> {
  const out: Array<{ table: TableName; changes: Change[] }> = [];
  let cur: { table: TableName; changes: Change[] } | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) out.push((cur = { table: line.slice(1) as TableName, changes: [] }));
    if (!cur || !/^[-:]/.test(line)) continue;
    const [op, chain, ...rest] = line.startsWith(':') ? ['-N', line.slice(1).split(' ')[0]!] : splitArgs(line);
    const t = cur.table;
    if (op === '-N') cur.changes.push({ op: 'create', table: t, chain: chain! });
    else if (op === '-F') cur.changes.push({ op: 'flush', table: t, chain: chain! });
    else if (op === '-A') cur.changes.push({ op: 'append', rule: rule(t, chain!, ...rest) });
    else if (op === '-C') cur.changes.push({ op: 'check', rule: rule(t, chain!, ...rest) });
    else if (op === '-I' && rest[0] === '1')
      cur.changes.push({ op: 'insert', rule: rule(t, chain!, ...rest.slice(1)), position: 1 });
    else throw new Error(`not in the test's parser: ${line}`);
  }
  return out;
}

// The captured messages, one list per NFNL batch.
function batches(messages: Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (const m of messages)
    if (type(m) === 0x10) out.push([m]);
    else out.at(-1)!.push(m);
  return out;
}

// portmap's batches (the fixtures' inputs are what its planner writes: its tests compare them),
// and more of the subset; `exists`: the base chains the node had when the batch was captured.
const CAPTURES: Array<{ name: string; f: Family; exists: boolean; note: string }> = [
  {
    name: 'portmap-setup',
    f: 4,
    exists: false,
    note: 'a fresh node: shared chains, entries, the pod (TCP, UDP, a host IP), the 127/8 guard',
  },
  { name: 'portmap-setup', f: 6, exists: false, note: 'a fresh node, IPv6' },
  {
    name: 'portmap-create',
    f: 4,
    exists: true,
    note: "a second pod, planned without reading: the probes dropped, the guard's rules checked",
  },
  { name: 'portmap-create', f: 6, exists: true, note: 'a second pod, IPv6' },
  { name: 'misc', f: 4, exists: true, note: '-o, ! -o, conntrack states, mark with and without a mask, RETURN, DROP' },
];

for (const c of CAPTURES) {
  test(`IPv${c.f} ${c.name}: every batch is the bytes iptables-nft-restore 1.8.9 sent (${c.note})`, (t) => {
    const input = readFileSync(new URL(`../../test/fixtures/restore-${c.name}-ipv${c.f}.txt`, import.meta.url), 'utf8');
    const theirs = batches(captured(c.f, c.name));
    const ours = sections(input);
    t.is(theirs.length, ours.length, 'one batch per table section');
    for (const [b, sec] of ours.entries()) {
      const batch = theirs[b]!;
      const writes = sec.changes.filter((ch) => ch.op !== 'check');
      if (writes.length === 0) {
        // a section of checks only: iptables-nft sends an empty batch, we send none
        t.is(batch.length, 2, `batch ${b}: empty`);
        continue;
      }
      const plan = planNft(c.f, sec.changes);
      if (!plan) {
        t.fail(`batch ${b}: outside the subset`);
        continue;
      }
      const ops = plan.ops(() => c.exists);
      // theirs, the repeated NEWTABLEs dropped (iptables-nft names the table before every op)
      const wanted = batch.filter((m, i) => type(m) !== 0x0a00 || i === 1);
      t.is(wanted.length, ops.length + 2, `batch ${b}: as many messages`);
      const genid = new DataView(wanted[0]!.buffer, wanted[0]!.byteOffset).getUint32(24, false);
      t.is(hex(batchBegin(seq(wanted[0]!), genid)), hex(wanted[0]!));
      const family = c.f === 4 ? 2 : 10;
      ops.forEach((op, i) => {
        const m = wanted[i + 1]!;
        t.is(hex(noAck(opMessage(family, sec.table, op, seq(m)))), hex(m), `batch ${b} op ${i} (${op.op})`);
      });
      t.is(hex(batchEnd(seq(wanted.at(-1)!))), hex(wanted.at(-1)!));
    }
  });
}

test("ADD without reading: the probes become required chains, the checks are the guard's rules as setup wrote them", (t) => {
  const read = (n: string) =>
    readFileSync(new URL(`../../test/fixtures/restore-portmap-${n}-ipv4.txt`, import.meta.url), 'utf8');
  const [filter, nat] = sections(read('create'));
  const plan = planNft(4, [...filter!.changes, ...nat!.changes]);
  if (!plan) return t.fail('portmap ADD is in the subset');
  t.deepEqual(plan.needs.chains, ['CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK']);
  t.deepEqual(
    plan.needs.rules.map((r) => `${r.table} ${r.chain}`),
    ['filter INPUT', 'filter CNI-HOSTPORT-LOCALNET'],
  );
  // the rules checked are, expression for expression, the ones the fresh node's batch wrote
  const setupFilter = sections(read('setup')).find((s) => s.table === 'filter')!;
  const written = planNft(4, setupFilter.changes)!
    .ops(() => false)
    .flatMap((op) => (op.op === 'newRule' ? [op] : []));
  for (const r of plan.needs.rules) {
    const w = written.find((op) => op.chain === r.chain);
    t.deepEqual(w?.exprs, r.exprs, r.chain);
  }
  t.is(plan.ops(() => true)[0]?.op, 'newChain');
});

test('a flush is only of a chain the batch created, after probes only; a check needs a table of ours', (t) => {
  const c: Change = { op: 'create', table: 'nat', chain: 'CNI-DN-x' };
  const probe: Change = { op: 'append', rule: rule('nat', 'CNI-DN-x', '-j', 'CNI-HOSTPORT-MASQ') };
  t.truthy(planNft(4, [c, probe, { op: 'flush', table: 'nat', chain: 'CNI-DN-x' }]));
  t.is(planNft(4, [{ op: 'flush', table: 'nat', chain: 'CNI-DN-x' }]), undefined);
  const real: Change = { op: 'append', rule: rule('nat', 'CNI-DN-x', '-p', 'tcp', '-j', 'CNI-HOSTPORT-MASQ') };
  t.is(planNft(4, [c, real, { op: 'flush', table: 'nat', chain: 'CNI-DN-x' }]), undefined);
  t.is(planNft(4, [c, { op: 'check', rule: rule('mangle', 'PREROUTING', '-j', 'ACCEPT') }]), undefined);
  t.is(planNft(4, [c, { op: 'insert', rule: rule('nat', 'POSTROUTING', '-j', 'ACCEPT'), position: 2 }]), undefined);
  t.is(planNft(4, [c, { op: 'create', table: 'nat', chain: 'POSTROUTING' }]), undefined);
});

test('jumps: to chains the caller names or with a dash in their name; other names may be xtables targets', (t) => {
  t.deepEqual(ruleExprs(4, ['-j', 'KUBE-MARK-MASQ'], new Set())?.exprs.at(-1), {
    expr: 'jump',
    chain: 'KUBE-MARK-MASQ',
  });
  t.deepEqual(ruleExprs(4, ['-j', 'MYCHAIN'], new Set(['MYCHAIN']))?.exprs.at(-1), { expr: 'jump', chain: 'MYCHAIN' });
  t.is(ruleExprs(4, ['-j', 'MYCHAIN'], new Set()), undefined);
  t.is(ruleExprs(4, ['-j', 'CT'], new Set()), undefined);
  t.is(ruleExprs(4, ['-p', 'udp', '-j', 'ACCEPT'], new Set())?.proto, 17);
});
