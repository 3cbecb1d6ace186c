// Reading the routes of our protocol and applying route changes: one `ip -batch` per change.
import { type Executor, ipBatch, ipJson } from '@cni-ts/process';
import { type ObservedRoute, type PodRoute, diffRoutes } from './plan-routes.js';

/** The routes of protocol `proto` in the main table, IPv4 and IPv6. */
export function observeRoutes(exec: Executor, proto: number): ObservedRoute[] {
  const out: ObservedRoute[] = [];
  for (const family of ['-4', '-6']) {
    const rows = (ipJson(exec, ['route', 'show', 'proto', String(proto)], { options: [family] }) ?? []) as Array<{
      dst?: string;
      gateway?: string;
    }>;
    for (const r of rows) {
      if (!r.dst) continue;
      const dst = r.dst.includes('/') ? r.dst : `${r.dst}/${family === '-4' ? 32 : 128}`;
      out.push(r.gateway ? { dst, gateway: r.gateway } : { dst });
    }
  }
  return out;
}

/** Makes the routes of protocol `proto` exactly `want`; returns the commands it ran (one batch). */
export function syncRoutes(exec: Executor, want: readonly PodRoute[], proto: number): string[][] {
  const cmds = diffRoutes(want, observeRoutes(exec, proto), proto);
  ipBatch(exec, cmds);
  return cmds;
}
