// IP masquerade with nftables, as upstream's pkg/ip/ipmasq_nftables (plugins v1.6.0+): one
// shared table `inet cni_plugins_masquerade`; a rule per container address in `masq_checks`,
// found again by the hash at the start of its comment (ADD and DEL read only those: nft-masq-kernel.ts).
import { formatIP, formatNetwork, mustParsePrefix } from '@cni-ts/netaddr';
import { hashWithPrefix } from '@cni-ts/iptables';
import { type NftListing, type NftRule, nftString } from '@cni-ts/nftables';

/** The shared masquerade table (family inet). */
export const MASQ_TABLE = 'cni_plugins_masquerade';
/** The chain holding one rule per masqueraded address. */
export const MASQ_CHAIN = 'masq_checks';
const T = `inet ${MASQ_TABLE}`;
const COMMENT_MAX = 128;

/** What to pass to nftList to read the masquerade rules. */
export const MASQ_LIST = ['chain', 'inet', MASQ_TABLE, MASQ_CHAIN] as const;

/** The hash naming a network's rules. */
export function nftNetworkHash(network: string): string {
  return hashWithPrefix(16, '', network);
}

/** The hash naming one attachment's rules: `<h(network)>-<h(ifname:containerID)>`. */
export function nftInstanceHash(network: string, ifname: string, containerId: string): string {
  return `${nftNetworkHash(network)}-${hashWithPrefix(16, '', `${ifname}:${containerId}`)}`;
}

/** The comment on an attachment's rules (hash first, then a readable tail; at most 128 characters). */
export function nftMasqComment(network: string, ifname: string, containerId: string): string {
  const clean = (s: string) => s.replaceAll('"', '');
  const c = `${nftInstanceHash(network, ifname, containerId)}, net: ${clean(network)}, if: ${clean(ifname)}, id: ${clean(containerId)}`;
  return c.slice(0, COMMENT_MAX);
}

function rulesWithPrefix(listing: NftListing, prefix: string): NftRule[] {
  return listing.rules.filter((r) => r.chain === MASQ_CHAIN && (r.comment ?? '').startsWith(prefix));
}

function deleteLines(rules: readonly NftRule[]): string {
  return rules.map((r) => `delete rule ${T} ${MASQ_CHAIN} handle ${r.handle}\n`).join('');
}

/** The masquerade rule text for one address (without the comment). */
export function nftMasqRule(address: string): string {
  const p = mustParsePrefix(address);
  const ip = p.ip.family === 4 ? 'ip' : 'ip6';
  return `${ip} saddr == ${formatIP(p.ip)} ${ip} daddr != ${formatNetwork(p)} masquerade`;
}

/**
 * The nft script that sets up masquerading for an attachment: the table and chains (created if
 * missing), postrouting refilled, this attachment's stale rules deleted and its rules added.
 */
export function planNftMasqSetup(
  listing: NftListing,
  network: string,
  ifname: string,
  containerId: string,
  addresses: readonly string[],
): string {
  const comment = nftString(nftMasqComment(network, ifname, containerId));
  return (
    `add table ${T} { comment "Masquerading for plugins from github.com/containernetworking/plugins" ; }\n` +
    `add chain ${T} ${MASQ_CHAIN} { comment "Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet" ; }\n` +
    `add chain ${T} postrouting { type nat hook postrouting priority srcnat ; }\n` +
    `flush chain ${T} postrouting\n` +
    `add rule ${T} postrouting ip daddr == 224.0.0.0/4  return\n` +
    `add rule ${T} postrouting ip6 daddr == ff00::/8  return\n` +
    `add rule ${T} postrouting goto ${MASQ_CHAIN}\n` +
    deleteLines(rulesWithPrefix(listing, nftInstanceHash(network, ifname, containerId))) +
    addresses.map((a) => `add rule ${T} ${MASQ_CHAIN} ${nftMasqRule(a)} comment ${comment}\n`).join('')
  );
}

/** The nft script that deletes an attachment's masquerade rules ('' when there are none). */
export function planNftMasqTeardown(listing: NftListing, network: string, ifname: string, containerId: string): string {
  return deleteLines(rulesWithPrefix(listing, nftInstanceHash(network, ifname, containerId)));
}

/**
 * The nft script that deletes the network's rules of attachments not in `keep` (GC). A rule is
 * kept by the attachment hash its comment starts with, not by the whole comment (as upstream
 * compares): the readable tail is cut at 128 bytes and other writers encode it differently (Go's
 * knftables writes `%q`, so a backslash in an ifname is stored twice), while the hash of the same
 * attachment is the same for every writer.
 */
export function planNftMasqGc(
  listing: NftListing,
  network: string,
  keep: ReadonlyArray<{ containerID: string; ifname: string }>,
): string {
  const valid = new Set(keep.map((a) => nftInstanceHash(network, a.ifname, a.containerID)));
  const hashLength = nftInstanceHash(network, '', '').length;
  return deleteLines(
    rulesWithPrefix(listing, nftNetworkHash(network)).filter((r) => !valid.has((r.comment ?? '').slice(0, hashLength))),
  );
}

/** The addresses of an attachment that have no masquerade rule (empty when all are in place). */
export function checkNftMasq(
  listing: NftListing,
  network: string,
  ifname: string,
  containerId: string,
  addresses: readonly string[],
): string[] {
  const have = rulesWithPrefix(listing, nftInstanceHash(network, ifname, containerId));
  return addresses
    .filter((a) => {
      const ip = formatIP(mustParsePrefix(a).ip);
      return !have.some((r) => JSON.stringify(r.expr ?? []).includes(`"right":"${ip}"`));
    })
    .map((a) => `nftables masquerade rule for ${a} is missing from ${T} ${MASQ_CHAIN}`);
}
