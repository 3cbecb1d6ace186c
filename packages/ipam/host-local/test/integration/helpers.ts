// Shared pieces of the host-local integration tests: temporary dataDirs, configs, plugin calls
// and a snapshot of a store directory (names, modes, bytes).
import { lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PluginOutcome, execPlugin, goPlugin, ourPlugin } from '@cni-ts/testutils';

export const ours = ourPlugin('host-local');
export const go = goPlugin('host-local');

/** The versions every bullet of the issue is covered for. */
export const VERSIONS = ['0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** Debian's Go host-local (v1.1.1) stops at 1.0.0; for 1.1.0 it runs the same config as 1.0.0. */
export const goVersion = (v: string) => (v === '1.1.0' ? '1.0.0' : v);

/** Temporary dataDirs (cts-hl-*), all removed by cleanup(). */
export function tempDirs(): { make: (tag?: string) => string; cleanup: () => void } {
  const made: string[] = [];
  return {
    make: (tag = '') => {
      const d = mkdtempSync(join(tmpdir(), `cts-hl-${tag}`));
      made.push(d);
      return d;
    },
    cleanup: () => {
      for (const d of made) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** A dual-stack host-local config (the ipam part merged over the defaults). */
export function conf(
  dataDir: string,
  v: string,
  ipam: object = {},
  extra: object = {},
  name = 'hlnet',
): Record<string, unknown> {
  return {
    cniVersion: v,
    name,
    type: 'host-local',
    ipam: {
      type: 'host-local',
      dataDir,
      ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '2001:db8:1::/64' }]],
      ...ipam,
    },
    ...extra,
  };
}

/** Options of one call. */
export interface CallOpts {
  id?: string;
  ifname?: string;
  cniArgs?: string;
  env?: Record<string, string | undefined>;
}

/** Runs host-local (ours or Go) for one verb. */
export function call(plugin: string, command: string, config: unknown, o: CallOpts = {}): Promise<PluginOutcome> {
  return execPlugin({
    plugin,
    command,
    config,
    containerId: o.id ?? 'ctr1',
    ifname: o.ifname ?? 'eth0',
    netns: '/var/run/netns/unused',
    ...(o.cniArgs !== undefined ? { cniArgs: o.cniArgs } : {}),
    ...(o.env ? { env: o.env } : {}),
  });
}

/** One file of a store: its mode bits and content. */
export interface StoreFile {
  mode: number;
  content: string;
}

/** Every file of <dataDir>/<name> by name; undefined when the directory does not exist. */
export function snapshot(dataDir: string, name = 'hlnet'): Record<string, StoreFile> | undefined {
  const dir = join(dataDir, name);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return undefined;
  }
  return Object.fromEntries(
    names.map((f) => [
      f,
      { mode: lstatSync(join(dir, f)).mode & 0o7777, content: readFileSync(join(dir, f), 'latin1') },
    ]),
  );
}

/** The reservation files of a store (names that are addresses). */
export function reservationNames(dataDir: string, name = 'hlnet'): string[] {
  return Object.keys(snapshot(dataDir, name) ?? {}).filter((f) => /^[0-9a-f:.]+$/.test(f) && /[.:]/.test(f));
}

/** The addresses of an ADD result ("ip/len" strings), whatever its version. */
export function addresses(r: PluginOutcome): string[] {
  const j = r.json ?? {};
  if (j.ips) return j.ips.map((i: { address: string }) => i.address);
  return [j.ip4?.ip, j.ip6?.ip].filter(Boolean);
}
