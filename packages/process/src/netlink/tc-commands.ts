// The `tc` commands bandwidth uses, as the rtnetlink requests iproute2 6.1's tc sends for them
// (tc/tc_qdisc.c, tc/q_tbf.c, tc/q_ingress.c, tc/tc_filter.c, tc/f_u32.c, tc/m_action.c,
// tc/m_mirred.c: the same flags, tcmsg fields, attributes in the same order, nests without
// NLA_F_NESTED where tc leaves it off, and tbf's rate table and buffer in ticks computed as
// tc_core.c does from /proc/net/psched). A command in any other form is outside the subset
// (undefined), and the batch goes to `tc`.
import { fs } from '../fs.js';
import { Builder, F_ACK, F_CREATE, F_DUMP, F_EXCL, F_REQUEST, type Request } from './message.js';

const RTM_NEWQDISC = 36;
const RTM_DELQDISC = 37;
const RTM_GETQDISC = 38;
const RTM_NEWTFILTER = 44;
const RTM_DELTFILTER = 45;
const RTM_GETTFILTER = 46;
const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_TBF_PARMS = 1;
const TCA_TBF_RTAB = 2;
const TCA_TBF_RATE64 = 4;
const TCA_TBF_BURST = 6;
const TCA_U32_CLASSID = 1;
const TCA_U32_SEL = 5;
const TCA_U32_ACT = 7;
const TCA_ACT_KIND = 1;
const TCA_ACT_OPTIONS = 2;
const TCA_MIRRED_PARMS = 2;
/** tcm_parent of a root qdisc, and of the ingress qdisc. */
export const TC_H_ROOT = 0xffffffff;
export const TC_H_INGRESS = 0xfffffff1;
const TC_U32_TERMINAL = 1;
const TC_ACT_STOLEN = 4;
const TCA_EGRESS_REDIR = 1;
const LINKLAYER_ETHERNET = 1;
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL) as the host-order u16 tc puts in tcm_info

/** What a step needs resolved: its device's index, and the index of the device a redirect names. */
export interface TcLookups {
  index: number;
  target?: number;
}

/** One tc command as netlink work. */
export interface TcStep {
  /** The device the command names: looked up first; a missing one fails as tc fails. */
  dev: string;
  /** The device a mirred action redirects to, looked up after `dev`. */
  target?: string;
  request(l: TcLookups, seq: number): Request;
  /** `qdisc show` / `filter show`: its answers become the document `tc -j` prints. */
  show?: 'qdisc' | 'filter';
  /** A filter command: after a kernel error tc adds "We have an error talking to the kernel". */
  filter?: boolean;
}

/** The step for one tc argument list; undefined when it is outside the subset. */
export function tcStepOf(cmd: readonly string[]): TcStep | undefined {
  const [obj, verb, devKw, dev, ...rest] = cmd;
  if (devKw !== 'dev' || !dev || dev.length > 15) return undefined;
  if (obj === 'qdisc') {
    if (verb === 'add') return qdiscAdd(dev, rest);
    if (verb === 'del') return qdiscDel(dev, rest);
    if (verb === 'show' && rest.length === 0) return qdiscShow(dev);
  } else if (obj === 'filter') {
    if (verb === 'add') return filterAdd(dev, rest);
    if (verb === 'del') return filterDel(dev, rest);
    if (verb === 'show' && rest.length === 2 && rest[0] === 'parent') return filterShow(dev, rest[1]!);
  }
  return undefined;
}

// a tcmsg: family AF_UNSPEC, padding, ifindex, handle, parent, info
function tcmsg(b: Builder, index: number, handle: number, parent: number, info = 0): Builder {
  return b.u8(0).u8(0).u16(0).u32(index).u32(handle).u32(parent).u32(info);
}

function handleRe() {
  return /^([0-9a-f]{1,4}):$/;
}
function classidRe() {
  return /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;
}
function numberRe() {
  return /^[1-9][0-9]{0,9}$/;
}

// "1:" → 0x10000 (get_qdisc_handle)
function handleOf(s: string | undefined): number | undefined {
  const m = s === undefined ? null : handleRe().exec(s);
  return m ? Number.parseInt(m[1]!, 16) * 0x10000 : undefined;
}

// qdisc add dev D root handle H: tbf rate NBps burst B limit L | qdisc add dev D handle H: ingress
function qdiscAdd(dev: string, rest: readonly string[]): TcStep | undefined {
  if (rest.length === 3 && rest[0] === 'handle' && rest[2] === 'ingress' && rest[1] === 'ffff:') {
    // tc takes `ingress` as the parent and the kind, with handle ffff: whatever was written before
    return {
      dev,
      request: (l, seq) => ({
        msg: tcmsg(
          new Builder(RTM_NEWQDISC, F_REQUEST | F_ACK | F_EXCL | F_CREATE, seq),
          l.index,
          0xffff0000,
          TC_H_INGRESS,
        )
          .attrString(TCA_KIND, 'ingress')
          .done(),
        answer: 'ack',
      }),
    };
  }
  if (rest.length !== 10 || rest[0] !== 'root' || rest[1] !== 'handle' || rest[3] !== 'tbf') return undefined;
  const handle = handleOf(rest[2]);
  const [, , , , rk, rv, bk, bv, lk, lv] = rest;
  if (handle === undefined || rk !== 'rate' || bk !== 'burst' || lk !== 'limit') return undefined;
  const rate = /^([1-9][0-9]{0,15})Bps$/.exec(rv!);
  if (!rate || !numberRe().test(bv!) || !numberRe().test(lv!)) return undefined;
  const rate64 = Number(rate[1]);
  const burst = Number(bv);
  const limit = Number(lv);
  if (burst > 0xffffffff || limit > 0xffffffff || rate64 > Number.MAX_SAFE_INTEGER) return undefined;
  const ticks = psched();
  if (ticks === undefined) return undefined;
  return {
    dev,
    request: (l, seq) => ({
      msg: tcmsg(
        new Builder(RTM_NEWQDISC, F_REQUEST | F_ACK | F_EXCL | F_CREATE, seq, 1200),
        l.index,
        handle,
        TC_H_ROOT,
      )
        .attrString(TCA_KIND, 'tbf')
        .nest(TCA_OPTIONS, (b) => tbfOptions(b, ticks, rate64, burst, limit), false)
        .done(),
      answer: 'ack',
    }),
  };
}

// tbf_parse_opt for rate, burst and limit: tc_tbf_qopt, the burst, the 64-bit rate when it does
// not fit, and the rate table (cell_log 3: tc's default mtu of 2047 bytes over 256 cells)
function tbfOptions(b: Builder, tickInUsec: number, rate64: number, burst: number, limit: number): void {
  const rate = rate64 >= 2 ** 32 ? 0xffffffff : rate64;
  const cellLog = 3;
  const qopt = new Uint8Array(36);
  const v = new DataView(qopt.buffer);
  v.setUint8(0, cellLog);
  v.setUint8(1, LINKLAYER_ETHERNET);
  v.setInt16(4, -1, true); // cell_align
  v.setUint32(8, rate, true);
  v.setUint32(24, limit, true);
  v.setUint32(28, xmittime(tickInUsec, rate, burst), true);
  b.attr(TCA_TBF_PARMS, qopt);
  b.attrU32(TCA_TBF_BURST, burst);
  if (rate64 >= 2 ** 32) {
    const r = new Uint8Array(8);
    new DataView(r.buffer).setBigUint64(0, BigInt(rate64), true);
    b.attr(TCA_TBF_RATE64, r);
  }
  b.attr(TCA_TBF_RTAB, rateTable(tickInUsec, rate, cellLog));
}

// The last rate table made: a pod shaped the same both ways (the usual case) sends the same one twice.
let lastTable: { tickInUsec: number; rate: number; cellLog: number; bytes: Uint8Array } | undefined;

// tc_calc_rtable: the transmit time of (i + 1) << cellLog bytes for each of the 256 cells, as
// xmittime computes it (inlined: the plugins run this code interpreted, once per tbf)
function rateTable(tickInUsec: number, rate: number, cellLog: number): Uint8Array {
  const l = lastTable;
  if (l && l.tickInUsec === tickInUsec && l.rate === rate && l.cellLog === cellLog) return l.bytes;
  const bytes = new Uint8Array(1024);
  const t = new DataView(bytes.buffer);
  for (let i = 0; i < 256; i++) {
    const us = Math.trunc(1_000_000 * (((i + 1) << cellLog) / rate)) % 2 ** 32;
    t.setUint32(i * 4, Math.trunc(us * tickInUsec) % 2 ** 32, true);
  }
  lastTable = { tickInUsec, rate, cellLog, bytes };
  return bytes;
}

// tc_calc_xmittime: whole microseconds of `size` bytes at `rate`, then ticks, each truncated to a
// u32 as C's double → unsigned conversion does on x86-64 and arm64 (values here stay below 2^53)
function xmittime(tickInUsec: number, rate: number, size: number): number {
  return u32(u32(1_000_000 * (size / rate)) * tickInUsec);
}

function u32(x: number): number {
  return Math.trunc(x) % 2 ** 32;
}

let tickInUsec: number | null | undefined;

/** tc_core_init: ticks per microsecond from /proc/net/psched; undefined when it cannot be read. */
export function psched(): number | undefined {
  if (tickInUsec === undefined) {
    tickInUsec = null;
    try {
      const [a, b, c] = fs().readFileSync('/proc/net/psched', 'latin1').trim().split(/\s+/);
      let t2us = Number.parseInt(a!, 16);
      const us2t = Number.parseInt(b!, 16);
      const clockRes = Number.parseInt(c!, 16);
      // tc's compatibility hack: a nanosecond clock advertises a multiplier of 1000 that is really 1
      if (clockRes === 1_000_000_000) t2us = us2t;
      const t = (t2us / us2t) * (clockRes / 1_000_000);
      if (Number.isFinite(t) && t > 0) tickInUsec = t;
    } catch {
      // tc would go on with a tick of 1 µs; leave such a kernel to tc
    }
  }
  return tickInUsec ?? undefined;
}

// qdisc del dev D root handle H: | qdisc del dev D handle ffff: ingress
function qdiscDel(dev: string, rest: readonly string[], rootKind?: string): TcStep | undefined {
  let handle: number | undefined;
  let parent: number;
  let kind: string | undefined;
  if (rest.length === 3 && rest[0] === 'root' && rest[1] === 'handle') {
    handle = handleOf(rest[2]);
    parent = TC_H_ROOT;
    kind = rootKind;
  } else if (rest.length === 3 && rest[0] === 'handle' && rest[1] === 'ffff:' && rest[2] === 'ingress') {
    handle = 0xffff0000;
    parent = TC_H_INGRESS;
    kind = 'ingress';
  } else return undefined;
  if (handle === undefined) return undefined;
  const h = handle;
  return {
    dev,
    request: (l, seq) => {
      const b = tcmsg(new Builder(RTM_DELQDISC, F_REQUEST | F_ACK, seq), l.index, h, parent);
      if (kind) b.attrString(TCA_KIND, kind);
      return { msg: b.done(), answer: 'ack' };
    },
  };
}

/**
 * `qdisc del dev D root handle 1:` naming the kind tbf (TCA_KIND): the kernel deletes the root
 * qdisc only when it is a tbf with handle 1: (tc_get_qdisc: "Invalid handle." for another handle
 * or the default root, "Invalid qdisc name: must match existing qdisc." for another kind, both
 * EINVAL). tc cannot send this (naming tbf on `qdisc del` makes it parse tbf's options and refuse),
 * so it is no command of the subset: only the typed teardown (netlink/tc-teardown.ts) sends it.
 */
export function rootTbfDel(dev: string, handle = '1:'): TcStep | undefined {
  return qdiscDel(dev, ['root', 'handle', handle], 'tbf');
}

function qdiscShow(dev: string): TcStep {
  return {
    dev,
    show: 'qdisc',
    request: (l, seq) => ({
      msg: tcmsg(new Builder(RTM_GETQDISC, F_REQUEST | F_DUMP, seq), l.index, 0, 0).done(),
      answer: 'dump',
    }),
  };
}

function filterShow(dev: string, parentArg: string): TcStep | undefined {
  const parent = handleOf(parentArg);
  if (parent === undefined) return undefined;
  return {
    dev,
    show: 'filter',
    request: (l, seq) => ({
      msg: tcmsg(new Builder(RTM_GETTFILTER, F_REQUEST | F_DUMP, seq), l.index, 0, parent).done(),
      answer: 'dump',
    }),
  };
}

// filter add dev D parent P: protocol all prio N u32 match u32 K M flowid X:Y action mirred egress redirect dev T
function filterAdd(dev: string, rest: readonly string[]): TcStep | undefined {
  const want = ['parent', '', 'protocol', 'all', 'prio', '', 'u32', 'match', 'u32', '', '', 'flowid', ''];
  const tail = ['action', 'mirred', 'egress', 'redirect', 'dev'];
  if (rest.length !== want.length + tail.length + 1) return undefined;
  for (const [i, w] of want.entries()) if (w && rest[i] !== w) return undefined;
  for (const [i, w] of tail.entries()) if (rest[want.length + i] !== w) return undefined;
  const parent = handleOf(rest[1]);
  const prio = numberRe().test(rest[5]!) ? Number(rest[5]) : 0x10000;
  const key = rest[9] === '0' || numberRe().test(rest[9]!) ? Number(rest[9]) : 2 ** 32;
  const mask = /^[0-9a-f]{1,8}$/.test(rest[10]!) ? Number.parseInt(rest[10]!, 16) : undefined;
  const flow = classidRe().exec(rest[12]!);
  const target = rest.at(-1)!;
  if (parent === undefined || prio > 0xffff || key >= 2 ** 32 || mask === undefined || !flow || target.length > 15)
    return undefined;
  const classid = Number.parseInt(flow[1]!, 16) * 0x10000 + Number.parseInt(flow[2]!, 16);
  return {
    dev,
    target,
    filter: true,
    request: (l, seq) => ({
      msg: tcmsg(
        new Builder(RTM_NEWTFILTER, F_REQUEST | F_ACK | F_EXCL | F_CREATE, seq),
        l.index,
        0,
        parent,
        prio * 0x10000 + ETH_P_ALL_BE,
      )
        .attrString(TCA_KIND, 'u32')
        .nest(
          TCA_OPTIONS,
          (b) => {
            b.attrU32(TCA_U32_CLASSID, classid);
            b.nest(TCA_U32_ACT, (a) => a.nest(1, (m) => mirred(m, l.target ?? 0), false), false);
            b.attr(TCA_U32_SEL, selector(key, mask));
          },
          false,
        )
        .done(),
      answer: 'ack',
    }),
  };
}

// one mirred action: its kind, then its options (tc sets NLA_F_NESTED on these) holding tc_mirred
function mirred(b: Builder, ifindex: number): void {
  b.attrString(TCA_ACT_KIND, 'mirred');
  b.nest(TCA_ACT_OPTIONS, (o) => {
    const p = new Uint8Array(28);
    const v = new DataView(p.buffer);
    v.setInt32(8, TC_ACT_STOLEN, true);
    v.setInt32(20, TCA_EGRESS_REDIR, true);
    v.setUint32(24, ifindex, true);
    o.attr(TCA_MIRRED_PARMS, p);
  });
}

// tc_u32_sel with one key (a u32 match at offset 0), terminal because the filter has an action
function selector(key: number, mask: number): Uint8Array {
  const s = new Uint8Array(32);
  const v = new DataView(s.buffer);
  v.setUint8(0, TC_U32_TERMINAL);
  v.setUint8(2, 1); // nkeys
  v.setUint32(16, mask, false);
  v.setUint32(20, (key & mask) >>> 0, false);
  return s;
}

// filter del dev D parent P: prio N
function filterDel(dev: string, rest: readonly string[]): TcStep | undefined {
  if (rest.length !== 4 || rest[0] !== 'parent' || rest[2] !== 'prio' || !numberRe().test(rest[3]!)) return undefined;
  const parent = handleOf(rest[1]);
  const prio = Number(rest[3]);
  if (parent === undefined || prio > 0xffff) return undefined;
  return {
    dev,
    filter: true,
    request: (l, seq) => ({
      msg: tcmsg(new Builder(RTM_DELTFILTER, F_REQUEST | F_ACK, seq), l.index, 0, parent, prio * 0x10000).done(),
      answer: 'ack',
    }),
  };
}
