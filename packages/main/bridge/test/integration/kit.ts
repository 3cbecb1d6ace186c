// The kit of the bridge integration tests: a node netns with pod netns, the built bridge run
// inside the node as a runtime would, a throwaway IPAM store, fixture IPAM plugins, and readers
// of the kernel state (links, addresses, routes, sysctls, iptables and nft rules).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext, TestFn } from 'ava';
import {
  type Netns,
  type PluginOutcome,
  TestNode,
  binDir,
  execPlugin,
  goPlugin,
  goPluginDir,
  ourPlugin,
  rootTest,
  sh,
  uniquePrefix,
} from '@cni-ts/testutils';

export const OURS = ourPlugin('bridge');
export const GO = goPlugin('bridge');
/**
 * Where the IPAM plugin comes from: our host-local (dist/bin) unless CNI_TS_BRIDGE_IPAM_DIR says
 * otherwise. Differential tests run Go's bridge with Go's host-local (GO_IPAM_DIR).
 */
export const IPAM_DIR = process.env.CNI_TS_BRIDGE_IPAM_DIR ?? binDir;
/** Debian's Go plugins, for the Go side of differential tests. */
export const GO_IPAM_DIR = goPluginDir;

/** One test's world. */
export interface World {
  node: TestNode;
  /** IPAM store and fixtures, removed afterwards. */
  dir: string;
  /** A directory on CNI_PATH with fixture IPAM plugins (cts-ipam-*). */
  fixtures: string;
}

const FIXTURES: Record<string, string> = {
  // Answers ADD with $CTS_IPAM_RESULT, records every verb in $CTS_IPAM_LOG.
  'cts-ipam-static':
    '#!/bin/sh\n[ -n "$CTS_IPAM_LOG" ] && echo "$CNI_COMMAND $CNI_CONTAINERID" >> "$CTS_IPAM_LOG"\n[ "$CNI_COMMAND" = ADD ] && printf %s "$CTS_IPAM_RESULT"\nexit 0\n',
  // Runs the real IPAM ($CTS_IPAM_REAL), logs "<verb> <id> <its exit status>" to $CTS_IPAM_LOG, and
  // after a successful ADD answers as $CTS_IPAM_MANGLE says: "garbage" (not JSON) or "crash" (exit 2).
  'cts-ipam-mangle':
    '#!/bin/sh\nout=$("$CTS_IPAM_REAL"); rc=$?\n[ -n "$CTS_IPAM_LOG" ] && echo "$CNI_COMMAND $CNI_CONTAINERID $rc" >> "$CTS_IPAM_LOG"\nif [ "$CNI_COMMAND" = ADD ] && [ $rc = 0 ]; then\n  case "$CTS_IPAM_MANGLE" in\n    garbage) printf "reserved an address"; exit 0;;\n    crash) echo "panic: runtime error" >&2; exit 2;;\n  esac\nfi\nprintf %s "$out"\nexit $rc\n',
  // Fails every ADD the way an exhausted range does.
  'cts-ipam-fail':
    '#!/bin/sh\n[ -n "$CTS_IPAM_LOG" ] && echo "$CNI_COMMAND $CNI_CONTAINERID" >> "$CTS_IPAM_LOG"\n[ "$CNI_COMMAND" = ADD ] || exit 0\nprintf %s \'{"code":11,"msg":"no IP addresses available in range set"}\'\nexit 1\n',
};

/** Creates the node netns and a scratch directory (prefix cts-br-). */
export async function makeWorld(tag: string): Promise<World> {
  const node = await TestNode.create(uniquePrefix(tag));
  const dir = mkdtempSync(join(tmpdir(), 'cts-br-'));
  const fixtures = join(dir, 'bin');
  mkdirSync(fixtures);
  for (const [name, text] of Object.entries(FIXTURES)) {
    writeFileSync(join(fixtures, name), text);
    chmodSync(join(fixtures, name), 0o755);
  }
  return { node, dir, fixtures };
}

/** Removes everything a world made (after.always). */
export async function dropWorld(w: World | undefined): Promise<void> {
  if (!w) return;
  await w.node.destroy();
  rmSync(w.dir, { recursive: true, force: true });
}

/** A bridge config with host-local IPAM storing under the world's directory. */
export function netConf(
  w: World,
  extra: Record<string, unknown> = {},
  ranges: Array<Array<{ subnet: string }>> = [[{ subnet: '10.22.0.0/24' }]],
): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: 'podnet',
    type: 'bridge',
    bridge: 'cni0',
    ipam: { type: 'host-local', ranges, dataDir: join(w.dir, 'ipam') },
    ...extra,
  };
}

/** The addresses host-local still holds for a network. */
export function reservations(w: World, network = 'podnet'): string[] {
  const d = join(w.dir, 'ipam', network);
  if (!existsSync(d)) return [];
  return readdirSync(d).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip'));
}

/** Options of one plugin call. */
export interface Call {
  plugin?: string;
  containerId?: string;
  ifname?: string;
  cniArgs?: string;
  env?: Record<string, string | undefined>;
  /** CNI_PATH (default: IPAM_DIR, then the fixtures; for Go's bridge, Go's plugins then the fixtures). */
  cniPath?: string[];
}

/** Runs the bridge (ours unless `plugin`) inside the node for a pod, as a runtime would. */
export function run(
  w: World,
  command: string,
  pod: Netns | string,
  config: unknown,
  c: Call = {},
): Promise<PluginOutcome> {
  return execPlugin({
    plugin: c.plugin ?? OURS,
    command,
    config,
    containerId: c.containerId ?? 'ctr1',
    ifname: c.ifname ?? 'eth0',
    netns: typeof pod === 'string' ? pod : pod.path,
    inNetns: w.node.node.name,
    cniPath: c.cniPath ?? [c.plugin === GO ? GO_IPAM_DIR : IPAM_DIR, w.fixtures],
    cniArgs: c.cniArgs,
    env: c.env,
  });
}

/** ADD that must succeed; returns the result JSON. */
export async function mustAdd(
  t: ExecutionContext,
  w: World,
  pod: Netns,
  config: Record<string, unknown>,
  c: Call = {},
): Promise<any> {
  const r = await run(w, 'ADD', pod, config, c);
  t.is(r.exitCode, 0, `ADD failed: ${r.stdout}${r.stderr}`);
  return r.json;
}

/** `ip -j -d addr show` in a netns. */
export async function links(ns: Netns): Promise<any[]> {
  return ns.ipJson<any[]>(['-d', 'addr', 'show']);
}

/** The link names in a netns. */
export async function linkNames(ns: Netns): Promise<string[]> {
  return (await ns.ipJson<any[]>(['link', 'show'])).map((l) => l.ifname);
}

/** Global addresses of a link as "ip/len". */
export function addrsOf(link: any): string[] {
  return (link?.addr_info ?? []).filter((a: any) => a.scope === 'global').map((a: any) => `${a.local}/${a.prefixlen}`);
}

/** iptables-save -t nat (or ip6tables-save) inside a netns, without the comment lines. */
export async function natRules(ns: Netns, family: 4 | 6 = 4): Promise<string[]> {
  const out = await ns.exec(family === 4 ? 'iptables-save' : 'ip6tables-save', ['-t', 'nat']);
  return out
    .split('\n')
    .filter((l) => l.startsWith('-') || (l.startsWith(':') && !/^:(PREROUTING|INPUT|OUTPUT|POSTROUTING) /.test(l)));
}

/** The nft ruleset of a netns as text, without the iptables-nft tables. */
export async function nftRules(ns: Netns): Promise<string> {
  return ns.exec('nft', ['list', 'ruleset']);
}

/** Reads sysctls in a netns (slash form, relative to /proc/sys); missing ones are undefined. */
export async function sysctls(ns: Netns, names: string[]): Promise<Record<string, string | undefined>> {
  const script = names.map((n) => `cat /proc/sys/${n} 2>/dev/null || echo -`).join('; ');
  const out = (await ns.exec('sh', ['-c', script])).split('\n');
  return Object.fromEntries(names.map((n, i) => [n, out[i] === '-' ? undefined : out[i]]));
}

/** True when `from` can ping `to` (one try, 3 s). */
export async function pings(from: Netns, to: string): Promise<boolean> {
  try {
    await from.exec('ping', ['-c', '1', '-W', '3', to]);
    return true;
  } catch {
    return false;
  }
}

/** Whether this kernel can do bridge VLAN filtering (probed in a throwaway netns). */
export async function kernelHasVlanFiltering(): Promise<boolean> {
  const name = `${uniquePrefix('vf')}-probe`;
  await sh('ip', ['netns', 'add', name]);
  try {
    await sh('ip', ['-n', name, 'link', 'add', 'name', 'probe0', 'type', 'bridge', 'vlan_filtering', '1']);
    return true;
  } catch {
    return false;
  } finally {
    await sh('ip', ['netns', 'del', name]).catch(() => undefined);
  }
}

/** The root-only ava test function of a file whose tests each get a fresh World (made and dropped around every test). */
export function worldTest(test: TestFn<{ w: World }>, tag: string, what: string): TestFn<{ w: World }> {
  const t0 = rootTest(test, what);
  t0.beforeEach(async (t) => {
    t.context.w = await makeWorld(tag);
  });
  t0.afterEach.always(async (t) => {
    await dropWorld(t.context.w);
  });
  return t0;
}
