// The documents `tc -j [-raw] qdisc show dev X` and `tc -j [-raw] filter show dev X parent P`
// print (iproute2 6.1's print_qdisc, tbf_print_opt, print_filter, u32_print_opt, print_mirred),
// decoded from the kernel's dump, for the fields a plugin reads: a qdisc's kind, handle,
// root/parent and a tbf's rate, limit and burst_raw; a filter's protocol, pref, kind, chain, and
// a u32's fh, flowid and mirred actions. Pure.
import { type Message, attrText, attrU32, attrs } from './message.js';
import { TC_H_ROOT } from './tc-commands.js';

const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_CHAIN = 11;
const TCA_TBF_PARMS = 1;
const TCA_TBF_RATE64 = 4;
const TCA_U32_CLASSID = 1;
const TCA_U32_ACT = 7;
const TCA_ACT_KIND = 1;
const TCA_ACT_OPTIONS = 2;
const TCA_MIRRED_PARMS = 2;

/** tcmsg fields. */
function tcm(m: Message): { index: number; handle: number; parent: number; info: number } {
  const b = m.body;
  return {
    index: b.getInt32(4, true),
    handle: b.getUint32(8, true),
    parent: b.getUint32(12, true),
    info: b.getUint32(16, true),
  };
}

/** sprint_tc_classid. */
export function classid(h: number): string {
  if (h === TC_H_ROOT) return 'root';
  if (h === 0) return 'none';
  const maj = h >>> 16;
  const min = h & 0xffff;
  if (maj === 0) return `:${min.toString(16)}`;
  if (min === 0) return `${maj.toString(16)}:`;
  return `${maj.toString(16)}:${min.toString(16)}`;
}

/** The `tc -j qdisc show dev X` document: the qdiscs of the device with this index. */
export function qdiscDoc(answers: readonly Message[], index: number, raw: boolean): unknown[] {
  const out: unknown[] = [];
  for (const m of answers) {
    const t = tcm(m);
    if (t.index !== index) continue;
    const a = attrs(m.body, 20);
    const kind = attrText(a.get(TCA_KIND)) ?? '';
    const doc: Record<string, unknown> = { kind, handle: `${(t.handle >>> 16).toString(16)}:` };
    if (t.parent === TC_H_ROOT) doc.root = true;
    else if (t.parent) doc.parent = classid(t.parent);
    const opts = a.get(TCA_OPTIONS);
    if (opts) doc.options = kind === 'tbf' ? tbfOptions(opts, raw) : {};
    out.push(doc);
  }
  return out;
}

function tbfOptions(opts: DataView, raw: boolean): Record<string, unknown> {
  const a = attrs(opts, 0);
  const p = a.get(TCA_TBF_PARMS);
  if (!p || p.byteLength < 36) return {};
  const r64 = a.get(TCA_TBF_RATE64);
  const rate = r64 && r64.byteLength >= 8 ? Number(r64.getBigUint64(0, true)) : p.getUint32(8, true);
  const out: Record<string, unknown> = { rate };
  if (raw) out.burst_raw = p.getUint32(28, true).toString(16);
  out.limit = p.getUint32(24, true);
  return out;
}

function protocols(): Record<number, string> {
  return { 3: 'all', 2048: 'ip', 2054: 'arp', 34525: 'ipv6', 33024: '802.1Q' };
}

/**
 * The `tc -j filter show dev X parent P` document. `nameOf` names a device by index (tc's
 * ll_index_to_name: "*" for 0, "if<N>" for an index no device has).
 */
export function filterDoc(answers: readonly Message[], raw: boolean, nameOf: (index: number) => string): unknown[] {
  const out: unknown[] = [];
  for (const m of answers) {
    const t = tcm(m);
    const a = attrs(m.body, 20);
    const proto = ((t.info & 0xff) << 8) | ((t.info >>> 8) & 0xff);
    const doc: Record<string, unknown> = {
      protocol: protocols()[proto] ?? `[${proto}]`,
      pref: t.info >>> 16,
      kind: attrText(a.get(TCA_KIND)) ?? '',
    };
    const chain = attrU32(a.get(TCA_CHAIN));
    if (chain !== undefined) doc.chain = chain;
    const opts = a.get(TCA_OPTIONS);
    if (opts && doc.kind === 'u32') doc.options = u32Options(t.handle, opts, raw, nameOf);
    out.push(doc);
  }
  return out;
}

// sprint_u32_handle, with tc -raw's "[%08x]" after it
function u32Handle(h: number, raw: boolean): string {
  const htid = h >>> 20;
  const hash = (h >>> 12) & 0xff;
  const node = h & 0xfff;
  let s = h === 0 ? 'none' : '';
  if (h !== 0) {
    if (htid) s += `${htid.toString(16)}:`;
    if (node || hash) {
      if (hash) s += hash.toString(16);
      if (node) s += `:${node.toString(16)}`;
    }
  }
  return raw ? `${s}[${h.toString(16).padStart(8, '0')}]` : s;
}

function u32Options(
  handle: number,
  opts: DataView,
  raw: boolean,
  nameOf: (index: number) => string,
): Record<string, unknown> {
  const a = attrs(opts, 0);
  const out: Record<string, unknown> = {};
  if (handle) out.fh = u32Handle(handle, raw);
  const cls = attrU32(a.get(TCA_U32_CLASSID));
  if (cls !== undefined) out.flowid = classid(cls);
  const acts = a.get(TCA_U32_ACT);
  if (acts) {
    const list: unknown[] = [];
    for (const [order, act] of attrs(acts, 0)) {
      const aa = attrs(act, 0);
      const kind = attrText(aa.get(TCA_ACT_KIND)) ?? '';
      const entry: Record<string, unknown> = { order, kind };
      const o = aa.get(TCA_ACT_OPTIONS);
      const p = kind === 'mirred' && o ? attrs(o, 0).get(TCA_MIRRED_PARMS) : undefined;
      if (p && p.byteLength >= 28) {
        const eaction = p.getInt32(20, true);
        entry.mirred_action = eaction === 1 || eaction === 3 ? 'redirect' : 'mirror';
        entry.direction = eaction === 1 || eaction === 2 ? 'egress' : 'ingress';
        entry.to_dev = nameOf(p.getUint32(24, true));
      }
      list.push(entry);
    }
    out.actions = list;
  }
  return out;
}

/**
 * A qdisc as a plugin reads `tc -j -raw qdisc show`: kind, handle, root or parent, and a tbf's
 * rate (B/s), limit (bytes) and buffer (ticks: `burst_raw`). What bandwidth's parseQdiscs makes
 * of qdiscDoc's document, decoded without the document.
 */
export interface TcQdisc {
  kind: string;
  handle: string;
  root: boolean;
  parent?: string;
  rate?: number;
  limit?: number;
  buffer?: number;
}

/** The qdiscs of the device with this index, as TcQdisc records. */
export function qdiscRecords(answers: readonly Message[], index: number): TcQdisc[] {
  const out: TcQdisc[] = [];
  for (const m of answers) {
    const t = tcm(m);
    if (t.index !== index) continue;
    const a = attrs(m.body, 20);
    const kind = attrText(a.get(TCA_KIND)) ?? '';
    const q: TcQdisc = { kind, handle: `${(t.handle >>> 16).toString(16)}:`, root: t.parent === TC_H_ROOT };
    if (t.parent && t.parent !== TC_H_ROOT) q.parent = classid(t.parent);
    const opts = kind === 'tbf' ? a.get(TCA_OPTIONS) : undefined;
    const o = opts ? attrs(opts, 0) : undefined;
    const p = o?.get(TCA_TBF_PARMS);
    if (o && p && p.byteLength >= 36) {
      const r64 = o.get(TCA_TBF_RATE64);
      q.rate = r64 && r64.byteLength >= 8 ? Number(r64.getBigUint64(0, true)) : p.getUint32(8, true);
      q.limit = p.getUint32(24, true);
      q.buffer = p.getUint32(28, true);
    }
    out.push(q);
  }
  return out;
}

/**
 * A filter as a plugin reads `tc -j filter show`: the u32 entries that carry a match (a handle
 * with a node and no hash: `800::800`), with the devices their mirred actions redirect to. What
 * bandwidth's parseFilters makes of filterDoc's document, decoded without the document.
 */
export interface TcFilter {
  kind: string;
  pref: number;
  protocol: string;
  flowid?: string;
  redirects: string[];
}

/** The filters of a dump as TcFilter records; `nameOf` names a device by index as tc does. */
export function filterRecords(answers: readonly Message[], nameOf: (index: number) => string): TcFilter[] {
  const out: TcFilter[] = [];
  for (const m of answers) {
    const t = tcm(m);
    const h = t.handle;
    // sprint_u32_handle writes "::" for a handle with a hash table and a node but no hash
    if (!(h >>> 20 && !((h >>> 12) & 0xff) && h & 0xfff)) continue;
    const a = attrs(m.body, 20);
    const kind = attrText(a.get(TCA_KIND)) ?? '';
    const opts = a.get(TCA_OPTIONS);
    if (kind !== 'u32' || !opts) continue;
    const proto = ((t.info & 0xff) << 8) | ((t.info >>> 8) & 0xff);
    const f: TcFilter = { kind, pref: t.info >>> 16, protocol: protocols()[proto] ?? `[${proto}]`, redirects: [] };
    const o = attrs(opts, 0);
    const cls = attrU32(o.get(TCA_U32_CLASSID));
    if (cls !== undefined) f.flowid = classid(cls);
    const acts = o.get(TCA_U32_ACT);
    if (acts) {
      for (const act of attrs(acts, 0).values()) {
        const aa = attrs(act, 0);
        const ao = attrText(aa.get(TCA_ACT_KIND)) === 'mirred' ? aa.get(TCA_ACT_OPTIONS) : undefined;
        const p = ao ? attrs(ao, 0).get(TCA_MIRRED_PARMS) : undefined;
        const eaction = p && p.byteLength >= 28 ? p.getInt32(20, true) : 0;
        if (eaction === 1 || eaction === 3) f.redirects.push(nameOf(p!.getUint32(24, true)));
      }
    }
    out.push(f);
  }
  return out;
}
