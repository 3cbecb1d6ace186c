// The kit of the bandwidth integration tests: a node netns with pods wired by our bridge and
// host-local (dist/bin), the bandwidth plugin (ours or Debian's Go one) run inside the node as a
// runtime would, readers of the tc state, and iperf3 between pods.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { TestFn } from 'ava';
import {
  type Netns,
  type PluginOutcome,
  SYSTEM_PATH,
  TestNode,
  binDir,
  execPlugin,
  goPlugin,
  ourPlugin,
  rootTest,
  uniquePrefix,
} from '@cni-ts/testutils';

export const OURS = ourPlugin('bandwidth');
export const GO = goPlugin('bandwidth');
export const NETWORK = 'bwnet';

/** One test's world: a node netns and a scratch directory for the IPAM store. */
export interface World {
  node: TestNode;
  dir: string;
  /** Addresses handed out so far, by pod name. */
  ips: Map<string, string>;
}

export async function makeWorld(tag: string): Promise<World> {
  return {
    node: await TestNode.create(uniquePrefix(tag)),
    dir: mkdtempSync(join(tmpdir(), 'cts-bw-')),
    ips: new Map(),
  };
}

export async function dropWorld(w: World | undefined): Promise<void> {
  if (!w) return;
  await w.node.destroy();
  rmSync(w.dir, { recursive: true, force: true });
}

/** The root-only ava test function of a file whose tests each get a fresh World. */
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

/** The bridge config every pod is wired with (our bridge and host-local). */
export function bridgeConf(w: World, cniVersion = '1.0.0'): Record<string, unknown> {
  return {
    cniVersion,
    name: NETWORK,
    type: 'bridge',
    bridge: 'cni0',
    isGateway: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.33.0.0/24' }]], dataDir: join(w.dir, 'ipam') },
  };
}

/** A pod wired by our bridge: its netns, container ID and the bridge's result (bandwidth's prevResult). */
export interface Pod {
  ns: Netns;
  id: string;
  ip: string;
  result: any;
}

/** Wires a pod with our bridge; `extra` keys are added to the bridge's config (e.g. `mtu`). */
export async function addPod(
  w: World,
  name: string,
  cniVersion = '1.0.0',
  extra: Record<string, unknown> = {},
): Promise<Pod> {
  const ns = await w.node.addPod(name);
  const id = `ctr-${name}`;
  const r = await execPlugin({
    plugin: ourPlugin('bridge'),
    command: 'ADD',
    config: { ...bridgeConf(w, cniVersion), ...extra },
    containerId: id,
    netns: ns.path,
    ifname: 'eth0',
    inNetns: w.node.node.name,
    cniPath: [binDir],
  });
  if (r.exitCode !== 0) throw new Error(`bridge ADD of ${name} failed: ${r.stdout}${r.stderr}`);
  const ip = String(r.json.ips[0].address).split('/')[0]!;
  w.ips.set(name, ip);
  return { ns, id, ip, result: r.json };
}

/** Runs a bandwidth plugin (ours unless `plugin`) for a pod inside the node. */
export function bandwidth(
  w: World,
  command: string,
  pod: Pod,
  conf: Record<string, unknown>,
  opts: {
    plugin?: string;
    prevResult?: unknown;
    netns?: string;
    cniVersion?: string;
    env?: Record<string, string>;
  } = {},
): Promise<PluginOutcome> {
  const prev = 'prevResult' in opts ? opts.prevResult : pod.result;
  return execPlugin({
    plugin: opts.plugin ?? OURS,
    command,
    config: {
      cniVersion: opts.cniVersion ?? '1.0.0',
      name: NETWORK,
      type: 'bandwidth',
      ...conf,
      ...(prev !== undefined ? { prevResult: prev } : {}),
    },
    containerId: pod.id,
    netns: opts.netns ?? pod.ns.path,
    ifname: 'eth0',
    inNetns: w.node.node.name,
    cniPath: [binDir],
    ...(opts.env ? { env: opts.env } : {}),
  });
}

/** The host-side veth of a pod, from the bridge's result. */
export function vethOf(pod: Pod): string {
  return pod.result.interfaces.find((i: any) => i.name.startsWith('veth') && !i.sandbox).name;
}

/** `tc -j -raw qdisc show dev <dev>` in the node: the qdiscs with their raw parameters. */
export async function qdiscs(w: World, dev: string): Promise<any[]> {
  return JSON.parse(await w.node.node.exec('tc', ['-j', '-raw', '-d', 'qdisc', 'show', 'dev', dev]));
}

/** The u32 filters on a device's ingress qdisc, with their actions (entries that carry a match). */
export async function filters(w: World, dev: string): Promise<any[]> {
  const out = JSON.parse(await w.node.node.exec('tc', ['-j', 'filter', 'show', 'dev', dev, 'parent', 'ffff:']));
  return out.filter((f: any) => f.options?.match);
}

/** The ifb devices of the node (`ip -j -d link show type ifb`). */
export async function ifbs(w: World): Promise<any[]> {
  return w.node.node.ipJson<any[]>(['-d', 'link', 'show', 'type', 'ifb']);
}

/** A tbf qdisc reduced to what CHECK compares: rate (B/s), limit (B), buffer (ticks). */
export function tbfParams(q: any): { rate: number; limit: number; buffer: number } | undefined {
  if (q?.kind !== 'tbf') return undefined;
  return { rate: q.options.rate, limit: q.options.limit, buffer: Number.parseInt(q.options.burst_raw, 16) };
}

/** The root qdisc of a device. */
export async function rootQdisc(w: World, dev: string): Promise<any> {
  return (await qdiscs(w, dev)).find((q) => q.root);
}

/**
 * An iperf3 TCP run between `client` and `server`'s address (data from the client, or to it with `reverse`):
 * the receiver's rate per whole one-second interval and over those intervals (bits/s). With `priority`, both
 * ends run at nice -10, so on a loaded machine the sender keeps its socket buffer filled and the
 * receiver reads at each interval's end (never real-time priority: iperf3 3.12 can spin at the end
 * of a test, and a spinning SCHED_FIFO process starves its peer on a 2-core machine). A client that
 * has not finished 30 s after its run's length is killed.
 */
export async function iperf(
  server: Netns,
  client: Netns,
  address: string,
  opts: { seconds?: number; bytes?: string; reverse?: boolean; port?: number; priority?: boolean },
): Promise<{ intervals: number[]; mean: number }> {
  const port = String(opts.port ?? 5201);
  const nice = opts.priority ? ['nice', '-n', '-10'] : [];
  const srv = execa('ip', ['netns', 'exec', server.name, ...nice, 'iperf3', '-s', '-1', '-J', '-p', port], {
    env: { PATH: SYSTEM_PATH },
    extendEnv: false,
    reject: false,
  });
  try {
    await waitForListen(server, port);
    const args = [
      ...['-c', address, '-p', port],
      ...(opts.bytes ? ['-n', opts.bytes] : ['-t', String(opts.seconds ?? 3)]),
      ...['-J', '--get-server-output'],
      ...(opts.reverse ? ['-R'] : []),
    ];
    const run = await execa('ip', ['netns', 'exec', client.name, ...nice, 'iperf3', ...args], {
      env: { PATH: SYSTEM_PATH },
      extendEnv: false,
      reject: false,
      timeout: ((opts.seconds ?? 3) + 30) * 1000,
    });
    if (run.exitCode !== 0) throw new Error(`iperf3 ${args.join(' ')} failed: ${run.stderr || run.stdout}`);
    const j = JSON.parse(run.stdout);
    // the receiver's view: the server's intervals when the client sends, the client's with -R
    const recv: any[] = opts.reverse ? j.intervals : j.server_output_json.intervals;
    // the seconds of the transfer: with -t, the server's last interval can run on past the sender's
    // end while it waits for the test's end (the last bytes of the sender's buffer, then idle time),
    // so only intervals that end within the run's length count, and the mean is theirs
    const last = opts.bytes ? Number.POSITIVE_INFINITY : (opts.seconds ?? 3) + 0.1;
    const full = recv.filter((i) => i.sum.seconds > 0.5 && i.sum.end <= last);
    const bytes = full.reduce((n, i) => n + i.sum.bytes, 0);
    const seconds = full.reduce((n, i) => n + i.sum.seconds, 0);
    return {
      intervals: full.map((i) => i.sum.bits_per_second),
      mean: seconds > 0 ? (bytes * 8) / seconds : j.end.sum_received.bits_per_second,
    };
  } finally {
    srv.kill();
    await srv;
  }
}

// Waits until the server listens (polling `ss` in its netns; a test connection would use up `-s -1`).
async function waitForListen(server: Netns, port: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const out = await server.exec('ss', ['-Hltn', `sport = :${port}`]).catch(() => '');
    if (out.trim()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`iperf3 did not start listening on port ${port} in ${server.name}`);
}
