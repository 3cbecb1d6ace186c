// The node-level masquerade, in its own nat chain per address family (as kindnet's
// KIND-MASQ-AGENT): pod traffic to the cluster's CIDRs (and any configured non-masquerade CIDRs)
// keeps its source; pod traffic to anywhere else is masqueraded to the node's address.
//
//   nat POSTROUTING
//     -m comment --comment "cni-ts: …" -m addrtype ! --dst-type LOCAL -j CNI-TS-MASQ
//   CNI-TS-MASQ
//     -d <cluster or non-masquerade CIDR> -j RETURN      (one per CIDR of the family)
//     -s <cluster CIDR> -j MASQUERADE [--random-fully]   (one per cluster CIDR of the family)
//
// Pure: plans iptables changes against a table read with iptables-save.
import {
  type Change,
  type Family,
  type Rule,
  type TableState,
  rule,
  rulesOf,
  sameRule,
  removeChain,
} from '@cni-ts/iptables';
import { mustParsePrefix, formatNetwork } from '@cni-ts/netaddr';

/** Our chain in the nat table of both families. */
export const MASQ_CHAIN = 'CNI-TS-MASQ';
const JUMP_COMMENT = 'cni-ts: masquerade pod traffic leaving the cluster';

/** What the masquerade should do for one family. */
export interface MasqSpec {
  readonly clusterCIDRs: readonly string[];
  readonly nonMasqueradeCIDRs: readonly string[];
  readonly randomFully: boolean;
}

function ofFamily(cidrs: readonly string[], family: Family): string[] {
  return cidrs
    .map((c) => mustParsePrefix(c))
    .filter((p) => p.ip.family === family)
    .map(formatNetwork);
}

/** The jump from POSTROUTING into our chain. */
export function jumpRule(): Rule {
  return rule(
    'nat',
    'POSTROUTING',
    '-m',
    'comment',
    '--comment',
    JUMP_COMMENT,
    '-m',
    'addrtype',
    '!',
    '--dst-type',
    'LOCAL',
    '-j',
    MASQ_CHAIN,
  );
}

/** The rules of our chain for one family, in order (empty when the cluster has no CIDR of it). */
export function chainRules(spec: MasqSpec, family: Family): Rule[] {
  const cluster = ofFamily(spec.clusterCIDRs, family);
  if (cluster.length === 0) return [];
  const keep = [...new Set([...cluster, ...ofFamily(spec.nonMasqueradeCIDRs, family)])];
  const masq = spec.randomFully ? ['-j', 'MASQUERADE', '--random-fully'] : ['-j', 'MASQUERADE'];
  return [
    ...keep.map((c) => rule('nat', MASQ_CHAIN, '-d', c, '-j', 'RETURN')),
    ...cluster.map((c) => rule('nat', MASQ_CHAIN, '-s', c, ...masq)),
  ];
}

/** The changes that make the nat table hold exactly our chain for `spec` (none when it does). */
export function planMasq(state: TableState, spec: MasqSpec, family: Family): Change[] {
  const want = chainRules(spec, family);
  if (want.length === 0) return planMasqRemoval(state);
  const have = rulesOf(state, MASQ_CHAIN);
  const changes: Change[] = [];
  const same =
    state.chains.includes(MASQ_CHAIN) && have.length === want.length && have.every((r, i) => sameRule(r, want[i]!));
  if (!same) {
    // we own the chain: declaring it flushes it, and the refill lands in the same transaction
    changes.push({ op: 'declare', table: 'nat', chain: MASQ_CHAIN });
    for (const r of want) changes.push({ op: 'append', rule: r });
  }
  const jumps = rulesOf(state, 'POSTROUTING').filter((r) => r.spec.at(-1) === MASQ_CHAIN);
  const jump = jumpRule();
  for (const r of jumps) if (!sameRule(r, jump)) changes.push({ op: 'delete', rule: r });
  if (!jumps.some((r) => sameRule(r, jump))) changes.push({ op: 'append', rule: jump });
  return changes;
}

/** The changes that remove our chain and every jump to it (uninstall). */
export function planMasqRemoval(state: TableState): Change[] {
  return removeChain(state, MASQ_CHAIN);
}
