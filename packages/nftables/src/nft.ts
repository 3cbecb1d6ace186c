// nftables through `nft -f -` scripts (one atomic transaction per call) and `nft -j list`.
import { type Executor, ProcessError, classify, isKind, runChecked } from '@cni-ts/process';

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

/**
 * Runs an nft script (several commands, one transaction) with `nft -f -`. Values in it must have
 * been written with nftString/nftIdentifier. A failure says which script line nft refused.
 */
export function nftApply(exec: Executor, script: string): void {
  if (script.trim() === '') return;
  const r = exec.run('nft', ['-f', '-'], { input: script });
  if (r.status === 0) return;
  const m = /^\/dev\/stdin:(\d+):/m.exec(r.stderr);
  const index = m ? Number(m[1]) - 1 : -1;
  const line = script.split('\n')[index];
  const { kind, object } = classify(r.stderr);
  const why =
    r.stderr
      .trim()
      .split('\n')[0]
      ?.replace(/^\/dev\/stdin:[\d:-]+ /, '') || `exit status ${r.status}`;
  const command = line !== undefined ? `nft ${line}` : 'nft -f -';
  throw new ProcessError(kind, command, `${command}: ${why}`, {
    status: r.status,
    stderr: r.stderr,
    ...(object !== undefined ? { object } : {}),
    ...(line !== undefined ? { failed: { index, args: [line] } } : {}),
  });
}

/**
 * Lists with `nft -j list <what…>` (e.g. ['table', 'bridge', 'nat']). When the table or chain
 * named does not exist the listing is empty; any other failure is an error.
 */
export function nftList(exec: Executor, what: readonly string[]): NftListing {
  // a table (or a chain of a table) the kernel says does not exist lists as nft's "missing"
  // below would, without starting nft (the executor's nfnetlink probe: docs/performance.md)
  const [kind, family, table] = what;
  if ((kind === 'table' || kind === 'chain') && family && table && exec.nftTableExists?.(family, table) === false)
    return { chains: [], rules: [] };
  let stdout: string;
  try {
    stdout = runChecked(exec, 'nft', ['-j', 'list', ...what]).stdout;
  } catch (e) {
    if (isKind(e, 'missing') && e.object !== undefined && what.slice(2).includes(e.object))
      return { chains: [], rules: [] };
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
