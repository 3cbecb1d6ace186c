// iptables changes written straight to nf_tables when the node's iptables is iptables-nft: the
// rules encoded exactly as iptables-nft 1.8.9 encodes them (nft.c, nft-ipv4.c/nft-ipv6.c: the
// addresses as payload/bitwise/cmp, `-m comment` and `-j MASQUERADE` through the xt compat layer,
// a counter, the verdict; the base chain created on first use with iptables' hook and priority),
// so `iptables-nft -S`, `-D`, `-F`, `-X` and our own readers cannot tell them from iptables-nft's.
// Only a small subset of iptables is encoded; anything else, or a node whose iptables is the
// legacy one, is left to iptables-restore (the caller gets undefined and restores as before).
import { realpathSync, statSync } from 'node:fs';
import { type Executor, type NftExprSpec, type NftFamily, type NftOp, netlinkDisabled } from '@cni-ts/process';
import { type IP, maskOf, parsePrefix } from '@cni-ts/netaddr';
import type { Change, Family, TableName } from './rules.js';

const NFT_FAMILY: Record<Family, NftFamily> = { 4: 'ip', 6: 'ip6' };
const RESTORE: Record<Family, string> = { 4: 'iptables-restore', 6: 'ip6tables-restore' };
const EEXIST = 17;

// iptables-nft's nat base chains (nft.c's builtin table): hook and priority (NF_IP_PRI_NAT_SRC
// 100 for POSTROUTING), policy ACCEPT. Only POSTROUTING is written here; others go to restore.
const BASE: Readonly<Record<string, { hook: number; priority: number }>> = { POSTROUTING: { hook: 4, priority: 100 } };
const NF_ACCEPT = 1;

// Payload offsets in the network header (NFT_PAYLOAD_NETWORK_HEADER = 1): source, destination.
const ADDR: Record<Family, { s: number; d: number; len: number }> = {
  4: { s: 12, d: 16, len: 4 },
  6: { s: 8, d: 24, len: 16 },
};

// MASQUERADE revision 0's info: IPv4 struct nf_nat_ipv4_multi_range_compat with rangesize 1
// (20 bytes, XT_ALIGNed to 24), IPv6 struct nf_nat_range (40 bytes), all else zero.
function masqueradeInfo(f: Family): Uint8Array {
  const info = new Uint8Array(f === 4 ? 24 : 40);
  if (f === 4) info[0] = 1; // rangesize, host byte order (little-endian here, as the kernel's)
  return info;
}

const nftOnPath = new Map<Family, boolean>();

/**
 * True when the `iptables-restore` (`ip6tables-restore`) the executor would run is iptables-nft
 * (xtables-nft-multi): then writing nf_tables is what it would do. Legacy, wrappers, anything else: false.
 */
export function restoreIsNft(f: Family): boolean {
  const known = nftOnPath.get(f);
  if (known !== undefined) return known;
  let found = false;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const path = `${dir}/${RESTORE[f]}`;
    try {
      if (!statSync(path).isFile()) continue;
      found = realpathSync(path).endsWith('/xtables-nft-multi');
    } catch {
      continue;
    }
    break;
  }
  nftOnPath.set(f, found);
  return found;
}

/** A literal "address/len" of family f as iptables parses it (host bits cleared); undefined otherwise. */
function prefixOf(f: Family, text: string | undefined): { addr: Uint8Array; mask: Uint8Array } | undefined {
  const p = text === undefined ? undefined : parsePrefix(text);
  if (!p || p.ip.family !== f || p.bits === 0) return undefined;
  const mask = maskOf(f, p.bits);
  return { addr: bytesOf(f, p.ip.value & mask), mask: bytesOf(f, mask) };
}

function bytesOf(f: Family, v: IP['value']): Uint8Array {
  const n = f === 4 ? 4 : 16;
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

// add_addr of iptables' nft-shared.c: a byte-aligned mask loads and compares only its whole bytes;
// any other mask loads the whole address, masks it (bitwise) and compares it all.
function addrExprs(f: Family, offset: number, a: { addr: Uint8Array; mask: Uint8Array }, neq: boolean): NftExprSpec[] {
  let whole = 0;
  while (whole < a.mask.length && a.mask[whole] === 0xff) whole++;
  const aligned = a.mask.subarray(whole).every((b) => b === 0);
  const op = neq ? 'neq' : 'eq';
  if (aligned)
    return [
      { expr: 'payload', base: 1, offset, len: whole },
      { expr: 'cmp', op, data: a.addr.subarray(0, whole) },
    ];
  const len = ADDR[f].len;
  return [
    { expr: 'payload', base: 1, offset, len },
    { expr: 'bitwise', len, mask: a.mask, xor: new Uint8Array(len) },
    { expr: 'cmp', op, data: a.addr },
  ];
}

/**
 * The expressions iptables-nft writes for a rule spec of the subset `[!] -s A/L`, `[!] -d A/L`,
 * `-m comment --comment C`, `-j ACCEPT | MASQUERADE | <chain in jumpable>`; undefined for
 * anything else (then iptables-restore writes it).
 */
export function xtExprs(f: Family, spec: readonly string[], jumpable: ReadonlySet<string>): NftExprSpec[] | undefined {
  let s: NftExprSpec[] = [];
  let d: NftExprSpec[] = [];
  let comment: NftExprSpec | undefined;
  let verdict: NftExprSpec | undefined;
  for (let i = 0; i < spec.length; i++) {
    const neg = spec[i] === '!';
    if (neg) i++;
    const w = spec[i];
    if ((w === '-s' || w === '-d') && (w === '-s' ? s : d).length === 0) {
      const p = prefixOf(f, spec[++i]);
      if (!p) return undefined;
      const e = addrExprs(f, ADDR[f][w === '-s' ? 's' : 'd'], p, neg);
      if (w === '-s') s = e;
      else d = e;
    } else if (neg) return undefined;
    else if (w === '-m' && spec[i + 1] === 'comment' && spec[i + 2] === '--comment' && !comment) {
      const text = new TextEncoder().encode(spec[i + 3] ?? '');
      if (spec[i + 3] === undefined || text.length > 255 || text.includes(0)) return undefined;
      const info = new Uint8Array(256); // struct xt_comment_info
      info.set(text);
      comment = { expr: 'match', name: 'comment', rev: 0, info };
      i += 3;
    } else if (w === '-j' && !verdict && i + 1 < spec.length) {
      const t = spec[++i]!;
      if (t === 'ACCEPT') verdict = { expr: 'accept' };
      else if (t === 'MASQUERADE') verdict = { expr: 'target', name: 'MASQUERADE', rev: 0, info: masqueradeInfo(f) };
      else if (jumpable.has(t)) verdict = { expr: 'jump', chain: t };
      else return undefined;
    } else return undefined;
  }
  if (!verdict) return undefined;
  return [...s, ...d, ...(comment ? [comment] : []), { expr: 'counter' }, verdict];
}

/** How applyNft ended: applied, or the chain to create exists already (nothing applied). */
export type NftApplied = 'done' | 'exists';

/**
 * The nf_tables ops iptables-nft would send for `create` and `append` changes of the nat table,
 * given which chains exist (the table and a base chain are created before the first rule that
 * needs them, as iptables-nft does); undefined when a change is outside the subset.
 */
export function nftOpsOf(
  f: Family,
  changes: readonly Change[],
): ((exists: (chain: string) => boolean) => NftOp[]) | undefined {
  if (changes.length === 0 || tableOf(changes) !== 'nat') return undefined;
  const created = new Set(changes.flatMap((c) => (c.op === 'create' ? [c.chain] : [])));
  const ops: Array<NftOp | { op: 'base'; chain: string }> = [];
  const bases = new Set<string>();
  for (const c of changes) {
    if (c.op === 'create' && !(c.chain in BASE)) ops.push({ op: 'newChain', chain: c.chain, excl: true });
    else if (c.op === 'append') {
      const exprs = xtExprs(f, c.rule.spec, created);
      if (!exprs || !(created.has(c.rule.chain) || c.rule.chain in BASE)) return undefined;
      if (c.rule.chain in BASE && !bases.has(c.rule.chain)) {
        bases.add(c.rule.chain);
        ops.push({ op: 'base', chain: c.rule.chain });
      }
      ops.push({ op: 'newRule', chain: c.rule.chain, exprs, compat: { proto: 0, flags: 0 } });
    } else return undefined;
  }
  return (exists) => {
    const missing = [...bases].filter((b) => !exists(b));
    const planned = ops.flatMap((op): NftOp[] => {
      if (op.op !== 'base') return [op];
      if (!missing.includes(op.chain)) return [];
      return [{ op: 'newChain', chain: op.chain, base: { ...BASE[op.chain]!, type: 'nat', policy: NF_ACCEPT } }];
    });
    // the table too when a base chain is missing (it may be the table that is missing)
    return missing.length ? [{ op: 'newTable' }, ...planned] : planned;
  };
}

/**
 * Applies `create` and `append` changes of the nat table to nf_tables in one batch, as
 * iptables-restore on iptables-nft would; 'exists' when a chain to create is there already
 * (iptables' "Chain already exists"), nothing applied. Undefined, nothing applied, when this
 * cannot be done without iptables-restore: the node's iptables is not iptables-nft, a change
 * outside the subset, no nfnetlink, or any other refusal (restore then reports it as it does).
 */
export function applyNft(exec: Executor, f: Family, changes: readonly Change[]): NftApplied | undefined {
  if (!exec.nftTransaction || netlinkDisabled() || !restoreIsNft(f)) return undefined;
  const plan = nftOpsOf(f, changes);
  if (!plan) return undefined;
  let sent: readonly NftOp[] = [];
  const out = exec.nftTransaction(NFT_FAMILY[f], 'nat', (read) => {
    sent = plan((chain) => read.chainExists(chain));
    return sent;
  });
  if (!out) return undefined;
  if (out.ok) return 'done';
  const failed = sent[out.index];
  return out.errno === EEXIST && failed?.op === 'newChain' && failed.excl ? 'exists' : undefined;
}

/**
 * Removes user chain `chain` of `table` with every rule of the chains `from` jumping to it, as
 * `iptables -D` of each jump, `-F` and `-X` would (nothing when neither is there): 'done', or
 * undefined, nothing applied, when it cannot be done here (see applyNft; also when a rule of
 * another chain still jumps to it: the kernel refuses the delete and restore reads the table).
 */
export function removeChainNft(
  exec: Executor,
  f: Family,
  table: TableName,
  chain: string,
  from: readonly string[],
): 'done' | undefined {
  if (!exec.nftTransaction || netlinkDisabled() || !restoreIsNft(f) || chain in BASE) return undefined;
  const out = exec.nftTransaction(NFT_FAMILY[f], table, (read) => {
    const ops: NftOp[] = from.flatMap((c) =>
      read.jumpsTo(c, chain).map((handle): NftOp => ({ op: 'delRule', chain: c, handle })),
    );
    if (read.chainExists(chain)) ops.push({ op: 'flush', chain }, { op: 'delChain', chain });
    return ops;
  });
  return out?.ok ? 'done' : undefined;
}

function tableOf(changes: readonly Change[]): TableName | undefined {
  const tables = new Set(changes.map((c) => ('rule' in c ? c.rule.table : c.table)));
  return tables.size === 1 ? [...tables][0] : undefined;
}
