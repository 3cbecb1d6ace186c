// dumpedExprsMatch, the comparison behind the nfnetlink reader's hasRule, on rule dumps laid out
// here as the kernel lays them out (nests without NLA_F_NESTED, a bitwise with NFTA_BITWISE_OP
// between LEN and MASK, as Linux >= 5.6 dumps it): what the kernel adds is tolerated only with the
// value it takes when the attribute is absent; anything else that differs is another rule. The
// kernel's own dumps of rules iptables-nft wrote are compared in @cni-ts/iptables'
// test/nft-has-rule.test.ts.
import test from 'ava';
import { type NftExprSpec, dumpedExprsMatch, opMessage } from '../src/index.js';

type Node = { type: number; kids?: Node[]; bytes?: Uint8Array };

// An attribute list parsed back into a tree (nests are the attributes with NLA_F_NESTED, as we write them).
function parse(v: DataView): Node[] {
  const out: Node[] = [];
  for (let off = 0; off + 4 <= v.byteLength; ) {
    const len = v.getUint16(off, true);
    const type = v.getUint16(off + 2, true);
    const body = new DataView(v.buffer, v.byteOffset + off + 4, len - 4);
    out.push(
      type & 0x8000
        ? { type: type & 0x3fff, kids: parse(body) }
        : { type, bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength).slice() },
    );
    off += (len + 3) & ~3;
  }
  return out;
}

// The tree as the kernel dumps it: no NLA_F_NESTED.
function serialize(nodes: readonly Node[]): Uint8Array {
  const parts = nodes.map((n) => {
    const body = n.kids ? serialize(n.kids) : n.bytes!;
    const out = new Uint8Array((4 + body.length + 3) & ~3);
    const v = new DataView(out.buffer);
    v.setUint16(0, 4 + body.length, true);
    v.setUint16(2, n.type, true);
    out.set(body, 4);
    return out;
  });
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

// Our NFTA_RULE_EXPRESSIONS for `exprs`, as a tree of its elements.
function ours(exprs: readonly NftExprSpec[]): Node[] {
  const msg = opMessage(2, 'nat', { op: 'newRule', chain: 'X', exprs }, 1);
  const rule = parse(new DataView(msg.buffer, msg.byteOffset + 20, msg.byteLength - 20));
  return rule.find((n) => n.type === 4)!.kids!;
}

const be32 = (v: number) => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

// `-d 10.22.0.0/20 -j ACCEPT` as we encode it
const MASKED: NftExprSpec[] = [
  { expr: 'payload', base: 1, offset: 16, len: 4 },
  { expr: 'bitwise', len: 4, mask: Uint8Array.of(255, 255, 240, 0), xor: new Uint8Array(4) },
  { expr: 'cmp', op: 'eq', data: Uint8Array.of(10, 22, 0, 0) },
  { expr: 'counter' },
  { expr: 'accept' },
];

// The element `at`'s NFTA_EXPR_DATA members changed by `edit`.
function kernelDump(exprs: readonly NftExprSpec[], at: number, edit: (data: Node[]) => Node[]): DataView {
  const list = ours(exprs);
  const el = list[at]!;
  const data = el.kids!.find((n) => n.type === 2)!;
  data.kids = edit(data.kids!);
  return view(serialize(list));
}

// NFTA_BITWISE_OP after NFTA_BITWISE_LEN, as nft_bitwise_dump puts it
const withOp = (op: number) => (d: Node[]) => [...d.slice(0, 3), { type: 6, bytes: be32(op) }, ...d.slice(3)];

test('our own encoding, dumped without NLA_F_NESTED, matches', (t) => {
  t.true(
    dumpedExprsMatch(
      kernelDump(MASKED, 1, (d) => d),
      MASKED,
    ),
  );
});

test('a bitwise dumped with NFTA_BITWISE_OP = NFT_BITWISE_BOOL (the default of one sent without it) matches', (t) => {
  t.true(dumpedExprsMatch(kernelDump(MASKED, 1, withOp(0)), MASKED));
  // wherever the kernel puts it among the members
  t.true(
    dumpedExprsMatch(
      kernelDump(MASKED, 1, (d) => [...d, { type: 6, bytes: be32(0) }]),
      MASKED,
    ),
  );
});

test('a bitwise with another op (a shift), or the op twice, is another rule', (t) => {
  t.false(dumpedExprsMatch(kernelDump(MASKED, 1, withOp(1)), MASKED));
  t.false(dumpedExprsMatch(kernelDump(MASKED, 1, withOp(2)), MASKED));
  t.false(
    dumpedExprsMatch(
      kernelDump(MASKED, 1, (d) => [...withOp(0)(d), { type: 6, bytes: be32(0) }]),
      MASKED,
    ),
  );
  // the op with a value of another length
  t.false(
    dumpedExprsMatch(
      kernelDump(MASKED, 1, (d) => [...d, { type: 6, bytes: new Uint8Array(8) }]),
      MASKED,
    ),
  );
});

test('the tolerance is the bitwise op only: the same attribute in another expression, or another attribute, is another rule', (t) => {
  t.false(
    dumpedExprsMatch(
      kernelDump(MASKED, 2, (d) => [...d, { type: 6, bytes: be32(0) }]),
      MASKED,
    ),
  );
  t.false(
    dumpedExprsMatch(
      kernelDump(MASKED, 1, (d) => [...d, { type: 7, bytes: be32(0) }]),
      MASKED,
    ),
  );
  t.false(
    dumpedExprsMatch(
      kernelDump(MASKED, 0, (d) => [...d, { type: 5, bytes: be32(0) }]),
      MASKED,
    ),
  );
});

test('a masked rule differing in its mask, its xor or a member left out is another rule, with the op or without', (t) => {
  for (const op of [undefined, 0]) {
    const add = op === undefined ? (d: Node[]) => d : withOp(op);
    const mask = (d: Node[]) =>
      add(d.map((n) => (n.type === 4 ? { type: 4, kids: [{ type: 1, bytes: Uint8Array.of(255, 255, 248, 0) }] } : n)));
    const xor = (d: Node[]) =>
      add(d.map((n) => (n.type === 5 ? { type: 5, kids: [{ type: 1, bytes: Uint8Array.of(0, 0, 0, 1) }] } : n)));
    t.false(dumpedExprsMatch(kernelDump(MASKED, 1, mask), MASKED));
    t.false(dumpedExprsMatch(kernelDump(MASKED, 1, xor), MASKED));
    t.false(
      dumpedExprsMatch(
        kernelDump(MASKED, 1, (d) => add(d.filter((n) => n.type !== 5))),
        MASKED,
      ),
    );
  }
});

test("a counter's packets and bytes do not count; its name does", (t) => {
  const counted = kernelDump(MASKED, 3, () => [
    { type: 1, bytes: Uint8Array.of(0, 0, 0, 0, 0, 0, 1, 0) },
    { type: 2, bytes: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 3) },
  ]);
  t.true(dumpedExprsMatch(counted, MASKED));
  const other: NftExprSpec[] = [...MASKED.slice(0, 3), { expr: 'meta', key: 3 }, { expr: 'accept' }];
  t.false(dumpedExprsMatch(counted, other));
});
