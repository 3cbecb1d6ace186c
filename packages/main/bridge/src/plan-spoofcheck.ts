// MAC spoof check (macspoofchk), as upstream's pkg/link/spoofcheck: in the node's `bridge nat`
// table, frames entering the bridge from the pod's host veth must carry the pod's MAC.
//
//   PREROUTING (filter, prio -300)  iifname "<hostveth>" jump cni-br-iface-<ref>
//   cni-br-iface-<ref>              jump cni-br-iface-<ref>-mac
//   cni-br-iface-<ref>-mac          ether saddr <mac> return ; drop
//
// <ref> is "<containerID>-<ifname>"; every rule carries the comment "macspoofchk-<ref>".
// Chain names are written with nftIdentifier, strings with nftString: an attachment whose names
// nft's language cannot carry (an ifname with "@", say) is refused by ADD before anything
// changes, so teardown and GC skip such names — nothing of ours can carry them.
import { UnencodableError } from '@cni-ts/process';
import { type NftListing, nftIdentifier, nftString } from '@cni-ts/nftables';

const T = 'bridge nat';

/** The chain names and comment of one attachment. */
export function spoofNames(containerId: string, ifname: string): { iface: string; mac: string; comment: string } {
  const ref = `${containerId}-${ifname}`;
  return { iface: `cni-br-iface-${ref}`, mac: `cni-br-iface-${ref}-mac`, comment: `macspoofchk-${ref}` };
}

/** The chain names as nft words; throws UnencodableError when nft cannot carry them. */
export function spoofChains(containerId: string, ifname: string): { iface: string; mac: string } {
  const n = spoofNames(containerId, ifname);
  return { iface: nftIdentifier(n.iface), mac: nftIdentifier(n.mac) };
}

// The chain names of a ref, or undefined when nft cannot carry them (then they are not ours).
function writableChains(ref: string): string[] | undefined {
  try {
    return [nftIdentifier(`cni-br-iface-${ref}`), nftIdentifier(`cni-br-iface-${ref}-mac`)];
  } catch (e) {
    if (e instanceof UnencodableError) return undefined;
    throw e;
  }
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
  const ch = spoofChains(containerId, ifname);
  const c = `comment ${nftString(n.comment)}`;
  return (
    `add table ${T}\n` +
    `add chain ${T} PREROUTING { type filter hook prerouting priority -300 ; policy accept ; }\n` +
    `add chain ${T} ${ch.iface}\n` +
    `add chain ${T} ${ch.mac}\n` +
    `flush chain ${T} ${ch.iface}\n` +
    `flush chain ${T} ${ch.mac}\n` +
    staleJumps(listing, n.comment) +
    `add rule ${T} PREROUTING iifname ${nftString(hostVeth)} jump ${ch.iface} ${c}\n` +
    `add rule ${T} ${ch.iface} jump ${ch.mac} ${c}\n` +
    `add rule ${T} ${ch.mac} ether saddr ${mac} return ${c}\n` +
    `add rule ${T} ${ch.mac} drop ${c}\n`
  );
}

/** The nft script that removes an attachment's spoof check ('' when nothing is left of it). */
export function planSpoofTeardown(listing: NftListing, containerId: string, ifname: string): string {
  const n = spoofNames(containerId, ifname);
  const chains = writableChains(`${containerId}-${ifname}`);
  if (!chains) return '';
  let out = staleJumps(listing, n.comment);
  for (const chain of chains) {
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
    const chains = writableChains(ref);
    if (!chains) continue;
    out += `delete rule ${T} PREROUTING handle ${r.handle}\n`;
    if (done.has(ref)) continue;
    done.add(ref);
    for (const chain of chains) {
      if (listing.chains.some((c) => c.name === chain))
        out += `flush chain ${T} ${chain}\ndelete chain ${T} ${chain}\n`;
    }
  }
  return out;
}
