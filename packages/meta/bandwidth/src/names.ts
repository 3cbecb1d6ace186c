// Names that outlive plugin versions: the ifb device is named exactly as upstream names it, so a
// node can move between the Go plugin and ours (either one's DEL removes the other's ifb).
import { hashWithPrefix } from '@cni-ts/iptables';

const IFB_PREFIX = 'bwp';
const IFB_NAME_LENGTH = 15;
const ALIAS_PREFIX = 'cni-ts/bandwidth:';

/** The ifb device of an attachment: "bwp" + the first 12 hex digits of sha512(network + containerID). */
export function ifbName(network: string, containerId: string): string {
  return hashWithPrefix(IFB_NAME_LENGTH, IFB_PREFIX, network + containerId);
}

/** True for a name ifbName can produce. */
export function isIfbName(name: string): boolean {
  return /^bwp[0-9a-f]{12}$/.test(name);
}

/**
 * The alias we give our ifb devices: it says which network and container an ifb belongs to, so GC
 * removes only this network's stale devices (the hashed name cannot be reversed). The Go plugin
 * sets no alias; GC leaves its devices alone.
 */
export function ifbAlias(network: string, containerId: string): string | undefined {
  const alias = `${ALIAS_PREFIX}${network}:${containerId}`;
  // the kernel keeps at most 255 bytes (IFALIASZ); names and IDs are ASCII (skel checks them)
  return alias.length <= 255 ? alias : undefined;
}

/** The network and container of an alias ifbAlias made; undefined for any other alias. */
export function parseIfbAlias(alias: string | undefined): { network: string; containerId: string } | undefined {
  const m = /^cni-ts\/bandwidth:([^:]+):([^:]+)$/.exec(alias ?? '');
  return m ? { network: m[1]!, containerId: m[2]! } : undefined;
}
