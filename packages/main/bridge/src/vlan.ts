// VLANs on bridge ports: the trunk list from the config, and the `bridge vlan` commands that give
// a port its native (PVID, untagged) VLAN and its tagged trunk VLANs.
import { configError } from '@cni-ts/types';

/** One entry of "vlanTrunk": a single `id`, or a `minID`–`maxID` range. */
export interface VlanTrunkEntry {
  id?: number | null;
  minID?: number | null;
  maxID?: number | null;
}

const inRange = (v: number) => v >= 1 && v <= 4094;

/** The trunk VLAN IDs, sorted and without duplicates; code 7 for anything out of 1–4094 or half a range. */
export function collectVlanTrunk(trunk: readonly VlanTrunkEntry[] | undefined): number[] {
  const ids = new Set<number>();
  for (const item of trunk ?? []) {
    const { minID, maxID, id } = item;
    const hasMin = minID !== undefined && minID !== null;
    const hasMax = maxID !== undefined && maxID !== null;
    if (hasMin && !hasMax)
      throw configError(
        'minID and maxID should be configured simultaneously, maxID is missing',
        'give "vlanTrunk" ranges as {"minID": a, "maxID": b}',
      );
    if (!hasMin && hasMax)
      throw configError(
        'minID and maxID should be configured simultaneously, minID is missing',
        'give "vlanTrunk" ranges as {"minID": a, "maxID": b}',
      );
    if (hasMin && hasMax) {
      if (!inRange(minID)) throw configError(`incorrect trunk minID parameter ${minID}`, 'VLAN IDs are 1–4094');
      if (!inRange(maxID)) throw configError(`incorrect trunk maxID parameter ${maxID}`, 'VLAN IDs are 1–4094');
      if (maxID < minID) throw configError(`minID is greater than maxID in trunk parameter (${minID} > ${maxID})`);
      for (let v = minID; v <= maxID; v++) ids.add(v);
    }
    if (id !== undefined && id !== null) {
      if (!inRange(id)) throw configError(`incorrect trunk id parameter ${id}`, 'VLAN IDs are 1–4094');
      ids.add(id);
    }
  }
  return [...ids].sort((a, b) => a - b);
}

/** Consecutive IDs folded into "a-b" ranges, as `bridge vlan add vid` accepts them. */
export function vidRanges(ids: readonly number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j++;
    out.push(i === j ? String(ids[i]) : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return out;
}

/** What a port's VLAN setup needs. */
export interface PortVlans {
  vlan: number;
  vlans: readonly number[];
  preserveDefaultVlan: boolean;
  /** The bridge's default PVID (the entry a new port gets; 0 = none). */
  defaultPvid: number;
}

/**
 * The `bridge vlan` commands for a new port (upstream setupVeth): drop the default entry unless
 * preserved; the native VLAN as PVID untagged (VLAN 1 for a trunk without one); trunk IDs tagged.
 */
export function portVlanCommands(dev: string, p: PortVlans): string[][] {
  if (p.vlan === 0 && p.vlans.length === 0) return [];
  const cmds: string[][] = [];
  if (!p.preserveDefaultVlan && p.defaultPvid !== 0)
    cmds.push(['vlan', 'del', 'dev', dev, 'vid', String(p.defaultPvid)]);
  const native = p.vlan !== 0 ? p.vlan : 1;
  cmds.push(['vlan', 'add', 'dev', dev, 'vid', String(native), 'pvid', 'untagged']);
  for (const r of vidRanges(p.vlans.filter((v) => v !== native))) cmds.push(['vlan', 'add', 'dev', dev, 'vid', r]);
  return cmds;
}
