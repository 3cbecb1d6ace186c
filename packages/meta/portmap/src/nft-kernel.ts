// The per-container chains of portmap's nftables table read through the kernel (the executor's
// nftChainRules: one nfnetlink dump per chain, no `nft` process), as the NftListing `nft -j list`
// gives: the rules with their handle and comment, and the expressions plan-nft reads — address
// and port matches, dnat and masquerade — written as nft's JSON writes them. `nft -j list table`
// renders every rule of the table, so its cost grew with the pods on the node (4.3 ms of CPU
// empty, 26.8 ms at 250 pods); the dump's does by microseconds per rule (docs/performance.md).
// ADD and DEL use it; CHECK and GC, which read the whole table, still list it with nft.
import { type IP, formatIP } from '@cni-ts/netaddr';
import type { NftListing, NftRule } from '@cni-ts/nftables';
import type { Executor, NfExpr, NfRule } from '@cni-ts/process';
import { NFT_FAMILY, NFT_TABLE, RULE_CHAINS } from './plan-nft.js';

const NFT_PAYLOAD_NETWORK_HEADER = 1;
const NFT_PAYLOAD_TRANSPORT_HEADER = 2;
const NFT_META_L4PROTO = 16;
const NFT_CMP_EQ = 0;
const NFT_NAT_SNAT = 0;
const NFT_NAT_DNAT = 1;
// a switch, not a table built at load (what a run evaluates at load costs JavaScriptCore blocks)
function protocolName(p: number | undefined): string | undefined {
  return p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 132 ? 'sctp' : undefined;
}

/**
 * The rules of the per-container chains of a family's table, through the kernel: with `containerId`,
 * only that container's (what ADD and DEL read; the others are skipped undecoded). Undefined when
 * the executor cannot (then nftList).
 */
export function kernelListing(exec: Executor, family: 4 | 6, containerId?: string): NftListing | undefined {
  const rules = exec.nftChainRules?.(NFT_FAMILY[family], NFT_TABLE, RULE_CHAINS, containerId);
  if (!rules) return undefined;
  return { chains: [], rules: rules.map((r) => asNftRule(family, r)) };
}

/** A kernel rule as `nft -j list` shows it, as far as plan-nft reads it. */
export function asNftRule(family: 4 | 6, r: NfRule): NftRule {
  const out: NftRule = { family: NFT_FAMILY[family], table: NFT_TABLE, chain: r.chain, handle: r.handle };
  if (r.comment !== undefined) out.comment = r.comment;
  out.expr = jsonExprs(family, r.exprs);
  return out;
}

// What a register holds: a payload or meta load, or an immediate value.
type Loaded =
  | { from: 'payload'; base: number; offset: number; len: number; mask?: Uint8Array }
  | { from: 'l4proto' }
  | { from: 'value'; data: Uint8Array };

function jsonExprs(family: 4 | 6, exprs: readonly NfExpr[]): unknown[] {
  const regs = new Map<number, Loaded>();
  let l4proto: number | undefined;
  const out: unknown[] = [];
  for (const e of exprs) {
    switch (e.name) {
      case 'payload':
        regs.set(e.dreg, { from: 'payload', base: e.base, offset: e.offset, len: e.len });
        break;
      case 'meta':
        if (e.key === NFT_META_L4PROTO && e.dreg !== undefined) regs.set(e.dreg, { from: 'l4proto' });
        else out.push({ meta: null });
        break;
      case 'bitwise': {
        const src = regs.get(e.sreg);
        if (src?.from === 'payload' && e.mask) regs.set(e.dreg, { ...src, mask: e.mask });
        else regs.delete(e.dreg);
        break;
      }
      case 'immediate':
        if (e.data) regs.set(e.dreg, { from: 'value', data: e.data });
        else out.push({ immediate: null }); // a verdict (jump, accept…)
        break;
      case 'cmp': {
        const src = regs.get(e.sreg);
        if (src?.from === 'l4proto' && e.op === NFT_CMP_EQ && e.data.length === 1) l4proto = e.data[0];
        else out.push(match(family, src, e.op, e.data, l4proto));
        break;
      }
      case 'nat': {
        const kind = e.type === NFT_NAT_DNAT ? 'dnat' : e.type === NFT_NAT_SNAT ? 'snat' : 'nat';
        const addr = e.regAddrMin === undefined ? undefined : regs.get(e.regAddrMin);
        const port = e.regProtoMin === undefined ? undefined : regs.get(e.regProtoMin);
        const to: Record<string, unknown> = {};
        if (addr?.from === 'value') to.addr = ipText(addr.data);
        if (port?.from === 'value' && port.data.length >= 2) to.port = (port.data[0]! << 8) | port.data[1]!;
        out.push({ [kind]: to });
        break;
      }
      default:
        out.push(e.kind === 'masq' ? { masquerade: null } : { [e.kind]: null });
    }
  }
  return out;
}

// A comparison as nft's JSON writes the ones portmap writes: an address or a destination port.
function match(family: 4 | 6, src: Loaded | undefined, op: number, data: Uint8Array, l4proto: number | undefined) {
  const opText = op === NFT_CMP_EQ ? '==' : '!=';
  if (src?.from === 'payload' && src.base === NFT_PAYLOAD_NETWORK_HEADER) {
    const ipX = NFT_FAMILY[family];
    const [s, d, n] = family === 4 ? [12, 16, 4] : [8, 24, 16];
    // a prefix on a byte boundary is a shorter load; any other, a mask (bitwise) before the comparison
    const field = src.offset === s ? 'saddr' : src.offset === d ? 'daddr' : undefined;
    if (field && src.len <= n && data.length === src.len) {
      const left = { payload: { protocol: ipX, field } };
      const len = src.mask ? prefixLength(src.mask) : src.len * 8;
      const addr = new Uint8Array(n);
      addr.set(data);
      const right = len === n * 8 ? ipText(addr) : { prefix: { addr: ipText(addr), len } };
      return { match: { op: opText, left, right } };
    }
  }
  if (src?.from === 'payload' && src.base === NFT_PAYLOAD_TRANSPORT_HEADER && src.offset === 2 && src.len === 2) {
    const protocol = protocolName(l4proto) ?? `l4proto ${l4proto}`;
    return {
      match: { op: opText, left: { payload: { protocol, field: 'dport' } }, right: (data[0]! << 8) | data[1]! },
    };
  }
  return { match: { op: opText, left: null, right: null } };
}

function prefixLength(mask: Uint8Array): number {
  let bits = 0;
  for (const b of mask) for (let i = 7; i >= 0; i--) if (b & (1 << i)) bits++;
  return bits;
}

function ipText(b: Uint8Array): string {
  let value = 0n;
  for (const x of b) value = (value << 8n) | BigInt(x);
  const ip: IP = { family: b.length === 4 ? 4 : 6, value };
  return formatIP(ip);
}
