// Writing nf_tables rules without a process: one NFNL_MSG_BATCH per transaction, as iptables-nft
// and nft send theirs. The messages are encoded here field by field as libnftnl lays them out
// (linux/netfilter/nf_tables.h; checked against bytes iptables-nft-restore 1.8.9 sent, in
// test/nf-write.test.ts). A transaction reads what it needs first (a chain's existence, the
// handles of the rules jumping somewhere) under the ruleset's generation id, and the batch names
// that generation: the kernel refuses it (ERESTART) when anything changed in between, and the
// whole transaction is read and planned again, as iptables-nft does. Only in Bun (bun:ffi).
import { Builder, F_ACK, F_CREATE, F_DUMP, F_EXCL, F_REQUEST, type Message, attrTextAt, errorOf } from './message.js';
import { type Rtnl, RtnlError, openNetlink } from './socket.js';

const NETLINK_NETFILTER = 12;
const SUBSYS = 10 << 8; // NFNL_SUBSYS_NFTABLES
const BATCH_BEGIN = 0x10;
const BATCH_END = 0x11;
const NFNL_BATCH_GENID = 1;
const MSG = { newTable: 0, newChain: 3, getChain: 4, delChain: 5, newRule: 6, getRule: 7, delRule: 8, getGen: 16 };
const F_APPEND = 0x800;
const F_NONREC = 0x100;
const ENOENT = 2;
const ERESTART = 85;
/** How often a transaction is planned again when the ruleset changed under it. */
const RETRIES = 5;

/** NFPROTO_* of the families iptables-nft writes. */
export const NFPROTO = { ip: 2, ip6: 10 } as const;
/** The nf_tables family of a transaction. */
export type NftFamily = keyof typeof NFPROTO;

/** One expression of a rule to write (the subset iptables-nft uses for the bridge's and portmap's rules). */
export type NftExprSpec =
  | { expr: 'payload'; base: number; offset: number; len: number }
  | { expr: 'meta'; key: number }
  | { expr: 'bitwise'; len: number; mask: Uint8Array; xor: Uint8Array }
  | { expr: 'cmp'; op: 'eq' | 'neq'; data: Uint8Array }
  | { expr: 'match' | 'target'; name: string; rev: number; info: Uint8Array }
  | { expr: 'counter' }
  | { expr: 'accept' }
  | { expr: 'drop' }
  | { expr: 'return' }
  | { expr: 'jump'; chain: string };

/** A base chain's hook, as a NEWCHAIN creating it names it. */
export interface NftHook {
  hook: number;
  priority: number;
  type: string;
  /** NF_ACCEPT (1) or NF_DROP (0). */
  policy: number;
}

/** One change of a batch, all in the transaction's table. */
export type NftOp =
  | { op: 'newTable' }
  | { op: 'newChain'; chain: string; base?: NftHook; excl?: boolean }
  | {
      op: 'newRule';
      chain: string;
      exprs: readonly NftExprSpec[];
      compat?: { proto: number; flags: number };
      /** At the chain's head (iptables' `-I chain 1`) instead of its end. */
      insert?: boolean;
    }
  | { op: 'delRule'; chain: string; handle: number }
  | { op: 'flush'; chain: string }
  | { op: 'delChain'; chain: string };

/** What a transaction's plan may ask of the kernel before its batch (under the same generation). */
export interface NftReader {
  /** True when the chain exists in the table (`table`: another table of the family; false also when the table does not). */
  chainExists(chain: string, table?: string): boolean;
  /** Handles of the rules of `chain` whose verdict jumps (or goes) to `target`, in order. */
  jumpsTo(chain: string, target: string): number[];
  /**
   * True when a rule of `chain` (in the transaction's table, or `table`) holds exactly these
   * expressions, as the kernel dumps them (a counter's values aside, an attribute the kernel
   * adds only with its default: see dumpedExprsMatch): what `iptables -C` answers
   * for a rule written in this encoding. A rule encoded otherwise (another iptables version)
   * does not count, so a caller that then reads the table with iptables-save loses nothing.
   */
  hasRule(chain: string, exprs: readonly NftExprSpec[], table?: string): boolean;
  /**
   * Every rule of the transaction's table (one dump): its chain and the text of its first xt
   * `comment` match, as iptables-save prints it after `--comment` (undefined: no comment match).
   */
  ruleComments(): Array<{ chain: string; comment?: string }>;
}

/** How a transaction ended: applied, nothing to do, or refused (nothing applied) at op `index`. */
export type NftOutcome = { ok: true } | { ok: false; index: number; errno: number; extack?: string };

/** nlmsghdr and nfgenmsg of an nf_tables message (version 0, res_id 0). */
function header(type: number, flags: number, seq: number, family: number, size = 1024): Builder {
  return new Builder(SUBSYS | type, flags, seq, size).u8(family).u8(0).u16(0);
}

/** NFNL_MSG_BATCH_BEGIN for the nftables subsystem, naming the generation the batch was planned on. */
export function batchBegin(seq: number, genid: number): Uint8Array {
  // nfgenmsg: AF_UNSPEC, version 0, res_id = NFNL_SUBSYS_NFTABLES (big-endian)
  return new Builder(BATCH_BEGIN, F_REQUEST, seq, 32)
    .u8(0)
    .u8(0)
    .u8(0)
    .u8(10)
    .attrU32be(NFNL_BATCH_GENID, genid)
    .done();
}

/** NFNL_MSG_BATCH_END. */
export function batchEnd(seq: number): Uint8Array {
  return new Builder(BATCH_END, F_REQUEST, seq, 32).u8(0).u8(0).u8(0).u8(10).done();
}

/** One op of a batch as its message (with NLM_F_ACK: the kernel answers every one). */
export function opMessage(family: number, table: string, op: NftOp, seq: number): Uint8Array {
  const f = F_REQUEST | F_ACK;
  switch (op.op) {
    case 'newTable':
      return header(MSG.newTable, f | F_CREATE, seq, family)
        .attrString(1, table)
        .done();
    case 'newChain': {
      const b = header(MSG.newChain, f | (op.base ? F_CREATE : op.excl ? F_EXCL : 0), seq, family)
        .attrString(1, table)
        .attrString(3, op.chain);
      const base = op.base;
      if (base) {
        const hook = b.open(4);
        b.attrU32be(1, base.hook).attrU32be(2, base.priority).close(hook);
        b.attrU32be(5, base.policy).attrString(7, base.type);
      }
      return b.done();
    }
    case 'newRule': {
      const b = header(MSG.newRule, f | F_CREATE | (op.insert ? 0 : F_APPEND), seq, family, 4096)
        .attrString(1, table)
        .attrString(2, op.chain);
      // the nests are opened and closed in place (no closure per expression: a rule's write is
      // on every portmap and bridge run, and what it makes counts towards JavaScriptCore's
      // warm-up threshold, docs/performance.md)
      const list = b.open(4);
      for (const e of op.exprs) {
        const x = b.open(1);
        expr(b, e);
        b.close(x);
      }
      b.close(list);
      const c = op.compat;
      if (c) {
        const compat = b.open(5);
        b.attrU32be(1, c.proto).attrU32be(2, c.flags).close(compat);
      }
      return b.done();
    }
    case 'delRule': {
      return header(MSG.delRule, f, seq, family)
        .attrString(1, table)
        .attrString(2, op.chain)
        .attrU64be(3, op.handle)
        .done();
    }
    case 'flush':
      return header(MSG.delRule, f, seq, family).attrString(1, table).attrString(2, op.chain).done();
    case 'delChain':
      return header(MSG.delChain, f | F_NONREC, seq, family)
        .attrString(1, table)
        .attrString(3, op.chain)
        .done();
  }
}

// NF_ACCEPT, NF_DROP, NFT_RETURN, NFT_JUMP
function verdictCode(v: 'accept' | 'drop' | 'return' | 'jump'): number {
  return v === 'accept' ? 1 : v === 'drop' ? 0 : v === 'return' ? -5 : -3;
}

// An NFTA_DATA_VALUE nested in attribute `type`.
function value(b: Builder, type: number, bytes: Uint8Array): Builder {
  const at = b.open(type);
  return b.attr(1, bytes).close(at);
}

// NFTA_EXPR_NAME, then NFTA_EXPR_DATA with the expression's attributes (registers: NFT_REG_1 = 1,
// the verdict register 0).
function expr(b: Builder, e: NftExprSpec): void {
  switch (e.expr) {
    case 'meta': {
      // NFTA_META_KEY before NFTA_META_DREG, as libnftnl writes them
      const d = b.attrString(1, 'meta').open(2);
      b.attrU32be(2, e.key).attrU32be(1, 1).close(d);
      return;
    }
    case 'payload': {
      const d = b.attrString(1, 'payload').open(2);
      b.attrU32be(1, 1).attrU32be(2, e.base).attrU32be(3, e.offset).attrU32be(4, e.len).close(d);
      return;
    }
    case 'bitwise': {
      const d = b.attrString(1, 'bitwise').open(2);
      b.attrU32be(1, 1).attrU32be(2, 1).attrU32be(3, e.len);
      value(b, 4, e.mask);
      value(b, 5, e.xor).close(d);
      return;
    }
    case 'cmp': {
      const d = b.attrString(1, 'cmp').open(2);
      b.attrU32be(1, 1).attrU32be(2, e.op === 'eq' ? 0 : 1);
      value(b, 3, e.data).close(d);
      return;
    }
    case 'match':
    case 'target': {
      const d = b.attrString(1, e.expr).open(2);
      b.attrString(1, e.name).attrU32be(2, e.rev).attr(3, e.info).close(d);
      return;
    }
    case 'counter': {
      const d = b.attrString(1, 'counter').open(2);
      b.attrU64be(1).attrU64be(2).close(d);
      return;
    }
    case 'accept':
    case 'drop':
    case 'return':
    case 'jump': {
      const d = b.attrString(1, 'immediate').open(2);
      const data = b.attrU32be(1, 0).open(2);
      const verdict = b.open(2);
      b.attrU32be(1, verdictCode(e.expr));
      if (e.expr === 'jump') b.attrString(2, e.chain);
      b.close(verdict).close(data).close(d);
      return;
    }
  }
}

function openNetfilter(): Rtnl | undefined {
  try {
    return openNetlink(NETLINK_NETFILTER) ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs one transaction on table `table` of `family` in our namespace: `plan` reads through the
 * reader and returns the ops (none: nothing to do), which go to the kernel in one batch. Planned
 * again when the ruleset changed between the reads and the batch. Undefined when it cannot tell
 * (no bun:ffi, no socket, a read refused, still changing after RETRIES plans): nothing was applied.
 */
export function nftTransaction(
  family: NftFamily,
  table: string,
  plan: (read: NftReader) => readonly NftOp[],
): NftOutcome | undefined {
  const sock = openNetfilter();
  if (!sock) return undefined;
  const fam = NFPROTO[family];
  try {
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      const genid = generation(sock);
      const ops = plan(reader(sock, fam, table));
      if (ops.length === 0) return { ok: true };
      const out = commit(sock, fam, table, ops, genid);
      if (!('restart' in out)) return out;
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    release(sock);
  }
}

// The sockets held by each open deferNfRelease, innermost last.
const holds: Rtnl[][] = [];

function release(sock: Rtnl): void {
  const hold = holds.at(-1);
  if (hold) hold.push(sock);
  else sock.close();
}

/**
 * Holds the nfnetlink sockets of the transactions run from now on open until the returned
 * function is called (then they are closed, in order; calling it again does nothing). Why: the
 * release of a NETLINK_NETFILTER socket makes nf_tables flush its netns's destroy work
 * (nft_rcv_nl_event), which after a transaction that deleted anything waits an RCU grace period
 * (docs/performance.md); held, that grace period runs while the caller waits on something else
 * (the bridge's DEL: the veth's deletion). What the transactions changed is in the kernel when
 * they return either way; only the sockets' release waits. Holds nest: an inner one's sockets
 * are closed at its own release. A socket of nfnetlink.ts' readers is not held.
 */
export function deferNfRelease(): () => void {
  const mine: Rtnl[] = [];
  holds.push(mine);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const at = holds.lastIndexOf(mine);
    if (at >= 0) holds.splice(at, 1);
    for (const sock of mine.splice(0)) sock.close();
  };
}

let seqs = 100;

function generation(sock: Rtnl): number {
  const [m] = sock.exchange({ msg: header(MSG.getGen, F_REQUEST, ++seqs, 0, 32).done(), answer: 'one' });
  const id = m ? attrOff(m.body, 4, m.body.byteLength, 1) : -1;
  if (id < 0 || m!.body.getUint16(id, true) < 8) throw new Error('no generation id');
  return m!.body.getUint32(id + 4, false);
}

function reader(sock: Rtnl, fam: number, table: string): NftReader {
  return {
    chainExists(chain, in_ = table) {
      const msg = header(MSG.getChain, F_REQUEST | F_ACK, ++seqs, fam)
        .attrString(1, in_)
        .attrString(3, chain)
        .done();
      try {
        sock.exchange({ msg, answer: 'one' });
        return true;
      } catch (e) {
        if (e instanceof RtnlError && e.errno === ENOENT) return false;
        throw e;
      }
    },
    jumpsTo(chain, target) {
      const handles: number[] = [];
      const jumpHandle = jumpHandleOf(target);
      for (const m of dumpRules(sock, fam, table, chain)) {
        const h = jumpHandle(m.body);
        if (h !== undefined) handles.push(h);
      }
      return handles;
    },
    ruleComments() {
      const msg = header(MSG.getRule, F_REQUEST | F_DUMP, ++seqs, fam)
        .attrString(1, table)
        .done();
      let rules: Message[] = [];
      try {
        rules = sock.exchange({ msg, answer: 'dump' });
      } catch (e) {
        if (!(e instanceof RtnlError && e.errno === ENOENT)) throw e;
      }
      return rules.map((m) => {
        const end = m.body.byteLength;
        const name = attrOff(m.body, 4, end, 2);
        const chain = name < 0 ? '' : textAt(m.body, name);
        const list = attrOff(m.body, 4, end, 4);
        const comment = list < 0 ? undefined : commentOf(m.body, list);
        return comment === undefined ? { chain } : { chain, comment };
      });
    },
    hasRule(chain, exprs, in_ = table) {
      const [ours, mine] = exprList(fam, in_, chain, exprs);
      const oEnd = mine + ours.getUint16(mine, true);
      return dumpRules(sock, fam, in_, chain).some((m) => {
        const list = attrOff(m.body, 4, m.body.byteLength, 4);
        return list >= 0 && sameExprs(m.body, list + 4, list + m.body.getUint16(list, true), ours, mine + 4, oEnd);
      });
    },
  };
}

// The text of the first xt comment match (struct xt_comment_info: up to 256 bytes, NUL-ended) of
// the NFTA_RULE_EXPRESSIONS list whose attribute header is at `list` of `v`.
function commentOf(v: DataView, list: number): string | undefined {
  const listEnd = list + v.getUint16(list, true);
  for (let e = list + 4; e + 4 <= listEnd; ) {
    const len = v.getUint16(e, true);
    if (len < 4 || e + len > listEnd) break;
    const eEnd = e + len;
    const at = e;
    e += (len + 3) & ~3;
    const name = attrOff(v, at + 4, eEnd, 1);
    if (name < 0 || !textIs(v, name, 'match')) continue;
    const data = attrOff(v, at + 4, eEnd, 2);
    if (data < 0) continue;
    const end = data + v.getUint16(data, true);
    const n = attrOff(v, data + 4, end, 1);
    if (n < 0 || !textIs(v, n, 'comment')) continue;
    const info = attrOff(v, data + 4, end, 3);
    if (info < 0) return undefined;
    return textAt(v, info);
  }
  return undefined;
}

// The rules of one chain, filtered by the kernel (none when the chain or table does not exist).
function dumpRules(sock: Rtnl, fam: number, table: string, chain: string): Message[] {
  const msg = header(MSG.getRule, F_REQUEST | F_DUMP, ++seqs, fam)
    .attrString(1, table)
    .attrString(2, chain)
    .done();
  try {
    return sock.exchange({ msg, answer: 'dump' });
  } catch (e) {
    if (e instanceof RtnlError && e.errno === ENOENT) return [];
    throw e;
  }
}

// The message of the rule we would write (its NFTA_RULE_EXPRESSIONS as the kernel dumps it back),
// as a view of its body and the list's header offset in it.
function exprList(fam: number, table: string, chain: string, exprs: readonly NftExprSpec[]): [DataView, number] {
  const msg = opMessage(fam, table, { op: 'newRule', chain, exprs }, 0);
  const body = new DataView(msg.buffer, msg.byteOffset + 16, msg.byteLength - 16);
  return [body, attrOff(body, 4, body.byteLength, 4)];
}

/**
 * Attributes the kernel dumps in an expression's NFTA_EXPR_DATA that iptables-nft (and our
 * encoder) never send, with the value the kernel gives them when they are absent: a dumped rule
 * holding one of these with exactly that value is the rule that was written without it. Linux's
 * nft_bitwise_dump (and nft_bitwise_fast_dump) put NFTA_BITWISE_OP (6) since 5.6, between
 * NFTA_BITWISE_LEN and NFTA_BITWISE_MASK; absent, nft_bitwise_init takes NFT_BITWISE_BOOL (0,
 * NFT_BITWISE_MASK_XOR in 6.13+). The other expressions of the subset (payload, meta, cmp,
 * immediate, counter, match, target) dump exactly what they were given (checked against rules
 * iptables-nft wrote, on kernel 6.18: test/nft-has-rule.test.ts in @cni-ts/iptables). A function,
 * not a table built at load: a run that reads no rule builds nothing (docs/performance.md).
 */
function kernelDefault(expr: string | undefined, type: number): Uint8Array | undefined {
  return expr === 'bitwise' && type === 6 ? new Uint8Array(4) : undefined;
}

/**
 * True when `kernel`, a rule's NFTA_RULE_EXPRESSIONS as the kernel dumps it (the attribute's
 * payload), holds exactly the expressions `exprs` as opMessage encodes them: the same
 * expressions in the same order, attribute for attribute and byte for byte, a counter's packets
 * and bytes aside, and an attribute the kernel adds only where it holds the default of what was
 * sent (kernelDefault). Any other difference, one byte or one attribute, is a different rule.
 */
export function dumpedExprsMatch(kernel: DataView, exprs: readonly NftExprSpec[]): boolean {
  const [ours, list] = exprList(NFPROTO.ip, 'x', 'x', exprs);
  return sameExprs(kernel, 0, kernel.byteLength, ours, list + 4, list + ours.getUint16(list, true));
}

// The elements of two NFTA_RULE_EXPRESSIONS lists (the kernel's in [ks, ke) of `kv`, ours in
// [os, oe) of `ov`), expression by expression. Attributes are named by their header's offset in
// their view: no view or array of bytes is made per attribute (each kind of object a run makes
// first costs it heap blocks: docs/performance.md, "portmap under JavaScriptCore's warm-up threshold").
function sameExprs(kv: DataView, ks: number, ke: number, ov: DataView, os: number, oe: number): boolean {
  const xs = elements(kv, ks, ke);
  const ys = elements(ov, os, oe);
  if (xs.length !== ys.length) return false;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    const y = ys[i]!;
    const xEnd = x + kv.getUint16(x, true);
    const yEnd = y + ov.getUint16(y, true);
    const yName = attrOff(ov, y + 4, yEnd, 1);
    const xName = attrOff(kv, x + 4, xEnd, 1);
    if (typeOf(kv, x) !== typeOf(ov, y) || yName < 0 || xName < 0) return false;
    const name = textAt(ov, yName);
    if (name !== textAt(kv, xName)) return false;
    // NFTA_EXPR_NAME and NFTA_EXPR_DATA; the data's members with the kernel's additions allowed
    const a = elements(kv, x + 4, xEnd);
    const b = elements(ov, y + 4, yEnd);
    if (a.length !== b.length) return false;
    for (let j = 0; j < a.length; j++) {
      const m = a[j]!;
      const same =
        typeOf(kv, m) === 2 && name === 'counter'
          ? typeOf(ov, b[j]!) === 2
          : sameAttr(kv, m, ov, b[j]!, typeOf(kv, m) === 2 ? name : undefined);
      if (!same) return false;
    }
  }
  return true;
}

const typeOf = (v: DataView, off: number) => v.getUint16(off + 2, true) & 0x3fff;

// One attribute, header included (at `k` of `kv`, `o` of `ov`): the same type, and the same
// members (a nest: the kernel dumps nests without NLA_F_NESTED, which we set) or the same length
// and bytes. `added`: the expression whose data this nest is, whose kernel defaults (kernelDefault)
// the kernel's nest may hold among its members where ours lacks them, each only with its value.
function sameAttr(kv: DataView, k: number, ov: DataView, o: number, added?: string): boolean {
  if (typeOf(kv, k) !== typeOf(ov, o)) return false;
  const kLen = kv.getUint16(k, true);
  const oLen = ov.getUint16(o, true);
  if (ov.getUint16(o + 2, true) & 0x8000) {
    const xs = elements(kv, k + 4, k + kLen);
    const ys = elements(ov, o + 4, o + oLen);
    let j = 0;
    const skipped: number[] = [];
    for (const x of xs) {
      const y = ys[j];
      if (y !== undefined && typeOf(kv, x) === typeOf(ov, y)) {
        if (!sameAttr(kv, x, ov, y)) return false;
        j++;
      } else if (
        isDefault(kv, x, added) &&
        !skipped.includes(typeOf(kv, x)) &&
        !ys.some((y2) => typeOf(ov, y2) === typeOf(kv, x))
      )
        skipped.push(typeOf(kv, x));
      else return false;
    }
    return j === ys.length;
  }
  if (kLen !== oLen) return false;
  for (let j = 4; j < oLen; j++) if (kv.getUint8(k + j) !== ov.getUint8(o + j)) return false;
  return true;
}

// True when the attribute at `a` of `v` is a kernel default of expression `added` holding its value.
function isDefault(v: DataView, a: number, added: string | undefined): boolean {
  const d = kernelDefault(added, typeOf(v, a));
  if (!d || v.getUint16(a, true) !== 4 + d.length) return false;
  for (let i = 0; i < d.length; i++) if (v.getUint8(a + 4 + i) !== d[i]) return false;
  return true;
}

// The header offsets of the attributes in [start, end) of `v`.
function elements(v: DataView, start: number, end: number): number[] {
  const out: number[] = [];
  for (let off = start; off + 4 <= end; ) {
    const len = v.getUint16(off, true);
    if (len < 4 || off + len > end) break;
    out.push(off);
    off += (len + 3) & ~3;
  }
  return out;
}

// Sends the batch and reads one answer per op (acks come after the whole batch ran, in order);
// the first error names the op that failed. ERESTART on the batch itself: the generation moved.
function commit(
  sock: Rtnl,
  fam: number,
  table: string,
  ops: readonly NftOp[],
  genid: number,
): NftOutcome | { restart: true } {
  const first = ++seqs;
  const parts = [batchBegin(first, genid), ...ops.map((op, i) => opMessage(fam, table, op, first + 1 + i))];
  seqs += ops.length + 1;
  parts.push(batchEnd(seqs));
  const msg = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    msg.set(p, at);
    at += p.length;
  }
  const last = first + ops.length;
  let out: NftOutcome | { restart: true } | undefined;
  sock.talk(msg, (m) => {
    if (m.type !== 2 || m.seq < first || m.seq > seqs) return false;
    const { errno, extack } = errorOf(m);
    if (m.seq === first || m.seq === seqs) {
      out = errno === ERESTART ? { restart: true } : { ok: false, index: -1, errno, ...(extack ? { extack } : {}) };
      return true;
    }
    if (errno !== 0 && !out) out = { ok: false, index: m.seq - first - 1, errno, ...(extack ? { extack } : {}) };
    if (m.seq !== last) return false;
    out ??= { ok: true };
    return true;
  });
  return out ?? { ok: false, index: -1, errno: 0 };
}

// The header offset of the attribute of `type` among those in [start, end) of `v`, or -1 (no view
// per attribute, no map: a dump of a long chain runs this per rule).
function attrOff(v: DataView, start: number, end: number, type: number): number {
  for (let off = start; off + 4 <= end; ) {
    const len = v.getUint16(off, true);
    if (len < 4 || off + len > end) return -1;
    if ((v.getUint16(off + 2, true) & 0x3fff) === type) return off;
    off += (len + 3) & ~3;
  }
  return -1;
}

// True when the string attribute at header offset `off` reads `want` (plain ASCII, no NUL) up to its
// NUL (attrText's reading), comparing bytes with the string's codes: no encoding made.
function textIs(v: DataView, off: number, want: string): boolean {
  const n = v.getUint16(off, true) - 4;
  if (n < want.length || (n > want.length && v.getUint8(off + 4 + want.length) !== 0)) return false;
  for (let i = 0; i < want.length; i++) if (v.getUint8(off + 4 + i) !== want.charCodeAt(i)) return false;
  return true;
}

// The text of the string attribute at header offset `off` of `v`.
const textAt = (v: DataView, off: number) => attrTextAt(v, off + 4, v.getUint16(off, true) - 4);

/**
 * The handle of a rule message (its body after nlmsghdr) when its last expression is an immediate
 * verdict jumping or going to `target` (iptables-nft puts the target last), else undefined. The
 * expression's name and the verdict's chain are compared as bytes against the encoded `immediate`
 * and `target`: a dump of POSTROUTING on a node with many pods decodes nothing for the rules that
 * jump elsewhere. A target that is not plain ASCII (or holds a NUL) is compared as decoded text.
 */
export function jumpHandleOf(target: string): (body: DataView) => number | undefined {
  let ascii = true;
  for (let i = 0; i < target.length; i++) if (target.charCodeAt(i) === 0 || target.charCodeAt(i) > 0x7f) ascii = false;
  return (body) => {
    const end = body.byteLength;
    const list = attrOff(body, 4, end, 4);
    if (list < 0) return undefined;
    const listEnd = list + body.getUint16(list, true);
    let last = -1;
    for (let off = list + 4; off + 4 <= listEnd; ) {
      const len = body.getUint16(off, true);
      if (len < 4 || off + len > listEnd) return undefined;
      last = off;
      off += (len + 3) & ~3;
    }
    if (last < 0) return undefined;
    const lastEnd = last + body.getUint16(last, true);
    const name = attrOff(body, last + 4, lastEnd, 1);
    if (name < 0 || !textIs(body, name, 'immediate')) return undefined;
    const verdict = inner(body, inner(body, attrOff(body, last + 4, lastEnd, 2), 2), 2);
    if (verdict < 0) return undefined;
    const verdictEnd = verdict + body.getUint16(verdict, true);
    const code = attrOff(body, verdict + 4, verdictEnd, 1);
    if (code < 0 || body.getUint16(code, true) < 8) return undefined;
    const c = body.getInt32(code + 4, false);
    if (c !== -3 && c !== -4) return undefined;
    const chain = attrOff(body, verdict + 4, verdictEnd, 2);
    if (chain < 0) return undefined;
    const hit = ascii ? textIs(body, chain, target) : textAt(body, chain) === target;
    if (!hit) return undefined;
    const handle = attrOff(body, 4, end, 3);
    return handle >= 0 && body.getUint16(handle, true) >= 12
      ? body.getUint32(handle + 4, false) * 0x1_0000_0000 + body.getUint32(handle + 8, false)
      : undefined;
  };
}

// The attribute of `type` inside the nest at header offset `off` (-1: none, or no nest).
function inner(v: DataView, off: number, type: number): number {
  return off < 0 ? -1 : attrOff(v, off + 4, off + v.getUint16(off, true), type);
}
