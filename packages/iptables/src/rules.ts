// Typed iptables values: address families, tables, rules, and the changes a plugin run makes.

/** IPv4 (iptables) or IPv6 (ip6tables). */
export type Family = 4 | 6;

/** The iptables tables a plugin may touch. */
export type TableName = 'filter' | 'nat' | 'mangle' | 'raw' | 'security';

/** One rule: where it lives and its specification (everything after `-A <chain>`). */
export interface Rule {
  readonly table: TableName;
  readonly chain: string;
  readonly spec: readonly string[];
}

/**
 * One change of a restore batch. `declare` creates a chain, and FLUSHES it when it exists
 * (iptables-restore semantics): declare only chains the plugin owns. Shared chains are
 * created with `ensureChain` after reading the table, which declares them only when missing,
 * or with `create` (`-N`), which fails the whole batch when the chain exists meanwhile: a
 * compare-and-swap for shared chains that other processes may be creating at the same time.
 */
export type Change =
  | { readonly op: 'declare'; readonly table: TableName; readonly chain: string }
  | { readonly op: 'create'; readonly table: TableName; readonly chain: string }
  | { readonly op: 'append'; readonly rule: Rule }
  | { readonly op: 'insert'; readonly rule: Rule; readonly position?: number }
  | { readonly op: 'delete'; readonly rule: Rule }
  /** `-C`: changes nothing; the table's section is refused when the rule is not there. */
  | { readonly op: 'check'; readonly rule: Rule }
  | { readonly op: 'flush'; readonly table: TableName; readonly chain: string }
  | { readonly op: 'deleteChain'; readonly table: TableName; readonly chain: string };

/** The built-in chains of each table; they always exist and can never be declared or deleted. */
export const BUILTIN_CHAINS: Readonly<Record<TableName, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** A rule value (a small constructor so call sites read like iptables). */
export function rule(table: TableName, chain: string, ...spec: string[]): Rule {
  return { table, chain, spec };
}

/** True when two rules are the same table, chain and argument list. */
export function sameRule(a: Rule, b: Rule): boolean {
  return (
    a.table === b.table &&
    a.chain === b.chain &&
    a.spec.length === b.spec.length &&
    a.spec.every((x, i) => x === b.spec[i])
  );
}

/** The target of a rule (`-j X` or `-g X`), if any. */
export function ruleTarget(r: Rule): string | undefined {
  for (let i = 0; i < r.spec.length - 1; i++) if (r.spec[i] === '-j' || r.spec[i] === '-g') return r.spec[i + 1];
  return undefined;
}

/** The value of `-m comment --comment`, if the rule has one. */
export function ruleComment(r: Rule): string | undefined {
  const i = r.spec.indexOf('--comment');
  return i >= 0 ? r.spec[i + 1] : undefined;
}
