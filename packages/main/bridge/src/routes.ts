// Routes as `ip -j route show` prints them, and matching them against result routes (upstream
// ValidateExpectedRoute: by destination, and gateway unless it is a default route).
import { canonicalIP, formatNetwork, mustParsePrefix, parsePrefix } from '@cni-ts/netaddr';
import type { Route } from '@cni-ts/types';

/** One route in the sandbox. */
export interface RouteState {
  /** Canonical "network/len" ("0.0.0.0/0" for default). */
  dst: string;
  dev?: string;
  gateways: string[];
  /** Routing table; "main" when ip printed none. */
  table: string;
}

interface RawRoute {
  dst?: string;
  dev?: string;
  gateway?: string;
  table?: string;
  type?: string;
  nexthops?: Array<{ gateway?: string; dev?: string }>;
}

/** Parses one `ip -j route show` document of a family. */
export function parseRoutes(doc: unknown, family: 4 | 6): RouteState[] {
  if (!Array.isArray(doc)) return [];
  const out: RouteState[] = [];
  for (const r of doc as RawRoute[]) {
    if (!r.dst || (r.type && r.type !== 'unicast')) continue;
    const dst =
      r.dst === 'default'
        ? family === 4
          ? '0.0.0.0/0'
          : '::/0'
        : r.dst.includes('/')
          ? r.dst
          : `${r.dst}/${family === 4 ? 32 : 128}`;
    const p = parsePrefix(dst);
    if (!p) continue;
    const gateways = r.gateway ? [r.gateway] : (r.nexthops ?? []).map((n) => n.gateway).filter((g): g is string => !!g);
    out.push({
      dst: formatNetwork(p),
      dev: r.dev ?? r.nexthops?.[0]?.dev,
      gateways: gateways.map((g) => canonicalIP(g) ?? g),
      table: r.table ?? 'main',
    });
  }
  return out;
}

/** True when the kernel route satisfies the result route. */
export function routeMatches(have: RouteState, want: Route): boolean {
  const p = mustParsePrefix(want.dst);
  if (have.dst !== formatNetwork(p)) return false;
  if (have.table !== (want.table !== undefined && want.table !== 254 ? String(want.table) : 'main')) return false;
  if (p.bits === 0 || !want.gw) return true;
  return have.gateways.includes(canonicalIP(want.gw) ?? want.gw);
}
