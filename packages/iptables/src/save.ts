// The state of iptables tables as iptables-save prints it, parsed into typed rules, with the
// queries plugins plan against (does this chain or rule exist, what jumps where).
import { BUILTIN_CHAINS, type Change, type Rule, type TableName, ruleTarget, sameRule } from './rules.js';
import { splitArgs } from './restore.js';

/** One table as read from iptables-save: its chains (in order) and its rules (in order). */
export interface TableState {
  readonly table: TableName;
  readonly chains: readonly string[];
  readonly rules: readonly Rule[];
}

/**
 * Which rules to parse (every chain is always listed); by default all. It gets the chain and the
 * rule's line as iptables-save printed it, so a reader can skip a long chain's lines that cannot
 * concern it without splitting them.
 */
export type ChainFilter = (chain: string, line: string) => boolean;

/**
 * Parses iptables-save output and returns the section for `table` (empty when absent). With
 * `rulesOf`, only the rules of the chains it accepts are parsed: a plugin that reads a few
 * chains of a large table (kube-proxy's) pays for those only.
 */
export function parseSave(text: string, table: TableName, rulesOf?: ChainFilter): TableState {
  const chains: string[] = [];
  const rules: Rule[] = [];
  let current: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) current = line.slice(1);
    else if (line === 'COMMIT') current = undefined;
    else if (current !== table) continue;
    else if (line.startsWith(':')) chains.push(line.slice(1).split(' ')[0]!);
    else if (line.startsWith('-A ')) {
      const end = line.indexOf(' ', 3);
      if (rulesOf && !rulesOf(end < 0 ? line.slice(3) : line.slice(3, end), line)) continue;
      const [, chain, ...spec] = splitArgs(line);
      if (chain) rules.push({ table, chain, spec });
    }
  }
  return { table, chains, rules };
}

/** True when the chain exists (built-in chains always do). */
export function chainExists(state: TableState, chain: string): boolean {
  return state.chains.includes(chain) || BUILTIN_CHAINS[state.table].includes(chain);
}

/** True when exactly this rule exists (compare rule specs in iptables-save's canonical form). */
export function hasRule(state: TableState, r: Rule): boolean {
  return state.rules.some((x) => sameRule(x, r));
}

/** The rules of one chain, in order. */
export function rulesOf(state: TableState, chain: string): Rule[] {
  return state.rules.filter((r) => r.chain === chain);
}

/** Every rule in the table that jumps (or goes) to `target`. */
export function rulesJumpingTo(state: TableState, target: string): Rule[] {
  return state.rules.filter((r) => ruleTarget(r) === target);
}

/** Appends the rule unless it is already there (idempotent append; what go-iptables calls AppendUnique). */
export function ensureRule(state: TableState, r: Rule): Change[] {
  return hasRule(state, r) ? [] : [{ op: 'append', rule: r }];
}

/** Deletes the rule when it is there (idempotent delete). */
export function deleteRule(state: TableState, r: Rule): Change[] {
  return hasRule(state, r) ? [{ op: 'delete', rule: r }] : [];
}

/** Creates a shared chain only when it is missing, so nobody else's rules are flushed. */
export function ensureChain(state: TableState, chain: string): Change[] {
  return chainExists(state, chain) ? [] : [{ op: 'declare', table: state.table, chain }];
}

/** Removes a chain the plugin owns: the rules jumping to it, its rules, then the chain (nothing when absent). */
export function removeChain(state: TableState, chain: string): Change[] {
  const jumps: Change[] = rulesJumpingTo(state, chain).map((r) => ({ op: 'delete', rule: r }));
  if (!state.chains.includes(chain)) return jumps;
  return [...jumps, { op: 'flush', table: state.table, chain }, { op: 'deleteChain', table: state.table, chain }];
}
