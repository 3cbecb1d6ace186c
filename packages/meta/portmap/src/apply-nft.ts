// Applying the nftables plan: one `nft -j list table` per family read, one `nft -f -` transaction
// per change with both families in it.
import { type NftListing, nftApply, nftList } from '@cni-ts/nftables';
import { type Executor, runChecked } from '@cni-ts/process';
import type { PortmapConf } from './config.js';
import type { ContainerNet } from './container.js';
import { NFT_TABLE, nftCheck, nftGc, nftSetup, nftTableArgs, nftTeardown, nftUdpForwards } from './plan-nft.js';
import type { UdpFlow } from './conntrack.js';

/** The families that have a cni_hostport table now (one `nft list tables`). */
export function nftFamiliesPresent(exec: Executor): Array<4 | 6> {
  const out = runChecked(exec, 'nft', ['list', 'tables']).stdout;
  const has = (f: string) => new RegExp(`^table ${f} ${NFT_TABLE}$`, 'm').test(out);
  return ([4, 6] as const).filter((f) => has(f === 4 ? 'ip' : 'ip6'));
}

function listings(exec: Executor, families: ReadonlyArray<4 | 6>): Array<[4 | 6, NftListing]> {
  return families.map((f) => [f, nftList(exec, nftTableArgs(f))]);
}

/** Sets up every container address in one transaction. */
export function setupNft(exec: Executor, conf: PortmapConf, containerId: string, nets: readonly ContainerNet[]): void {
  const now = new Map(
    listings(
      exec,
      nets.map((n) => n.family),
    ),
  );
  nftApply(exec, nets.map((n) => nftSetup(conf, containerId, n, now.get(n.family)!)).join(''));
}

/** Deletes a container's rules from both families' tables (nothing runs when there are none); returns the UDP flows they forwarded. */
export function teardownNft(exec: Executor, containerId: string): Array<[4 | 6, UdpFlow[]]> {
  const present = nftFamiliesPresent(exec);
  if (!present.length) return [];
  const now = listings(exec, present);
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
  const present = nftFamiliesPresent(exec);
  if (present.length) nftApply(exec, nftGc(listings(exec, present), keep));
}
