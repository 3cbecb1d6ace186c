// CHECK's masquerade check on iptables-nft nodes without a process: the attachment's chain and
// rules asked of nf_tables through nfnetlink (rulesPresentNft: the kernel's dump of the chain and
// of POSTROUTING, compared with the rules in iptables-nft's encoding) instead of an iptables-save
// of the whole nat table per family, whose cost grows with the node's pods. What it cannot tell
// exactly goes to the iptables-save reading as before: a node that is not iptables-nft, Node or
// CNI_TS_NETLINK=0, the nftables backend, and any rule it does not find (a rule written in
// another iptables version's encoding reads as absent here, so "missing" is iptables-save's word).
import type { Executor } from '@cni-ts/process';
import { rulesPresentNft } from '@cni-ts/iptables';
import type { BridgeConf } from './config.js';
import { type MasqOwner, checkMasqRules, familiesOf } from './apply-masq.js';
import { familyOf, masqChain, masqProblems, masqRules } from './plan-masq-iptables.js';

/**
 * What is missing of an attachment's iptables masquerade rules, read through nfnetlink in each
 * family of `addresses` (the words checkMasq uses); undefined when that cannot be read here (see
 * rulesPresentNft).
 */
export function masqProblemsNft(exec: Executor, o: MasqOwner, addresses: readonly string[]): string[] | undefined {
  const problems: string[] = [];
  const name = masqChain(o.network, o.containerId);
  for (const f of familiesOf(addresses)) {
    const { chain, jumps } = masqRules(
      o.network,
      o.containerId,
      addresses.filter((a) => familyOf(a) === f),
    );
    const rules = [...chain, ...jumps];
    const seen = rulesPresentNft(exec, f, 'nat', [name], rules);
    if (!seen) return undefined;
    problems.push(...masqProblems(name, seen.chains[0]!, seen.chains[0] ? rules.filter((_, i) => !seen.rules[i]) : []));
  }
  return problems;
}

/**
 * CHECK's masquerade problems: none, or a missing chain, as nfnetlink reads them where it can;
 * otherwise (and whenever a rule reads as missing) checkMasqRules' reading with iptables-save.
 */
export function masqCheckProblems(
  exec: Executor,
  conf: BridgeConf,
  o: MasqOwner,
  addresses: readonly string[],
): string[] {
  if (conf.ipMasqBackend !== 'nftables') {
    const fast = masqProblemsNft(exec, o, addresses);
    if (fast?.every((p) => p.startsWith('chain '))) return fast;
  }
  return checkMasqRules(exec, conf, o, addresses);
}
