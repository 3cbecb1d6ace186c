// IP masquerade with iptables, as upstream's pkg/ip/ipmasq_iptables: one chain per (network,
// container) in the nat table, entered from POSTROUTING by the container's source address.
//
//   POSTROUTING  -s <ip>/32 -j CNI-<hash>          (one per container address)
//   CNI-<hash>   -d <subnet> -j ACCEPT              (one per address: pod-to-pod stays unNATed)
//                ! -d 224.0.0.0/4 -j MASQUERADE     (everything else leaves with the node's address)
//
// Every rule carries the comment `name: "<net>" id: "<containerID>"`.
import { formatIP, formatNetwork, mustParsePrefix } from '@cni-ts/netaddr';
import {
  type Change,
  type Family,
  type Rule,
  type TableState,
  chainExists,
  formatChainName,
  formatComment,
  hasRule,
  removeChain,
  rule,
  ruleComment,
  rulesJumpingTo,
  rulesOf,
} from '@cni-ts/iptables';

const MULTICAST: Record<Family, string> = { 4: '224.0.0.0/4', 6: 'ff00::/8' };

/** The family of an "ip/prefix" string. */
export function familyOf(address: string): Family {
  return mustParsePrefix(address).ip.family;
}

/** The masquerade chain of a container on a network (also what DEL looks for when the netns is gone). */
export function masqChain(network: string, containerId: string): string {
  return formatChainName(network, containerId);
}

/** The rules that masquerade `addresses` (all of one family), in the order they belong in their chains. */
export function masqRules(
  network: string,
  containerId: string,
  addresses: readonly string[],
): { chain: Rule[]; jumps: Rule[] } {
  const chain = masqChain(network, containerId);
  const comment = ['-m', 'comment', '--comment', formatComment(network, containerId)];
  const prefixes = addresses.map(mustParsePrefix);
  const family = prefixes[0]?.ip.family ?? 4;
  const host = family === 4 ? 32 : 128;
  return {
    chain: [
      ...prefixes.map((p) => rule('nat', chain, '-d', formatNetwork(p), ...comment, '-j', 'ACCEPT')),
      rule('nat', chain, '!', '-d', MULTICAST[family], ...comment, '-j', 'MASQUERADE'),
    ],
    jumps: prefixes.map((p) => rule('nat', 'POSTROUTING', '-s', `${formatIP(p.ip)}/${host}`, ...comment, '-j', chain)),
  };
}

/**
 * Changes that make the masquerade rules for `addresses` exist exactly once: the container's
 * own chain is declared (re-created empty) and refilled; POSTROUTING jumps to it that are not
 * wanted are deleted and missing ones appended. Repeating it changes nothing else.
 */
export function planMasqSetup(
  state: TableState,
  network: string,
  containerId: string,
  addresses: readonly string[],
): Change[] {
  if (addresses.length === 0) return [];
  const { chain, jumps } = masqRules(network, containerId, addresses);
  const name = masqChain(network, containerId);
  const changes: Change[] = [{ op: 'declare', table: 'nat', chain: name }];
  for (const r of chain) changes.push({ op: 'append', rule: r });
  for (const r of rulesJumpingTo(state, name)) {
    if (!jumps.some((j) => j.chain === r.chain && j.spec.join('\0') === r.spec.join('\0')))
      changes.push({ op: 'delete', rule: r });
  }
  for (const j of jumps) if (!hasRule(state, j)) changes.push({ op: 'append', rule: j });
  return changes;
}

/**
 * The masquerade rules of `addresses` for a chain that does not exist yet: created with `-N`, so
 * the batch fails ("exists") when it does; else no rule can jump to it yet, and nothing needs to
 * be read first. A node's whole nat table grows with its pods; this stays the same size.
 */
export function planMasqCreate(network: string, containerId: string, addresses: readonly string[]): Change[] {
  if (addresses.length === 0) return [];
  const { chain, jumps } = masqRules(network, containerId, addresses);
  return [
    { op: 'create', table: 'nat', chain: masqChain(network, containerId) },
    ...chain.map((rule): Change => ({ op: 'append', rule })),
    ...jumps.map((rule): Change => ({ op: 'append', rule })),
  ];
}

/**
 * Removal of the masquerade rules when the container's addresses are known (prevResult, the
 * sandbox): its POSTROUTING jumps, then its chain. The batch fails when a rule is not there or
 * another rule still jumps to the chain; the caller then reads the table (planMasqTeardown).
 */
export function planMasqRemoveKnown(network: string, containerId: string, addresses: readonly string[]): Change[] {
  if (addresses.length === 0) return [];
  const name = masqChain(network, containerId);
  return [
    ...masqRules(network, containerId, addresses).jumps.map((rule): Change => ({ op: 'delete', rule })),
    { op: 'flush', table: 'nat', chain: name },
    { op: 'deleteChain', table: 'nat', chain: name },
  ];
}

/** Changes that remove a container's masquerade chain and every rule jumping to it (nothing when absent). */
export function planMasqTeardown(state: TableState, network: string, containerId: string): Change[] {
  return removeChain(state, masqChain(network, containerId));
}

/** What is missing from the masquerade rules of `addresses` (empty when all are in place). */
export function checkMasq(
  state: TableState,
  network: string,
  containerId: string,
  addresses: readonly string[],
): string[] {
  const name = masqChain(network, containerId);
  if (!chainExists(state, name)) return masqProblems(name, false, []);
  const { chain, jumps } = masqRules(network, containerId, addresses);
  const present = rulesOf(state, name);
  const missing = [
    ...chain.filter((r) => !present.some((p) => p.spec.join('\0') === r.spec.join('\0'))),
    ...jumps.filter((j) => !hasRule(state, j)),
  ];
  return masqProblems(name, true, missing);
}

/** CHECK's words for what is missing of the masquerade chain `name` (checkMasq's, and the nfnetlink reading's). */
export function masqProblems(name: string, chainExists: boolean, missing: readonly Rule[]): string[] {
  if (!chainExists) return [`chain ${name} is missing from the nat table`];
  return missing.map((r) => `rule "-A ${r.chain} ${r.spec.join(' ')}" is missing`);
}

const COMMENT_RE = /^name: "([^"\\]*)" id: "([^"\\]*)"$/;

/**
 * Changes that remove the masquerade chains of `network` whose container is not in `keep`
 * (GC). A chain counts as ours only when a rule's comment names this network and the chain
 * name is the hash of that network and container, so other networks and plugins are untouched.
 */
export function planMasqGc(state: TableState, network: string, keep: ReadonlySet<string>): Change[] {
  const stale = staleMasqChains(state.rules.map(ruleComment), (c) => state.chains.includes(c), network, keep);
  return stale.flatMap((name) => removeChain(state, name));
}

/**
 * The masquerade chains GC removes, from the rules' comments (iptables-save's `--comment` text,
 * or nf_tables' comment matches): each existing chain of this network's containers not in `keep`
 * that a comment names, once, in the order first named.
 */
export function staleMasqChains(
  comments: Iterable<string | undefined>,
  exists: (chain: string) => boolean,
  network: string,
  keep: ReadonlySet<string>,
): string[] {
  const stale = new Set<string>();
  for (const c of comments) {
    const m = COMMENT_RE.exec(c ?? '');
    if (!m || m[1] !== network || keep.has(m[2]!)) continue;
    const name = masqChain(network, m[2]!);
    if (!stale.has(name) && exists(name)) stale.add(name);
  }
  return [...stale];
}
