// `cni-ts inspect` for people: one small table per kind of thing, leaks flagged, and a verdict.
import type { Finding, Report } from './inspect.js';
import { sections, table } from './table.js';

const TITLES: Record<Finding['kind'], string> = {
  attachment: 'cached attachments (libcni result cache)',
  reservation: 'IPAM reservations (host-local)',
  iptables: 'per-attachment iptables chains',
  nftables: 'per-attachment nftables rules',
  ifb: 'ifb devices (bandwidth)',
};

/** The report as text. */
export function renderReport(r: Report): string {
  const parts = (Object.keys(TITLES) as Array<Finding['kind']>).map((kind) => {
    const rows = r.findings.filter((f) => f.kind === kind);
    if (rows.length === 0) return `${TITLES[kind]}: none`;
    return `${TITLES[kind]}:\n${table(
      ['state', 'what', 'owner (network/container/ifname)', 'why'],
      rows.map((f) => [f.leak ? 'LEAK' : 'ok', f.what, f.owner, f.why ?? '']),
    )}`;
  });
  const verdict =
    r.leaks === 0
      ? 'no leaks: everything belongs to a live attachment'
      : `${r.leaks} leak(s): \`cni-ts gc <network>\` removes stale attachments; plugin GC (spec 1.1.0) removes the rest it owns`;
  return sections(...parts, ...(r.notes.length ? [`notes:\n${r.notes.map((n) => `  ${n}`).join('\n')}`] : []), verdict);
}
