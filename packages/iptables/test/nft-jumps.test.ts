// Which POSTROUTING rules the bridge's DEL deletes on an iptables-nft node: jumpHandleOf reads a
// dumped rule's bytes (the jump's immediate verdict and chain name compared as bytes). The rules
// here are laid out as the kernel dumps them (table, chain, handle, expressions, userdata), the
// expressions being the ones we write for `-s 10.22.0.5/32 -m comment --comment ... -j CNI-...`.
import test from 'ava';
import { jumpHandleOf, opMessage } from '@cni-ts/process';
import { xtExprs } from '../src/index.js';

const CHAIN = 'CNI-aaaabbbbccccddddeeeeffff';
const utf8 = (s: string) => new TextEncoder().encode(s);
const cat = (...xs: Uint8Array[]) => {
  const out = new Uint8Array(xs.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of xs) {
    out.set(x, at);
    at += x.length;
  }
  return out;
};
function attr(type: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array((4 + data.length + 3) & ~3);
  new DataView(out.buffer).setUint16(0, 4 + data.length, true);
  new DataView(out.buffer).setUint16(2, type, true);
  out.set(data, 4);
  return out;
}
const str = (s: string) => cat(utf8(s), new Uint8Array(1));
const be32 = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, false);
  return b;
};
const be64 = (v: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), false);
  return b;
};

// The NFTA_RULE_EXPRESSIONS elements (with headers) of the POSTROUTING rule we write, jumping to `chain`.
function ourElements(chain: string, comment = 'name: "mynet" id: "abc"'): Uint8Array[] {
  const exprs = xtExprs(
    4,
    ['-s', '10.22.0.5/32', '-m', 'comment', '--comment', comment, '-j', chain],
    new Set([chain]),
  );
  if (!exprs) throw new Error('not in the subset');
  const msg = opMessage(2, 'nat', { op: 'newRule', chain: 'POSTROUTING', exprs }, 1);
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const out: Uint8Array[] = [];
  for (let off = 20; off < msg.length; ) {
    const len = v.getUint16(off, true);
    if ((v.getUint16(off + 2, true) & 0x3fff) === 4) {
      for (let e = off + 4; e < off + len; ) {
        const el = v.getUint16(e, true);
        out.push(msg.slice(e, e + ((el + 3) & ~3)));
        e += (el + 3) & ~3;
      }
    }
    off += (len + 3) & ~3;
  }
  return out;
}

// An immediate expression (NFTA_LIST_ELEM) with a verdict `code` and optionally a chain.
function immediate(code: number, chain?: Uint8Array, name = 'immediate'): Uint8Array {
  const verdict = cat(attr(1, be32(code)), chain ? attr(2, chain) : new Uint8Array());
  return attr(1, cat(attr(1, str(name)), attr(2, cat(attr(1, be32(0)), attr(2, attr(2, verdict))))));
}

// A rule as dumped: nfgenmsg, table, chain, handle, expressions, userdata (iptables-nft's comment).
function dumped(handle: number, elements: Uint8Array[], userdata = str('x')): DataView {
  const body = cat(
    new Uint8Array([2, 0, 0, 0]),
    attr(1, str('nat')),
    attr(2, str('POSTROUTING')),
    attr(3, be64(handle)),
    attr(4, cat(...elements)),
    attr(7, userdata),
  );
  return new DataView(body.buffer);
}

const ours = ourElements(CHAIN);
const head = ours.slice(0, -1);

test('the rule we write jumping to our chain: its handle (the jump is the immediate we encode)', (t) => {
  t.is(jumpHandleOf(CHAIN)(dumped(4242, ours)), 4242);
  // the jump as the kernel dumps it (no NLA_F_NESTED on the nests, which opMessage sets)
  t.is(jumpHandleOf(CHAIN)(dumped(4243, [...head, immediate(-3, str(CHAIN))])), 4243);
  t.is(jumpHandleOf(CHAIN)(dumped(2 ** 40 + 7, [...head, immediate(-4, str(CHAIN))])), 2 ** 40 + 7, 'goto');
});

test('wrong matches: other chains, prefixes, other verdicts, no immediate, not last, truncated', (t) => {
  const find = jumpHandleOf(CHAIN);
  const cases: [string, Uint8Array[]][] = [
    ['a chain whose name has ours as a prefix', ourElements(`${CHAIN}x`)],
    ['a chain that is a prefix of ours', ourElements(CHAIN.slice(0, -1))],
    ['another CNI chain', ourElements('CNI-000011112222333344445555')],
    ['our name without its NUL, longer payload', [...head, immediate(-3, cat(utf8(CHAIN), utf8('y')))]],
    ['accept', [...head, immediate(1, str(CHAIN))]],
    ['return', [...head, immediate(-5, str(CHAIN))]],
    ['no chain attribute', [...head, immediate(-3)]],
    ['another expression named like a prefix of immediate', [...head, immediate(-3, str(CHAIN), 'immediat')]],
    ['another expression named with immediate as a prefix', [...head, immediate(-3, str(CHAIN), 'immediatex')]],
    ['the jump not last', [...head, immediate(-3, str(CHAIN)), ...head.slice(0, 1)]],
    ['no expressions', []],
    ['no immediate at all', head],
  ];
  for (const [what, els] of cases) t.is(find(dumped(7, els)), undefined, what);
  // a truncated last element (length past the list's end)
  const cut = immediate(-3, str(CHAIN));
  new DataView(cut.buffer).setUint16(0, cut.length + 8, true);
  t.is(find(dumped(7, [...head, cut])), undefined, 'truncated');
  // no handle
  const body = cat(new Uint8Array([2, 0, 0, 0]), attr(4, cat(...ours)));
  t.is(find(new DataView(body.buffer)), undefined, 'no handle');
});

test('a jump to our chain is ours whatever its comment (DEL cleans after a config change)', (t) => {
  const find = jumpHandleOf(CHAIN);
  t.is(find(dumped(9, ourElements(CHAIN, 'name: "other" id: "zzz"'), str('another comment'))), 9);
  t.is(find(dumped(9, ourElements(CHAIN.slice(0, -1), 'name: "mynet" id: "abc"'))), undefined);
});

test('a NUL or non-ASCII target compares as decoded text, as before', (t) => {
  t.is(jumpHandleOf(`${CHAIN}\0`)(dumped(3, ours)), undefined, 'the NUL ends the dumped name');
  t.is(jumpHandleOf('CNI-é')(dumped(3, [...head, immediate(-3, str('CNI-é'))])), 3);
  t.is(jumpHandleOf('CNI-é')(dumped(3, [...head, immediate(-3, str('CNI-e'))])), undefined);
});

// The reading before the byte comparison (every rule's names decoded), as the oracle.
function decoded(body: DataView, target: string): number | undefined {
  const at = (v: DataView, type: number): DataView | undefined => {
    for (let off = 0; off + 4 <= v.byteLength; ) {
      const len = v.getUint16(off, true);
      if (len < 4 || off + len > v.byteLength) return undefined;
      if ((v.getUint16(off + 2, true) & 0x3fff) === type)
        return new DataView(v.buffer, v.byteOffset + off + 4, len - 4);
      off += (len + 3) & ~3;
    }
    return undefined;
  };
  const text = (v: DataView | undefined) => {
    if (!v) return undefined;
    const b = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    const nul = b.indexOf(0);
    return new TextDecoder().decode(nul < 0 ? b : b.subarray(0, nul));
  };
  const list = at(new DataView(body.buffer, body.byteOffset + 4, body.byteLength - 4), 4);
  if (!list) return undefined;
  let last: DataView | undefined;
  for (let off = 0; off + 4 <= list.byteLength; ) {
    const len = list.getUint16(off, true);
    if (len < 4 || off + len > list.byteLength) return undefined;
    last = new DataView(list.buffer, list.byteOffset + off + 4, len - 4);
    off += (len + 3) & ~3;
  }
  if (!last || text(at(last, 1)) !== 'immediate') return undefined;
  const data = at(last, 2);
  const value = data && at(data, 2);
  const verdict = value && at(value, 2);
  const code = verdict && at(verdict, 1);
  if (!code || code.byteLength < 4) return undefined;
  const c = code.getInt32(0, false);
  if ((c !== -3 && c !== -4) || text(at(verdict, 2)) !== target) return undefined;
  const handle = at(new DataView(body.buffer, body.byteOffset + 4, body.byteLength - 4), 3);
  return handle && handle.byteLength >= 8 ? Number(handle.getBigUint64(0, false)) : undefined;
}

test('every byte of a dumped jump altered: the same answer as decoding every name', (t) => {
  const find = jumpHandleOf(CHAIN);
  let differ = 0;
  let found = 0;
  let tried = 0;
  for (const base of [dumped(77, ours), dumped(78, [...head, immediate(-3, str(CHAIN))])]) {
    const bytes = new Uint8Array(base.buffer);
    tried += bytes.length * 8;
    for (let i = 0; i < bytes.length; i++) {
      for (const v of [0, 1, 0x41, 0x7f, 0x80, 0xff, bytes[i]! ^ 1, bytes[i]! + 4]) {
        const copy = bytes.slice();
        copy[i] = v & 0xff;
        const body = new DataView(copy.buffer);
        const want = decoded(body, CHAIN);
        if (want !== undefined) found++;
        if (find(body) !== want) differ++;
      }
    }
  }
  t.is(differ, 0);
  t.true(found > 0 && found < tried, 'some alterations keep the match, others break it');
});
