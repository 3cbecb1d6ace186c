// Applying the nftables plan: one read per family, one `nft -f -` transaction per change with both
// families in it. ADD and DEL read only the per-container chains, through the kernel when the
// executor can (nft-kernel.ts: no process, and a cost that barely grows with the pods on the
// node); CHECK, GC and any executor without it list the table with `nft -j list table`. A
// family's table is read directly, also to learn whether it exists (a missing table reads as
// empty): `nft list tables` would cost more, as nft 1.0 loads every table's rules for it
// (iptables-nft's too), so it grows with the pods of the node.
import { type NftListing, nftApply, nftList } from '@cni-ts/nftables';
import type { Executor } from '@cni-ts/process';
import type { PortmapConf } from './config.js';
import type { ContainerNet } from './container.js';
import { kernelListing } from './nft-kernel.js';
import { nftCheck, nftGc, nftSetup, nftTableArgs, nftTeardown, nftUdpForwards } from './plan-nft.js';
import type { UdpFlow } from './conntrack.js';

function listings(exec: Executor, families: ReadonlyArray<4 | 6>): Array<[4 | 6, NftListing]> {
  return families.map((f) => [f, nftList(exec, nftTableArgs(f))]);
}

// A container's rules in the per-container chains (what ADD's cleanup and DEL need): through the
// kernel, else the whole table (plan-nft picks the container's rules out of either).
function ownListings(exec: Executor, families: ReadonlyArray<4 | 6>, id: string): Array<[4 | 6, NftListing]> {
  return families.map((f) => [f, kernelListing(exec, f, id) ?? nftList(exec, nftTableArgs(f))]);
}

/** Sets up every container address in one transaction. */
export function setupNft(exec: Executor, conf: PortmapConf, containerId: string, nets: readonly ContainerNet[]): void {
  const now = new Map(
    ownListings(
      exec,
      nets.map((n) => n.family),
      containerId,
    ),
  );
  nftApply(exec, nets.map((n) => nftSetup(conf, containerId, n, now.get(n.family)!)).join(''));
}

/** Deletes a container's rules from both families' tables (nothing is applied when there are none); returns the UDP flows they forwarded. */
export function teardownNft(exec: Executor, containerId: string): Array<[4 | 6, UdpFlow[]]> {
  const now = ownListings(exec, [4, 6], containerId);
  nftApply(exec, nftTeardown(now, containerId));
  return now.map(([f, l]) => [f, nftUdpForwards(l, containerId)]);
}

/** What CHECK finds missing for the container addresses. */
export function checkNft(
  exec: Executor,
  conf: PortmapConf,
  containerId: string,
  nets: readonly ContainerNet[],
): string[] {
  const now = new Map(
    listings(
      exec,
      nets.map((n) => n.family),
    ),
  );
  return nets.flatMap((n) => nftCheck(conf, containerId, n, now.get(n.family)!));
}

/** GC: deletes the rules of containers not in `keep`. */
export function gcNft(exec: Executor, keep: ReadonlySet<string>): void {
  nftApply(exec, nftGc(listings(exec, [4, 6]), keep));
}
