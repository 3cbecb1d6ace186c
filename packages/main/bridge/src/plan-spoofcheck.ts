// MAC spoof check (macspoofchk), as upstream's pkg/link/spoofcheck: in the node's `bridge nat`
// table, frames entering the bridge from the pod's host veth must carry the pod's MAC.
//
//   PREROUTING (filter, prio -300)  iifname "<hostveth>" jump cni-br-iface-<ref>
//   cni-br-iface-<ref>              jump cni-br-iface-<ref>-mac
//   cni-br-iface-<ref>-mac          ether saddr <mac> return ; drop
//
// <ref> is "<containerID>-<ifname>"; every rule carries the comment "macspoofchk-<ref>".
import { goQuote } from '@cni-ts/iptables';
import type { NftListing } from '@cni-ts/nftables';

const T = 'bridge nat';

/** The chain names and comment of one attachment. */
export function spoofNames(containerId: string, ifname: string): { iface: string; mac: string; comment: string } {
  const ref = `${containerId}-${ifname}`;
  return { iface: `cni-br-iface-${ref}`, mac: `cni-br-iface-${ref}-mac`, comment: `macspoofchk-${ref}` };
}

/** What to pass to nftList to read the spoof-check rules. */
export const SPOOF_LIST = ['table', 'bridge', 'nat'] as const;

function staleJumps(listing: NftListing, comment: string): string {
  return listing.rules
    .filter((r) => r.chain === 'PREROUTING' && r.comment === comment)
    .map((r) => `delete rule ${T} PREROUTING handle ${r.handle}\n`)
    .join('');
}

/** The nft script that installs (or re-installs) the spoof check for an attachment. */
export function planSpoofSetup(
  listing: NftListing,
  containerId: string,
  ifname: string,
  hostVeth: string,
  mac: string,
): string {
  const n = spoofNames(containerId, ifname);
  const c = `comment ${goQuote(n.comment)}`;
  return (
    `add table ${T}\n` +
    `add chain ${T} PREROUTING { type filter hook prerouting priority -300 ; policy accept ; }\n` +
    `add chain ${T} ${n.iface}\n` +
    `add chain ${T} ${n.mac}\n` +
    `flush chain ${T} ${n.iface}\n` +
    `flush chain ${T} ${n.mac}\n` +
    staleJumps(listing, n.comment) +
    `add rule ${T} PREROUTING iifname ${goQuote(hostVeth)} jump ${n.iface} ${c}\n` +
    `add rule ${T} ${n.iface} jump ${n.mac} ${c}\n` +
    `add rule ${T} ${n.mac} ether saddr ${mac} return ${c}\n` +
    `add rule ${T} ${n.mac} drop ${c}\n`
  );
}

/** The nft script that removes an attachment's spoof check ('' when nothing is left of it). */
export function planSpoofTeardown(listing: NftListing, containerId: string, ifname: string): string {
  const n = spoofNames(containerId, ifname);
  let out = staleJumps(listing, n.comment);
  for (const chain of [n.iface, n.mac]) {
    if (listing.chains.some((ch) => ch.table === 'nat' && ch.name === chain))
      out += `flush chain ${T} ${chain}\ndelete chain ${T} ${chain}\n`;
  }
  return out;
}

/** What is missing from an attachment's spoof check (empty when it is complete). */
export function checkSpoof(
  listing: NftListing,
  containerId: string,
  ifname: string,
  hostVeth: string,
  mac: string,
): string[] {
  const n = spoofNames(containerId, ifname);
  const problems: string[] = [];
  const jump = listing.rules.find((r) => r.chain === 'PREROUTING' && r.comment === n.comment);
  if (!jump || !JSON.stringify(jump.expr ?? []).includes(JSON.stringify(hostVeth)))
    problems.push(`no PREROUTING rule sends ${hostVeth} to ${n.iface}`);
  const macRule = listing.rules.find((r) => r.chain === n.mac && JSON.stringify(r.expr ?? []).includes('"return"'));
  if (
    !macRule ||
    !JSON.stringify(macRule.expr ?? [])
      .toLowerCase()
      .includes(JSON.stringify(mac.toLowerCase()))
  )
    problems.push(`chain ${n.mac} does not allow ${mac}`);
  if (!listing.rules.some((r) => r.chain === n.mac && JSON.stringify(r.expr ?? []).includes('"drop"')))
    problems.push(`chain ${n.mac} has no drop rule`);
  return problems;
}

/**
 * The nft script that removes spoof checks of attachments not in `valid` whose host veth no
 * longer exists (GC). Chains carry no network name, so a live veth keeps its check.
 */
export function planSpoofGc(
  listing: NftListing,
  valid: ReadonlyArray<{ containerID: string; ifname: string }>,
  links: ReadonlySet<string>,
): string {
  const keep = new Set(valid.map((a) => spoofNames(a.containerID, a.ifname).comment));
  let out = '';
  const done = new Set<string>();
  for (const r of listing.rules) {
    if (r.chain !== 'PREROUTING' || !r.comment?.startsWith('macspoofchk-') || keep.has(r.comment)) continue;
    const iif = /"right":"([^"]+)"/.exec(JSON.stringify(r.expr ?? []))?.[1];
    if (iif === undefined || links.has(iif)) continue;
    const ref = r.comment.slice('macspoofchk-'.length);
    out += `delete rule ${T} PREROUTING handle ${r.handle}\n`;
    if (done.has(ref)) continue;
    done.add(ref);
    for (const chain of [`cni-br-iface-${ref}`, `cni-br-iface-${ref}-mac`]) {
      if (listing.chains.some((c) => c.name === chain))
        out += `flush chain ${T} ${chain}\ndelete chain ${T} ${chain}\n`;
    }
  }
  return out;
}
