// GC's iptables masquerade read on iptables-nft nodes without a process: the nat table's rules
// dumped once through nfnetlink (their chains and comment matches) instead of an iptables-save of
// the whole table per family; the stale chains removed as DEL removes them (removeChainNft).
// Anything this cannot tell or do goes to the iptables-save path as before: a node that is not
// iptables-nft, Node or CNI_TS_NETLINK=0, a masquerade-shaped chain (CNI- and 24 hex digits)
// none of whose rules carries a comment match it can read (rules written in another encoding),
// a stale chain something other than POSTROUTING jumps to.
import { type Family, nftHere, removeChainNft } from '@cni-ts/iptables';
import type { Executor } from '@cni-ts/process';
import { staleMasqChains } from './plan-masq-iptables.js';

const MASQ_SHAPED = /^CNI-[0-9a-f]{24}$/;

/**
 * Removes the masquerade chains of `network` whose container is not in `keep` in family `f`,
 * reading through nfnetlink: 'done' (nothing stale, or all removed), undefined when the caller
 * must read with iptables-save (see above; what was removed before stays removed).
 */
export function gcMasqNft(exec: Executor, f: Family, network: string, keep: ReadonlySet<string>): 'done' | undefined {
  const fam = nftHere(exec, f);
  if (!fam) return undefined;
  let stale: string[] | undefined;
  const out = exec.nftTransaction!(fam, 'nat', (read) => {
    const rules = read.ruleComments();
    const commented = new Set(rules.flatMap((r) => (r.comment === undefined ? [] : [r.chain])));
    const unread = rules.some((r) => MASQ_SHAPED.test(r.chain) && !commented.has(r.chain));
    stale = unread
      ? undefined
      : staleMasqChains(
          rules.map((r) => r.comment),
          (c) => read.chainExists(c),
          network,
          keep,
        );
    return [];
  });
  if (!out?.ok || !stale) return undefined;
  for (const name of stale) if (removeChainNft(exec, f, 'nat', name, ['POSTROUTING']) !== 'done') return undefined;
  return 'done';
}
