// What portmap needs from the node besides iptables and nft: the interface that routes to the
// pod (for route_localnet), sysctls, and the lock that serialises changes to the shared chains.
// Bound to the real node here; golden tests pass a fake.
import { type Executor, type FileLock, fs, ipJson, lockFile, readSysctl, writeSysctl } from '@cni-ts/process';

/** The node as portmap sees it. */
export interface Host {
  /** The interface the node's main routing table sends `ip` (IPv4) through, if any. */
  routeDevice(exec: Executor, ip: string): string | undefined;
  readSysctl(name: string): string | undefined;
  writeSysctl(name: string, value: string): void;
  /** Takes the portmap lock (undefined when the lock file cannot be used: then only iptables' -N guards). */
  lock(): Promise<FileLock | undefined>;
}

/** The lock every cni-ts portmap run on this machine takes before changing shared chains. */
export const LOCK_PATH = '/run/cni-ts-portmap.lock';

/** The real node. */
export const systemHost: Host = {
  routeDevice(exec, ip) {
    // the main table answers for pod subnets (and its default route for anything else); only a
    // node without /proc/net/route pays for asking ip
    try {
      return routeDeviceFrom(fs().readFileSync('/proc/net/route', 'utf8'), ip);
    } catch {
      // fall through
    }
    try {
      const routes = ipJson(exec, ['route', 'get', ip]) as Array<{ dev?: string }> | undefined;
      return routes?.[0]?.dev;
    } catch {
      return undefined;
    }
  },
  readSysctl(name) {
    try {
      return readSysctl(name);
    } catch {
      return undefined;
    }
  },
  writeSysctl,
  async lock() {
    try {
      return await lockFile(LOCK_PATH, { timeoutMs: 10_000, mode: 0o600 });
    } catch (e) {
      if ((e as { kind?: string }).kind === 'busy') throw e;
      return undefined;
    }
  },
};

/** The interface of the longest-prefix (then lowest-metric) route to `ip` in /proc/net/route text. */
export function routeDeviceFrom(text: string, ip: string): string | undefined {
  const target = v4Number(ip);
  if (target === undefined) return undefined;
  let best: { dev: string; bits: number; metric: number } | undefined;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [dev, dstHex, , flagsHex, , , metricText, maskHex] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if ((parseInt(flagsHex, 16) & 1) === 0) continue; // RTF_UP
    const dst = swap(parseInt(dstHex, 16));
    const mask = swap(parseInt(maskHex, 16));
    if ((target & mask) >>> 0 !== dst) continue;
    const bits = popcount(mask);
    const metric = Number(metricText);
    if (!best || bits > best.bits || (bits === best.bits && metric < best.metric)) best = { dev, bits, metric };
  }
  return best?.dev;
}

// /proc/net/route prints addresses as host-order (little-endian) hex words.
function swap(n: number): number {
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n >>> 0; x; x >>>= 1) c += x & 1;
  return c;
}

function v4Number(ip: string): number | undefined {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return undefined;
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}
