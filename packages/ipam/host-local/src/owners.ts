// Who holds a reservation, and the pure decisions of DEL, CHECK and GC built on that.
// A reservation file holds "<containerID>\r\n<ifname>"; files from before ifnames were recorded
// hold just "<containerID>" ("legacy") and still count as the container's, as upstream.
import { type Attachment, attachmentKey } from '@cni-ts/skel';

/** One reservation file: the address, the file name, and its trimmed content. */
export interface Reservation {
  /** The address as the file name spells it (canonical when host-local wrote it). */
  ip: string;
  /** The file name in the store. */
  file: string;
  /** The file content, whitespace-trimmed as upstream compares it. */
  owner: string;
}

/** The content upstream writes for (id, ifname): the id trimmed, CRLF, the ifname. */
export function ownerText(id: string, ifname: string): string {
  return `${id.trim()}\r\n${ifname}`;
}

/** A reservation's owner as containerID and ifname (ifname undefined for legacy files). */
export function parseOwner(owner: string): { containerID: string; ifname?: string } {
  const cut = owner.indexOf('\r\n');
  return cut < 0 ? { containerID: owner } : { containerID: owner.slice(0, cut), ifname: owner.slice(cut + 2) };
}

/** "container <id> interface <ifname>" for messages. */
export function describeOwner(owner: string): string {
  const o = parseOwner(owner);
  return o.ifname === undefined
    ? `container ${o.containerID || '(unknown)'}`
    : `container ${o.containerID} interface ${o.ifname}`;
}

/** Reservations of (id, ifname), counting legacy id-only files (upstream's GetByID / FindByID). */
export function heldBy(list: readonly Reservation[], id: string, ifname: string): Reservation[] {
  const exact = ownerText(id, ifname);
  const legacy = id.trim();
  return list.filter((r) => r.owner === exact || r.owner === legacy);
}

/** What DEL removes: the exact (id, ifname) files, or, only when there are none, legacy id files. */
export function toRelease(list: readonly Reservation[], id: string, ifname: string): Reservation[] {
  const exact = list.filter((r) => r.owner === ownerText(id, ifname));
  return exact.length ? exact : list.filter((r) => r.owner === id.trim());
}

/**
 * What GC removes: every reservation whose owner is not a valid attachment. A legacy file stays
 * while any attachment of its container is valid; an empty or unreadable owner is never valid.
 */
export function stale(list: readonly Reservation[], valid: readonly Attachment[]): Reservation[] {
  const keys = new Set(valid.map((a) => attachmentKey(a.containerID.trim(), a.ifname)));
  const ids = new Set(valid.map((a) => a.containerID.trim()));
  return list.filter((r) => {
    const o = parseOwner(r.owner);
    if (o.containerID === '') return true;
    return o.ifname === undefined ? !ids.has(o.containerID) : !keys.has(attachmentKey(o.containerID, o.ifname));
  });
}
