// nftables through `nft -f -` scripts (one atomic transaction per call) and `nft -j list`.
import { type Executor, isKind, runChecked } from '@cni-ts/process';

/** An nft rule as `nft -j list` reports it (the parts plugins read). */
export interface NftRule {
  family: string;
  table: string;
  chain: string;
  handle: number;
  comment?: string;
  expr?: unknown[];
}

/** An nft chain as `nft -j list` reports it. */
export interface NftChain {
  family: string;
  table: string;
  name: string;
  handle: number;
  type?: string;
  hook?: string;
  prio?: number;
  policy?: string;
}

/** What a `nft -j list` call found: chains and rules, in order. */
export interface NftListing {
  chains: NftChain[];
  rules: NftRule[];
}

/** A string as an nft script token: double-quoted (nft strings cannot contain a double quote). */
export function nftString(s: string): string {
  return `"${s.replace(/"/g, '')}"`;
}

/** Runs an nft script (several commands, one transaction) with `nft -f -`. */
export function nftApply(exec: Executor, script: string): void {
  if (script.trim() === '') return;
  runChecked(exec, 'nft', ['-f', '-'], { input: script });
}

/**
 * Lists with `nft -j list <what…>` (e.g. ['table', 'bridge', 'nat']). A table or chain that does
 * not exist is an empty listing, not an error.
 */
export function nftList(exec: Executor, what: readonly string[]): NftListing {
  let stdout: string;
  try {
    stdout = runChecked(exec, 'nft', ['-j', 'list', ...what]).stdout;
  } catch (e) {
    if (isKind(e, 'missing')) return { chains: [], rules: [] };
    throw e;
  }
  return parseNftJson(stdout);
}

/** Parses `nft -j` output into chains and rules. */
export function parseNftJson(stdout: string): NftListing {
  const out: NftListing = { chains: [], rules: [] };
  if (stdout.trim() === '') return out;
  const doc = JSON.parse(stdout) as { nftables?: Array<Record<string, unknown>> };
  for (const item of doc.nftables ?? []) {
    if (item.chain) out.chains.push(item.chain as NftChain);
    if (item.rule) out.rules.push(item.rule as NftRule);
  }
  return out;
}
