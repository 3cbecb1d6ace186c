// An attachment's rules in the masquerade chain `masq_checks`, read through the kernel (the
// executor's nftChainRules: one nfnetlink dump that the kernel filters by table and chain, no
// `nft` process), as the NftListing `nft -j list chain` gives, as far as the setup and teardown
// plans read it: chain, handle and comment. The chain holds a rule per masqueraded address of
// the node, and `nft -j list chain` renders every one, so its cost grew with the node's pods;
// here the other attachments' rules are skipped by their comment's first bytes (the attachment's
// hash) without being decoded (docs/performance.md). ADD and DEL read this way; CHECK (which
// reads the expressions) and GC (every attachment) still list the chain with nft.
import { type NftListing, type NftRule, nftList } from '@cni-ts/nftables';
import type { Executor, NfRule } from '@cni-ts/process';
import { MASQ_CHAIN, MASQ_LIST, MASQ_TABLE, nftInstanceHash } from './plan-masq-nft.js';

/** The attachment's `masq_checks` rules: through the kernel when the executor can, else `nft -j list chain`. */
export function ownNftMasq(exec: Executor, o: { network: string; ifname: string; containerId: string }): NftListing {
  const prefix = nftInstanceHash(o.network, o.ifname, o.containerId);
  const rules = exec.nftChainRules?.('inet', MASQ_TABLE, [MASQ_CHAIN], { prefix });
  return rules ? kernelMasqListing(rules) : nftList(exec, MASQ_LIST);
}

/** Kernel rules of `masq_checks` as `nft -j list chain` shows them (without the expressions). */
export function kernelMasqListing(rules: readonly NfRule[]): NftListing {
  return {
    chains: [],
    rules: rules.map((r) => {
      const out: NftRule = { family: 'inet', table: MASQ_TABLE, chain: r.chain, handle: r.handle };
      if (r.comment !== undefined) out.comment = r.comment;
      return out;
    }),
  };
}
