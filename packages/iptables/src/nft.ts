// iptables changes written straight to nf_tables when the node's iptables is iptables-nft: the
// rules encoded exactly as iptables-nft 1.8.9 encodes them (nft.c, nft-ipv4.c/nft-ipv6.c,
// nft-shared.c: interfaces, protocol and addresses as meta/payload/bitwise/cmp, `-m tcp/udp
// --dport` and `-m mark` as native expressions, the other matches and targets through the xt
// compat layer with the revision iptables picks on a kernel that has them all, a counter, the
// verdict; base chains created on first use with iptables' hook and priority), so `iptables-nft
// -S`, `-C`, `-D`, `-F`, `-X` and our own readers cannot tell them from iptables-nft's. Only a
// subset of iptables is encoded (see ruleExprs); anything else, or a node whose iptables is the
// legacy one, is left to iptables-restore (the caller gets undefined and restores as before).
import { type Executor, type NftExprSpec, type NftFamily, type NftOp, fs, netlinkDisabled } from '@cni-ts/process';
import { type IP, maskOf, parseIP, parsePrefix } from '@cni-ts/netaddr';
import type { Change, Family, Rule, TableName } from './rules.js';

const NFT_FAMILY: Record<Family, NftFamily> = { 4: 'ip', 6: 'ip6' };

/**
 * The nf_tables family of iptables family `f` when its rules can be read and written here through
 * nfnetlink (under Bun, CNI_TS_NETLINK not 0, the node's iptables-restore is iptables-nft); else
 * undefined, and the caller uses iptables-restore or iptables-save as before.
 */
export function nftHere(exec: Executor, f: Family): NftFamily | undefined {
  return exec.nftTransaction && !netlinkDisabled() && restoreIsNft(f) ? NFT_FAMILY[f] : undefined;
}
const RESTORE: Record<Family, string> = { 4: 'iptables-restore', 6: 'ip6tables-restore' };
const EEXIST = 17;
const ENOENT = 2;

// iptables-nft's base chains (nft.c's builtin tables): hook and priority, policy ACCEPT, created
// the first time a rule goes into them. Only the nat and filter tables are written here.
const BASE: Readonly<Partial<Record<TableName, Readonly<Record<string, { hook: number; priority: number }>>>>> = {
  nat: {
    PREROUTING: { hook: 0, priority: -100 },
    INPUT: { hook: 1, priority: 100 },
    OUTPUT: { hook: 3, priority: -100 },
    POSTROUTING: { hook: 4, priority: 100 },
  },
  filter: { INPUT: { hook: 1, priority: 0 }, FORWARD: { hook: 2, priority: 0 }, OUTPUT: { hook: 3, priority: 0 } },
};
const NF_ACCEPT = 1;

function baseOf(table: TableName, chain: string): { hook: number; priority: number } | undefined {
  const t = BASE[table];
  return t && Object.hasOwn(t, chain) ? t[chain] : undefined;
}

// Payload offsets in the network header (NFT_PAYLOAD_NETWORK_HEADER = 1): source, destination.
const ADDR: Record<Family, { s: number; d: number; len: number }> = {
  4: { s: 12, d: 16, len: 4 },
  6: { s: 8, d: 24, len: 16 },
};
const NETWORK_HEADER = 1;
const TRANSPORT_HEADER = 2;
// NFT_META_* keys
const META = { mark: 3, iifname: 6, oifname: 7, l4proto: 16 } as const;
const PROTO = { tcp: 6, udp: 17 } as const;
type Proto = keyof typeof PROTO;
const IFNAMSIZ = 16;

// MASQUERADE revision 0's info: IPv4 struct nf_nat_ipv4_multi_range_compat with rangesize 1
// (20 bytes, XT_ALIGNed to 24), IPv6 struct nf_nat_range (40 bytes), all else zero.
function masqueradeInfo(f: Family): Uint8Array {
  const info = new Uint8Array(f === 4 ? 24 : 40);
  if (f === 4) info[0] = 1; // rangesize, host byte order (little-endian here, as the kernel's)
  return info;
}

// DNAT revision 2's struct nf_nat_range2 (42 bytes, XT_ALIGNed to 48): flags NF_NAT_RANGE_MAP_IPS
// | NF_NAT_RANGE_PROTO_SPECIFIED, the address as min and max, the port (network order) as min and max.
function dnatInfo(ip: IP, port: number): Uint8Array {
  const info = new Uint8Array(48);
  const v = new DataView(info.buffer);
  v.setUint32(0, 3, true);
  const addr = bytesOf(ip.family, ip.value);
  info.set(addr, 4);
  info.set(addr, 20);
  v.setUint16(36, port, false);
  v.setUint16(38, port, false);
  return info;
}

// MARK revision 2's struct xt_mark_tginfo2: mark and mask, host order (`--set-xmark value/mask`).
function markInfo(value: number, mask: number): Uint8Array {
  const info = new Uint8Array(8);
  const v = new DataView(info.buffer);
  v.setUint32(0, value, true);
  v.setUint32(4, mask, true);
  return info;
}

// multiport revision 1's struct xt_multiport_v1 (48 bytes): XT_MULTIPORT_DESTINATION, the count,
// the ports in host order; no ranges, not inverted.
function multiportInfo(ports: readonly number[]): Uint8Array {
  const info = new Uint8Array(48);
  const v = new DataView(info.buffer);
  info[0] = 1;
  info[1] = ports.length;
  for (const [i, p] of ports.entries()) v.setUint16(2 + 2 * i, p, true);
  return info;
}

// conntrack revision 3's struct xt_conntrack_mtinfo3 (162 bytes, XT_ALIGNed to 168) for
// `[!] --ctstate`: match_flags and invert_flags XT_CONNTRACK_STATE, the state mask.
const CTSTATE: Readonly<Record<string, number>> = {
  INVALID: 1,
  ESTABLISHED: 2,
  RELATED: 4,
  NEW: 8,
  SNAT: 0x40,
  DNAT: 0x80,
  UNTRACKED: 0x100,
};
function conntrackInfo(states: number, invert: boolean): Uint8Array {
  const info = new Uint8Array(168);
  const v = new DataView(info.buffer);
  v.setUint16(146, 1, true);
  v.setUint16(148, invert ? 1 : 0, true);
  v.setUint16(150, states, true);
  return info;
}

// addrtype revision 1's struct xt_addrtype_info_v1 for `--dst-type LOCAL`: dest 1 << RTN_LOCAL.
function addrtypeLocalInfo(): Uint8Array {
  const info = new Uint8Array(8);
  info[2] = 4;
  return info;
}

const nftOnPath = new Map<Family, boolean>();

/**
 * True when the `iptables-restore` (`ip6tables-restore`) the executor would run is iptables-nft
 * (xtables-nft-multi): then writing nf_tables is what it would do. Legacy, wrappers, anything else: false.
 * Asked through the run's file calls (fs.ts: libc in a portmap run, which loads no node:fs): the
 * first regular file of that name on PATH, and the file it is once every link is followed (the
 * kernel's name of it opened, /proc/self/fd: what realpath answers).
 */
export function restoreIsNft(f: Family): boolean {
  const known = nftOnPath.get(f);
  if (known !== undefined) return known;
  let found = false;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const path = `${dir}/${RESTORE[f]}`;
    try {
      // a miss (the usual answer of PATH's first directories) without an exception: building
      // one costs a compiled plugin about 0.04 ms per directory
      if (!fs().statSync(path, { throwIfNoEntry: false })?.isFile()) continue;
      found = resolved(path).endsWith('/xtables-nft-multi');
    } catch {
      continue;
    }
    break;
  }
  nftOnPath.set(f, found);
  return found;
}

// The path of the file `path` names, every link followed.
function resolved(path: string): string {
  const fd = fs().openSync(path, 'r');
  try {
    return fs().readlinkSync(`/proc/self/fd/${fd}`);
  } finally {
    fs().closeSync(fd);
  }
}

/** A literal "address/len" of family f as iptables parses it (host bits cleared); undefined otherwise. */
function prefixOf(f: Family, text: string | undefined): { addr: Uint8Array; mask: Uint8Array } | undefined {
  const p = text === undefined ? undefined : parsePrefix(text);
  if (!p || p.ip.family !== f || p.bits === 0) return undefined;
  const mask = maskOf(f, p.bits);
  return { addr: bytesOf(f, p.ip.value & mask), mask: bytesOf(f, mask) };
}

// By 32-bit words: one BigInt operation per word, not per byte (each BigInt is a cell the run
// allocates; docs/performance.md, "portmap under JavaScriptCore's warm-up threshold").
function bytesOf(f: Family, v: IP['value']): Uint8Array {
  const n = f === 4 ? 4 : 16;
  const out = new Uint8Array(n);
  const view = new DataView(out.buffer);
  if (n === 4) view.setUint32(0, Number(v), false);
  else for (let i = 12; i >= 0; i -= 4, v >>= 32n) view.setUint32(i, Number(BigInt.asUintN(32, v)), false);
  return out;
}

const u16be = (v: number) => Uint8Array.of(v >> 8, v & 0xff);
const u32le = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
};

// add_addr of iptables' nft-shared.c: a byte-aligned mask loads and compares only its whole bytes;
// any other mask loads the whole address, masks it (bitwise) and compares it all.
function addrExprs(f: Family, offset: number, a: { addr: Uint8Array; mask: Uint8Array }, neq: boolean): NftExprSpec[] {
  let whole = 0;
  while (whole < a.mask.length && a.mask[whole] === 0xff) whole++;
  const aligned = a.mask.subarray(whole).every((b) => b === 0);
  const op = neq ? 'neq' : 'eq';
  if (aligned)
    return [
      { expr: 'payload', base: NETWORK_HEADER, offset, len: whole },
      { expr: 'cmp', op, data: a.addr.subarray(0, whole) },
    ];
  const len = ADDR[f].len;
  return [
    { expr: 'payload', base: NETWORK_HEADER, offset, len },
    { expr: 'bitwise', len, mask: a.mask, xor: new Uint8Array(len) },
    { expr: 'cmp', op, data: a.addr },
  ];
}

// A port as iptables reads it: a decimal 0..65535 (service names are left to iptables).
function portOf(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

// A 32-bit value as iptables' mark parsing takes it here: 0x-hex or decimal.
function u32Of(text: string | undefined): number | undefined {
  if (text === undefined || !/^(?:0x[0-9a-fA-F]{1,8}|\d{1,10})$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 0xffffffff ? n : undefined;
}

function valueMask(text: string | undefined): { value: number; mask: number } | undefined {
  const [v, m, extra] = (text ?? '').split('/');
  const value = u32Of(v);
  const mask = m === undefined ? 0xffffffff : u32Of(m);
  return value === undefined || mask === undefined || extra !== undefined ? undefined : { value, mask };
}

// `A:P` (IPv4) or `[A]:P` (IPv6), as `--to-destination` of one address and one port.
function destinationOf(f: Family, text: string | undefined): { ip: IP; port: number } | undefined {
  const m =
    text === undefined ? null : f === 4 ? /^([0-9.]+):(\d+)$/.exec(text) : /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text);
  const ip = m ? parseIP(m[1]!) : undefined;
  const port = m ? portOf(m[2]) : undefined;
  return ip && ip.family === f && port !== undefined && port > 0 ? { ip, port } : undefined;
}

/** A rule's expressions and what iptables-nft records of its `-p` (NFTA_RULE_COMPAT). */
export interface NftRuleSpec {
  exprs: NftExprSpec[];
  proto: number;
}

/**
 * The expressions iptables-nft 1.8.9 writes for a rule spec (iptables-save's form) of the subset
 * `[!] -s A/L`, `[!] -d A/L`, `[!] -i|-o <name>`, `-p tcp|udp`, `-m tcp|udp --dport N`, `-m
 * multiport --dports N[,N…]` (≤ 15), `-m comment --comment C`, `-m mark --mark V[/M]`, `-m
 * addrtype --dst-type LOCAL`, `-m conntrack [!] --ctstate S[,S…]`, then `-j ACCEPT | DROP |
 * RETURN | MASQUERADE | DNAT --to-destination A:P ([A]:P) | MARK --set-xmark V/M | <chain>`
 * where a chain is one of `jumpable` or a name with a `-` (no xtables target has one);
 * undefined for anything else (then iptables-restore writes it).
 */
export function ruleExprs(f: Family, spec: readonly string[], jumpable: ReadonlySet<string>): NftRuleSpec | undefined {
  const ifaces: NftExprSpec[][] = [[], []];
  let proto: Proto | undefined;
  let s: NftExprSpec[] = [];
  let d: NftExprSpec[] = [];
  const matches: NftExprSpec[] = [];
  const seen = new Set<string>();
  let verdict: NftExprSpec | undefined;
  for (let i = 0; i < spec.length; i++) {
    const neg = spec[i] === '!';
    if (neg) i++;
    const w = spec[i];
    if (w === undefined || seen.has(w === '-m' ? `-m ${spec[i + 1]}` : w)) return undefined;
    seen.add(w === '-m' ? `-m ${spec[i + 1]}` : w);
    if (w === '-s' || w === '-d') {
      const p = prefixOf(f, spec[++i]);
      if (!p) return undefined;
      const e = addrExprs(f, ADDR[f][w === '-s' ? 's' : 'd'], p, neg);
      if (w === '-s') s = e;
      else d = e;
    } else if (w === '-i' || w === '-o') {
      // add_iniface/add_outiface: the name and its NUL (a `+` wildcard is encoded otherwise: not here)
      const name = spec[++i];
      if (!name || name.length >= IFNAMSIZ || !/^[A-Za-z0-9_.:@-]+$/.test(name)) return undefined;
      const data = new Uint8Array(name.length + 1);
      data.set(new TextEncoder().encode(name));
      ifaces[w === '-i' ? 0 : 1] = [
        { expr: 'meta', key: w === '-i' ? META.iifname : META.oifname },
        { expr: 'cmp', op: neg ? 'neq' : 'eq', data },
      ];
    } else if (neg) return undefined;
    else if (w === '-p') {
      const p = spec[++i];
      if (p !== 'tcp' && p !== 'udp') return undefined;
      proto = p;
    } else if (w === '-m') {
      const used = match(spec, i + 1, proto);
      if (!used) return undefined;
      matches.push(...used.exprs);
      i = used.next - 1;
    } else if (w === '-j' && i + 1 < spec.length) {
      const t = target(f, spec, i + 1, jumpable);
      if (!t) return undefined;
      verdict = t.expr;
      i = t.next - 1;
    } else return undefined;
  }
  if (!verdict) return undefined;
  const l4: NftExprSpec[] = proto
    ? [
        { expr: 'meta', key: META.l4proto },
        { expr: 'cmp', op: 'eq', data: Uint8Array.of(PROTO[proto]) },
      ]
    : [];
  return {
    exprs: [...ifaces[0]!, ...ifaces[1]!, ...l4, ...s, ...d, ...matches, { expr: 'counter' }, verdict],
    proto: proto ? PROTO[proto] : 0,
  };
}

// One `-m <name> <options>` from spec[at] (the name): its expressions and the index after it.
function match(
  spec: readonly string[],
  at: number,
  proto: Proto | undefined,
): { exprs: NftExprSpec[]; next: number } | undefined {
  const name = spec[at];
  const opt = spec[at + 1];
  const value = spec[at + 2];
  const xt = (n: string, rev: number, info: Uint8Array): NftExprSpec => ({ expr: 'match', name: n, rev, info });
  switch (name) {
    case 'comment': {
      const text = new TextEncoder().encode(value ?? '');
      if (opt !== '--comment' || value === undefined || text.length > 255 || text.includes(0)) return undefined;
      const info = new Uint8Array(256); // struct xt_comment_info
      info.set(text);
      return { exprs: [xt('comment', 0, info)], next: at + 3 };
    }
    case 'tcp':
    case 'udp': {
      // add_nft_tcp/add_nft_udp: the destination port straight from the transport header
      const port = portOf(value);
      if (proto !== name || opt !== '--dport' || port === undefined) return undefined;
      return {
        exprs: [
          { expr: 'payload', base: TRANSPORT_HEADER, offset: 2, len: 2 },
          { expr: 'cmp', op: 'eq', data: u16be(port) },
        ],
        next: at + 3,
      };
    }
    case 'multiport': {
      const ports = (value ?? '').split(',').map(portOf);
      if (!proto || opt !== '--dports' || ports.length > 15 || ports.some((p) => p === undefined)) return undefined;
      return { exprs: [xt('multiport', 1, multiportInfo(ports as number[]))], next: at + 3 };
    }
    case 'mark': {
      // add_nft_mark: meta mark, masked unless the mask is all ones, compared (both in host order)
      const vm = opt === '--mark' ? valueMask(value) : undefined;
      if (!vm) return undefined;
      return {
        exprs: [
          { expr: 'meta', key: META.mark },
          ...(vm.mask === 0xffffffff
            ? []
            : [{ expr: 'bitwise', len: 4, mask: u32le(vm.mask), xor: new Uint8Array(4) } as const]),
          { expr: 'cmp', op: 'eq', data: u32le(vm.value) },
        ],
        next: at + 3,
      };
    }
    case 'addrtype':
      if (opt !== '--dst-type' || value !== 'LOCAL') return undefined;
      return { exprs: [xt('addrtype', 1, addrtypeLocalInfo())], next: at + 3 };
    case 'conntrack': {
      const neg = opt === '!';
      const [o, list] = neg ? [spec[at + 2], spec[at + 3]] : [opt, value];
      const states = (list ?? '').split(',').map((x) => CTSTATE[x]);
      if (o !== '--ctstate' || states.some((x) => x === undefined)) return undefined;
      const mask = states.reduce<number>((a, b) => a | b!, 0);
      return { exprs: [xt('conntrack', 3, conntrackInfo(mask, neg))], next: at + (neg ? 4 : 3) };
    }
    default:
      return undefined;
  }
}

// `-j <target> [options]` from spec[at] (the target): its verdict expression and the index after it.
function target(
  f: Family,
  spec: readonly string[],
  at: number,
  jumpable: ReadonlySet<string>,
): { expr: NftExprSpec; next: number } | undefined {
  const t = spec[at]!;
  const xt = (name: string, rev: number, info: Uint8Array): NftExprSpec => ({ expr: 'target', name, rev, info });
  if (t === 'ACCEPT') return { expr: { expr: 'accept' }, next: at + 1 };
  if (t === 'DROP') return { expr: { expr: 'drop' }, next: at + 1 };
  if (t === 'RETURN') return { expr: { expr: 'return' }, next: at + 1 };
  if (t === 'MASQUERADE') return { expr: xt('MASQUERADE', 0, masqueradeInfo(f)), next: at + 1 };
  if (t === 'DNAT') {
    const to = spec[at + 1] === '--to-destination' ? destinationOf(f, spec[at + 2]) : undefined;
    return to && { expr: xt('DNAT', 2, dnatInfo(to.ip, to.port)), next: at + 3 };
  }
  if (t === 'MARK') {
    const vm = spec[at + 1] === '--set-xmark' ? valueMask(spec[at + 2]) : undefined;
    return vm && { expr: xt('MARK', 2, markInfo(vm.value, vm.mask)), next: at + 3 };
  }
  if (jumpable.has(t) || /^[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)+$/.test(t))
    return { expr: { expr: 'jump', chain: t }, next: at + 1 };
  return undefined;
}

/** ruleExprs' expressions alone (the bridge's masquerade rules). */
export function xtExprs(f: Family, spec: readonly string[], jumpable: ReadonlySet<string>): NftExprSpec[] | undefined {
  return ruleExprs(f, spec, jumpable)?.exprs;
}

/** What a batch needs the kernel to show before it is sent (read under the batch's generation). */
interface Needs {
  /** Chains that must exist (the targets of the probe rules a `flush` drops, as iptables-nft drops them). */
  chains: string[];
  /** Rules that must be there (`check`), by table and chain. */
  rules: Array<{ table: TableName; chain: string; exprs: NftExprSpec[] }>;
}

/** A planned batch: given which base chains exist, the ops; and what must be there first. */
export interface NftPlan {
  ops: (exists: (chain: string) => boolean) => NftOp[];
  bases: readonly string[];
  needs: Needs;
}

/**
 * The nf_tables ops iptables-restore on iptables-nft would send for `create`, `append`, `insert`
 * (at the head), `check` and `flush` (of a chain the batch created: the rules appended to it
 * before are probes, dropped from the batch as iptables-nft drops them, their targets required
 * to exist) changes of one table (`check`s
 * may name another), given which base chains exist (the table and a base chain are created
 * before the first rule that needs them, as iptables-nft does); undefined when a change is
 * outside the subset. Rules may go into chains that exist already (the kernel refuses the
 * batch when one does not).
 */
export function planNft(
  f: Family,
  changes: readonly Change[],
  jumpable: ReadonlySet<string> = new Set(),
): NftPlan | undefined {
  const writes = changes.filter((c) => c.op !== 'check');
  const table = writes.length ? tableOf(writes) : undefined;
  if (!table || !BASE[table]) return undefined;
  const created = new Set(writes.flatMap((c) => (c.op === 'create' ? [c.chain] : [])));
  const jumps = new Set([...created, ...jumpable]);
  const ops: Array<NftOp | { op: 'base'; chain: string }> = [];
  const bases: string[] = [];
  const needs: Needs = { chains: [], rules: [] };
  for (const c of changes) {
    if (c.op === 'create') {
      if (baseOf(table, c.chain)) return undefined;
      ops.push({ op: 'newChain', chain: c.chain, excl: true });
    } else if (c.op === 'check') {
      const r = ruleExprs(f, c.rule.spec, jumps);
      if (!r || !BASE[c.rule.table]) return undefined;
      needs.rules.push({ table: c.rule.table, chain: c.rule.chain, exprs: r.exprs });
    } else if (c.op === 'flush') {
      // only of a chain this batch created: what went into it are probes for their targets
      if (c.table !== table || !created.has(c.chain)) return undefined;
      for (let i = ops.length - 1; i >= 0; i--) {
        const op = ops[i]!;
        if (op.op !== 'newRule' || op.chain !== c.chain) continue;
        const last = op.exprs.at(-1);
        if (op.exprs.length !== 2 || last?.expr !== 'jump') return undefined;
        if (!created.has(last.chain)) needs.chains.push(last.chain);
        ops.splice(i, 1);
      }
      // iptables-nft still sends the flush (of a chain still empty: it deletes nothing)
      ops.push({ op: 'flush', chain: c.chain });
    } else if (c.op === 'append' || (c.op === 'insert' && (c.position ?? 1) === 1)) {
      const r = ruleExprs(f, c.rule.spec, jumps);
      if (!r) return undefined;
      const chain = c.rule.chain;
      if (baseOf(table, chain) && !bases.includes(chain)) {
        bases.push(chain);
        ops.push({ op: 'base', chain });
      }
      ops.push({
        op: 'newRule',
        chain,
        exprs: r.exprs,
        compat: { proto: r.proto, flags: 0 },
        ...(c.op === 'insert' ? { insert: true } : {}),
      });
    } else return undefined;
  }
  return {
    bases,
    needs,
    ops: (exists) => {
      const missing = bases.filter((b) => !exists(b));
      const planned = ops.flatMap((op): NftOp[] => {
        if (op.op !== 'base') return [op];
        if (!missing.includes(op.chain)) return [];
        const type = table === 'nat' ? 'nat' : 'filter';
        return [{ op: 'newChain', chain: op.chain, base: { ...baseOf(table, op.chain)!, type, policy: NF_ACCEPT } }];
      });
      // the table too when a base chain is missing (it may be the table that is missing)
      return missing.length ? [{ op: 'newTable' }, ...planned] : planned;
    },
  };
}

/**
 * The nf_tables ops iptables-nft would send for `create` and `append` changes of the nat table,
 * given which chains exist; undefined when a change is outside the subset (the bridge's
 * masquerade rules: jumps only to chains the batch creates).
 */
export function nftOpsOf(
  f: Family,
  changes: readonly Change[],
): ((exists: (chain: string) => boolean) => NftOp[]) | undefined {
  if (changes.length === 0 || tableOf(changes) !== 'nat') return undefined;
  if (changes.some((c) => c.op !== 'create' && c.op !== 'append')) return undefined;
  // appends only to created chains or POSTROUTING; jumps only to created chains
  const created = new Set(changes.flatMap((c) => (c.op === 'create' ? [c.chain] : [])));
  for (const c of changes) {
    if (c.op !== 'append') continue;
    if (!(created.has(c.rule.chain) || c.rule.chain === 'POSTROUTING')) return undefined;
    const t = c.rule.spec[c.rule.spec.indexOf('-j') + 1];
    if (t && !['ACCEPT', 'MASQUERADE'].includes(t) && !created.has(t)) return undefined;
  }
  const plan = planNft(f, changes);
  if (!plan) return undefined;
  // the bridge's rules carry no -p: no compat protocol
  return plan.ops;
}

/** How applyNft ended: applied, or the chain to create exists already (nothing applied). */
export type NftApplied = 'done' | 'exists';

/**
 * Applies `create` and `append` changes of the nat table to nf_tables in one batch, as
 * iptables-restore on iptables-nft would; 'exists' when a chain to create is there already
 * (iptables' "Chain already exists"), nothing applied. Undefined, nothing applied, when this
 * cannot be done without iptables-restore: the node's iptables is not iptables-nft, a change
 * outside the subset, no nfnetlink, or any other refusal (restore then reports it as it does).
 */
export function applyNft(exec: Executor, f: Family, changes: readonly Change[]): NftApplied | undefined {
  if (!nftHere(exec, f)) return undefined;
  const plan = nftOpsOf(f, changes);
  if (!plan) return undefined;
  let sent: readonly NftOp[] = [];
  const out = exec.nftTransaction!(NFT_FAMILY[f], 'nat', (read) => {
    sent = plan((chain) => read.chainExists(chain));
    return sent;
  });
  if (!out) return undefined;
  if (out.ok) return 'done';
  const failed = sent[out.index];
  return out.errno === EEXIST && failed?.op === 'newChain' && failed.excl ? 'exists' : undefined;
}

/** How applyChangesNft ended: applied, or refused with nothing (more) applied (see there). */
export type NftChangesApplied = 'done' | 'refused';

/**
 * Applies a restore batch (see planNft) to nf_tables as iptables-restore on iptables-nft would:
 * one atomic transaction per table section, in the order restore commits them (a section of
 * checks only is read with the next one). 'refused' where iptables-restore would refuse a
 * section — a rule to check is not there, a probe's target or a chain a rule goes into or jumps
 * to does not exist (ENOENT), a chain to create does (EEXIST) —, that section and the later
 * ones applied nothing (as with restore, an earlier section stays). Undefined, nothing applied,
 * when this cannot be done without iptables-restore (see applyNft; also any other refusal of the
 * first section, which restore then reports as it does; of a later one: 'refused').
 */
export function applyChangesNft(
  exec: Executor,
  f: Family,
  changes: readonly Change[],
  jumpable: ReadonlySet<string> = new Set(),
): NftChangesApplied | undefined {
  if (!nftHere(exec, f)) return undefined;
  const plans = sectionsOf(changes).map((s) => ({ table: s.table, plan: planNft(f, s.changes, jumpable) }));
  if (plans.length === 0 || plans.some((p) => !p.plan)) return undefined;
  let applied = false;
  for (const { table, plan } of plans) {
    const out = transact(exec, f, table, plan!);
    if (out === 'done') applied = true;
    else return out === 'refused' || applied ? 'refused' : undefined;
  }
  return 'done';
}

// One section's transaction: its needs read, then its ops, under one generation.
function transact(exec: Executor, f: Family, table: TableName, plan: NftPlan): NftChangesApplied | undefined {
  let refused = false;
  const out = exec.nftTransaction!(NFT_FAMILY[f], table, (read) => {
    refused =
      plan.needs.chains.some((c) => !read.chainExists(c)) ||
      plan.needs.rules.some((r) => !read.hasRule(r.chain, r.exprs, r.table));
    return refused ? [] : plan.ops((chain) => read.chainExists(chain));
  });
  if (!out) return undefined;
  if (refused) return 'refused';
  if (out.ok) return 'done';
  return out.index >= 0 && (out.errno === EEXIST || out.errno === ENOENT) ? 'refused' : undefined;
}

// The changes by table in the order restore's sections commit (renderRestore's: first use), a
// section of checks only joined to the next one (or the last, at the end).
function sectionsOf(changes: readonly Change[]): Array<{ table: TableName; changes: Change[] }> {
  const by = new Map<TableName, Change[]>();
  for (const c of changes) {
    const t = 'rule' in c ? c.rule.table : c.table;
    by.set(t, [...(by.get(t) ?? []), c]);
  }
  const out: Array<{ table: TableName; changes: Change[] }> = [];
  let pending: Change[] = [];
  for (const [table, list] of by) {
    if (list.every((c) => c.op === 'check')) pending.push(...list);
    else {
      out.push({ table, changes: [...pending, ...list] });
      pending = [];
    }
  }
  if (pending.length && out.length) out.at(-1)!.changes.push(...pending);
  return out;
}

/** What removeChainsNft found: the chain (and its jumps) removed, or no such chain (nothing done). */
export type NftRemoved = 'removed' | 'absent';

/**
 * Removes user chain `chain` of `table` with every rule of the chains `from` jumping to it, as
 * `iptables -D` of each jump, `-F` and `-X` would: 'removed', or 'absent' when the chain is not
 * there (then nothing is sent: a jump to a missing chain cannot exist). With `expected`, the
 * jumps must be exactly those rules (else nothing is done), as a restore `-D`ing each of them
 * and then `-X`ing the chain would be refused. Undefined, nothing applied, when it cannot be
 * done here (see applyNft; also when a rule of another chain still jumps to it: the kernel
 * refuses the delete, EBUSY, and restore reads the table).
 */
export function removeChainsNft(
  exec: Executor,
  f: Family,
  table: TableName,
  chain: string,
  from: readonly string[],
  expected?: readonly Rule[],
): NftRemoved | undefined {
  if (!nftHere(exec, f) || baseOf(table, chain)) return undefined;
  // the jumps the caller knows it wrote: each must be there, and no other (as `-D` of each, then `-X`)
  const known = expected?.map((r) => ({ chain: r.chain, exprs: ruleExprs(f, r.spec, new Set([chain]))?.exprs }));
  if (known?.some((k) => !k.exprs || !from.includes(k.chain))) return undefined;
  let absent = false;
  let differs = false;
  const out = exec.nftTransaction!(NFT_FAMILY[f], table, (read) => {
    absent = !read.chainExists(chain);
    if (absent) return [];
    const ops: NftOp[] = from.flatMap((c) =>
      read.jumpsTo(c, chain).map((handle): NftOp => ({ op: 'delRule', chain: c, handle })),
    );
    differs = !!known && (ops.length !== known.length || !known.every((k) => read.hasRule(k.chain, k.exprs!)));
    if (differs) return [];
    ops.push({ op: 'flush', chain }, { op: 'delChain', chain });
    return ops;
  });
  if (!out?.ok || differs) return undefined;
  return absent ? 'absent' : 'removed';
}

/**
 * removeChainsNft, 'done' whether the chain was there or not (the bridge's teardown).
 */
export function removeChainNft(
  exec: Executor,
  f: Family,
  table: TableName,
  chain: string,
  from: readonly string[],
): 'done' | undefined {
  return removeChainsNft(exec, f, table, chain, from) ? 'done' : undefined;
}

/**
 * True when user chain `chain` exists in `table` (read through nfnetlink, no process); undefined
 * when that cannot be asked here (as applyNft).
 */
export function chainExistsNft(exec: Executor, f: Family, table: TableName, chain: string): boolean | undefined {
  if (!nftHere(exec, f)) return undefined;
  let exists = false;
  const out = exec.nftTransaction!(NFT_FAMILY[f], table, (read) => {
    exists = read.chainExists(chain);
    return [];
  });
  return out?.ok ? exists : undefined;
}

function tableOf(changes: readonly Change[]): TableName | undefined {
  const tables = new Set(changes.map((c) => ('rule' in c ? c.rule.table : c.table)));
  return tables.size === 1 ? [...tables][0] : undefined;
}
