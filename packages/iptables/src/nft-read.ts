// Reading iptables rules without a process on iptables-nft nodes: whether chains exist and whether
// rules are there, asked of nf_tables through nfnetlink (one reading transaction, the rules of the
// named chains dumped by the kernel and compared with the rules as iptables-nft 1.8.9 encodes
// them, see nft.ts and nf-write.ts' hasRule), instead of an iptables-save of the whole table,
// whose cost grows with every pod's rules.
import type { Executor } from '@cni-ts/process';
import { nftHere, ruleExprs } from './nft.js';
import type { Family, Rule, TableName } from './rules.js';

/** What rulesPresentNft read: per chain asked, whether it exists; per rule, whether it is there. */
export interface NftPresence {
  chains: boolean[];
  rules: boolean[];
}

/**
 * Whether `chains` of `table` exist and `rules` (of any table of the family) are there, in one
 * reading transaction through nfnetlink, as `iptables -C` answers for rules in iptables-nft's
 * encoding. A rule is there when one of its chain's rules holds exactly its expressions (as
 * hasRule compares them); a rule written by another iptables version in another encoding reads
 * as absent, so a caller told "absent" that must be exact asks iptables-save. Undefined when it
 * cannot be asked here: the node's iptables is not iptables-nft, no nfnetlink (Node,
 * CNI_TS_NETLINK=0), a rule outside the encoded subset, or the read failed.
 */
export function rulesPresentNft(
  exec: Executor,
  f: Family,
  table: TableName,
  chains: readonly string[],
  rules: readonly Rule[],
  jumpable: ReadonlySet<string> = new Set(chains),
): NftPresence | undefined {
  const fam = nftHere(exec, f);
  if (!fam) return undefined;
  const encoded = rules.map((r) => ruleExprs(f, r.spec, jumpable)?.exprs);
  if (encoded.some((e) => !e)) return undefined;
  let seen: NftPresence = { chains: [], rules: [] };
  const out = exec.nftTransaction!(fam, table, (read) => {
    seen = {
      chains: chains.map((c) => read.chainExists(c)),
      rules: rules.map((r, i) => read.hasRule(r.chain, encoded[i]!, r.table)),
    };
    return [];
  });
  return out?.ok ? seen : undefined;
}
