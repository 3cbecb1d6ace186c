// Whether an nftables table exists, asked of the kernel in one nfnetlink request (NFT_MSG_GETTABLE
// by name) instead of an `nft -j list` process: a DEL that finds no table of the other
// masquerade backend has nothing to list (docs/performance.md); and the rules of named chains
// (NFT_MSG_GETRULE, a dump the kernel filters by table and chain). Only in Bun (bun:ffi).
import { Builder, F_ACK, F_DUMP, F_REQUEST, type Message, attrBytes, attrText, attrs } from './message.js';
import { type Rtnl, RtnlError, openNetlink } from './socket.js';

const NETLINK_NETFILTER = 12;
const NFT_MSG_GETTABLE = (10 << 8) | 1; // NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETTABLE
const NFTA_TABLE_NAME = 1;
const ENOENT = 2;
/** nft's family words and their NFPROTO_* numbers. */
/** A NETLINK_NETFILTER socket in our namespace, or undefined when there is none to be had (no bun:ffi, refused). */
function openNetfilter(): Rtnl | undefined {
  try {
    return openNetlink(NETLINK_NETFILTER) ?? undefined;
  } catch {
    return undefined;
  }
}

function families(): Readonly<Record<string, number>> {
  return { inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 };
}

/**
 * True when table `name` of `family` (nft's word: "inet", "ip", …) exists in our namespace, false
 * when the kernel says it does not; undefined when it cannot tell (no bun:ffi, an unknown family,
 * nf_tables refusing the request for any other reason): then the caller asks `nft`.
 */
export function nftTableExists(family: string, name: string): boolean | undefined {
  const fam = families()[family];
  if (fam === undefined || name === '' || name.length > 255) return undefined;
  const sock = openNetfilter();
  if (!sock) return undefined;
  try {
    // nfgenmsg: family, version 0, res_id 0 (big-endian; zero either way)
    const msg = new Builder(NFT_MSG_GETTABLE, F_REQUEST | F_ACK, 1)
      .u8(fam)
      .u8(0)
      .u16(0)
      .attrString(NFTA_TABLE_NAME, name)
      .done();
    sock.exchange({ msg, answer: 'one' });
    return true;
  } catch (e) {
    return e instanceof RtnlError && e.errno === ENOENT ? false : undefined;
  } finally {
    sock.close();
  }
}

// Listing a chain's rules: NFT_MSG_GETRULE as a dump that the kernel filters by table and chain,
// so a caller reads the chains it needs, not the whole table — and without an `nft -j list`
// process, whose cost grows with every rule it renders (4.3 ms of CPU for portmap's table empty,
// 26.8 ms with 250 pods' rules; docs/performance.md). Only the expressions plugins read are
// decoded; any other appears by its name alone.
const NFT_MSG_GETRULE = (10 << 8) | 7;
const NFTA_RULE_TABLE = 1;
const NFTA_RULE_CHAIN = 2;
const NFTA_RULE_HANDLE = 3;
const NFTA_RULE_EXPRESSIONS = 4;
const NFTA_RULE_USERDATA = 7;
const NFTA_EXPR_NAME = 1;
const NFTA_EXPR_DATA = 2;
const NFTA_DATA_VALUE = 1;
const NFTNL_UDATA_RULE_COMMENT = 0;

/** One expression of a rule, decoded as far as plugins read them (linux/netfilter/nf_tables.h). */
export type NfExpr =
  | { name: 'payload'; dreg: number; base: number; offset: number; len: number }
  | { name: 'cmp'; sreg: number; op: number; data: Uint8Array }
  | { name: 'meta'; key: number; dreg?: number }
  | { name: 'bitwise'; sreg: number; dreg: number; mask?: Uint8Array }
  | { name: 'immediate'; dreg: number; data?: Uint8Array }
  | { name: 'nat'; type: number; family: number; regAddrMin?: number; regProtoMin?: number }
  | { name: 'other'; kind: string };

/** A rule as the kernel lists it. */
export interface NfRule {
  chain: string;
  handle: number;
  /** nft's comment (the comment record of the rule's userdata). */
  comment?: string;
  exprs: NfExpr[];
}

/** Which rules nftChainRules keeps by their comment: exactly this one, or every one that starts with `prefix`. */
export type NfCommentMatch = string | { prefix: string };

/**
 * The rules of the chains `chains` of table `table` of `family` (nft's word), chain by chain in
 * rule order, asked of the kernel: one dump per chain, filtered by the kernel. With `comment`,
 * only the rules carrying that comment (or one starting with its `prefix`), and the others are
 * not decoded at all (a compiled plugin runs this cold, in JavaScriptCore's interpreter: decoding
 * every rule of a chain of 500 cost 35 ms of CPU, skipping them by their comment's bytes a
 * fraction of that). A table or chain that does not exist has no rules. Undefined when it cannot
 * tell (no bun:ffi, an unknown family, nf_tables refusing the request): then the caller asks `nft`.
 */
export function nftChainRules(
  family: string,
  table: string,
  chains: readonly string[],
  comment?: NfCommentMatch,
): NfRule[] | undefined {
  const fam = families()[family];
  if (fam === undefined || table === '' || table.length > 255 || chains.some((c) => c === '' || c.length > 255))
    return undefined;
  // the comment's bytes as its userdata record holds them (none for a comment nft cannot store)
  const want = comment === undefined ? undefined : commentBytes(comment);
  if (comment !== undefined && !want) return undefined;
  const sock = openNetfilter();
  if (!sock) return undefined;
  const out: NfRule[] = [];
  try {
    for (const [i, chain] of chains.entries()) {
      const msg = new Builder(NFT_MSG_GETRULE, F_REQUEST | F_DUMP, i + 1)
        .u8(fam)
        .u8(0)
        .u16(0)
        .attrString(NFTA_RULE_TABLE, table)
        .attrString(NFTA_RULE_CHAIN, chain)
        .done();
      let answers: Message[];
      try {
        answers = sock.exchange({ msg, answer: 'dump' });
      } catch (e) {
        if (e instanceof RtnlError && e.errno === ENOENT) continue;
        throw e;
      }
      for (const m of answers) if (!want || hasComment(m.body, want)) out.push(ruleOf(m, chain));
    }
    return out;
  } catch {
    return undefined;
  } finally {
    sock.close();
  }
}

// A rule message: nfgenmsg (4 bytes), then its attributes (integers big-endian, as nf_tables has them).
function ruleOf(m: Message, chain: string): NfRule {
  const a = attrs(m.body, 4);
  const handle = a.get(NFTA_RULE_HANDLE);
  const rule: NfRule = {
    chain: attrText(a.get(NFTA_RULE_CHAIN)) ?? chain,
    handle: handle && handle.byteLength >= 8 ? Number(handle.getBigUint64(0, false)) : -1,
    exprs: [],
  };
  const comment = commentOf(a.get(NFTA_RULE_USERDATA));
  if (comment !== undefined) rule.comment = comment;
  const list = a.get(NFTA_RULE_EXPRESSIONS);
  if (list) for (const [, elem] of attrList(list)) rule.exprs.push(exprOf(attrs(elem, 0)));
  return rule;
}

// A comment record's value is the comment's bytes and a NUL (at most 255 bytes): an exact match
// compares the value whole, a prefix its first bytes (a longer value, so without the NUL).
interface CommentBytes {
  bytes: Uint8Array;
  exact: boolean;
}

function commentBytes(comment: NfCommentMatch): CommentBytes | undefined {
  const exact = typeof comment === 'string';
  const text = new TextEncoder().encode(exact ? comment : comment.prefix);
  if (text.length > 253) return undefined;
  if (!exact) return { bytes: text, exact };
  const bytes = new Uint8Array(text.length + 1);
  bytes.set(text);
  return { bytes, exact };
}

// True when a rule message's userdata holds a comment record that matches, read without decoding anything else.
function hasComment(body: DataView, want: CommentBytes): boolean {
  const n = want.bytes.length;
  for (let off = 4; off + 4 <= body.byteLength; ) {
    const len = body.getUint16(off, true);
    if (len < 4) return false;
    if ((body.getUint16(off + 2, true) & 0x3fff) === NFTA_RULE_USERDATA) {
      const end = Math.min(off + len, body.byteLength);
      for (let at = off + 4; at + 2 <= end; at += 2 + body.getUint8(at + 1)) {
        const size = body.getUint8(at + 1);
        if (body.getUint8(at) !== NFTNL_UDATA_RULE_COMMENT || (want.exact ? size !== n : size <= n)) continue;
        if (at + 2 + n > end) return false;
        let same = true;
        for (let i = 0; same && i < n; i++) same = body.getUint8(at + 2 + i) === want.bytes[i];
        if (same) return true;
      }
      return false;
    }
    off += (len + 3) & ~3;
  }
  return false;
}

// The comment record of nft's userdata: records of a type byte, a length byte and the value (with its NUL).
function commentOf(ud: DataView | undefined): string | undefined {
  if (!ud) return undefined;
  for (let off = 0; off + 2 <= ud.byteLength; ) {
    const type = ud.getUint8(off);
    const len = ud.getUint8(off + 1);
    if (off + 2 + len > ud.byteLength) return undefined;
    if (type === NFTNL_UDATA_RULE_COMMENT) return attrText(new DataView(ud.buffer, ud.byteOffset + off + 2, len));
    off += 2 + len;
  }
  return undefined;
}

function exprOf(e: Map<number, DataView>): NfExpr {
  const kind = attrText(e.get(NFTA_EXPR_NAME)) ?? '';
  const d = e.get(NFTA_EXPR_DATA);
  const x = d ? attrs(d, 0) : new Map<number, DataView>();
  const be32 = (t: number) => {
    const v = x.get(t);
    return v && v.byteLength >= 4 ? v.getUint32(0, false) : undefined;
  };
  const value = (t: number) => {
    const v = x.get(t);
    const inner = v ? attrs(v, 0).get(NFTA_DATA_VALUE) : undefined;
    return inner ? attrBytes(inner) : undefined;
  };
  switch (kind) {
    case 'payload':
      return { name: kind, dreg: be32(1) ?? 0, base: be32(2) ?? 0, offset: be32(3) ?? 0, len: be32(4) ?? 0 };
    case 'cmp':
      return { name: kind, sreg: be32(1) ?? 0, op: be32(2) ?? 0, data: value(3) ?? new Uint8Array() };
    case 'meta': {
      const dreg = be32(1);
      return dreg === undefined ? { name: kind, key: be32(2) ?? 0 } : { name: kind, key: be32(2) ?? 0, dreg };
    }
    case 'immediate': {
      const data = value(2);
      return data ? { name: kind, dreg: be32(1) ?? 0, data } : { name: kind, dreg: be32(1) ?? 0 };
    }
    case 'bitwise': {
      const mask = value(4);
      return mask
        ? { name: kind, sreg: be32(1) ?? 0, dreg: be32(2) ?? 0, mask }
        : { name: kind, sreg: be32(1) ?? 0, dreg: be32(2) ?? 0 };
    }
    case 'nat': {
      const n: { name: 'nat'; type: number; family: number; regAddrMin?: number; regProtoMin?: number } = {
        name: kind,
        type: be32(1) ?? 0,
        family: be32(2) ?? 0,
      };
      const addr = be32(3);
      const proto = be32(5);
      if (addr !== undefined) n.regAddrMin = addr;
      if (proto !== undefined) n.regProtoMin = proto;
      return n;
    }
    default:
      return { name: 'other', kind };
  }
}

// Every attribute in order (a list of NFTA_LIST_ELEM repeats one type, which attrs() would fold).
function attrList(body: DataView): Array<[number, DataView]> {
  const out: Array<[number, DataView]> = [];
  for (let off = 0; off + 4 <= body.byteLength; ) {
    const len = body.getUint16(off, true);
    if (len < 4 || off + len > body.byteLength) break;
    out.push([body.getUint16(off + 2, true) & 0x3fff, new DataView(body.buffer, body.byteOffset + off + 4, len - 4)]);
    off += (len + 3) & ~3;
  }
  return out;
}
