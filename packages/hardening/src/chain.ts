// The whole chain a node runs for a pod — loopback, bridge with host-local, portmap, bandwidth
// (and each plugin that joins CHAIN) — on a throwaway node, run the way libcni runs a conflist: ADD in
// order passing each result on, DEL in reverse with or without the cached result.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Netns, TestNode, binDir, ourPlugin, runtimeConfig, uniquePrefix } from '@cni-ts/testutils';
import { type Ran, cniEnv, invoke } from './run.js';
import { type Snapshot, diffState, heldLocks, netnsState, reservations } from './state.js';

/** A throwaway node with one pod and a scratch directory (IPAM store, shims, lock files). */
export interface World {
  node: TestNode;
  pod: Netns;
  dir: string;
  dataDir: string;
  /** The pod's bridge result when the pod is wired for a chained plugin under test (wirePod). */
  podResult?: Record<string, unknown>;
}

/** Creates a node netns `<prefix>-node`, a pod netns with lo down, and a scratch directory. */
export async function makeWorld(tag: string): Promise<World> {
  const node = await TestNode.create(uniquePrefix(tag));
  const pod = await node.addPod('pod', { loUp: false });
  const dir = mkdtempSync(join(tmpdir(), 'hd-'));
  return { node, pod, dir, dataDir: join(dir, 'ipam') };
}

/** Removes a world (after.always). */
export async function dropWorld(w: World | undefined): Promise<void> {
  if (!w) return;
  await w.node.destroy();
  rmSync(w.dir, { recursive: true, force: true });
}

/** One plugin of the chain: its conflist entry and the capability arguments the runtime passes it. */
export interface ChainPlugin {
  type: string;
  entry: (w: World, backend: Backend) => Record<string, unknown>;
  capabilityArgs?: Record<string, unknown>;
}

/** Which rule engine the chain's plugins use. */
export type Backend = 'iptables' | 'nftables';

/**
 * The chain under test, in conflist order. A plugin joins the hardening suite by being added
 * here (and, for the fuzzing, to FUZZ_SUBJECTS in subjects.ts).
 */
export const CHAIN: readonly ChainPlugin[] = [
  { type: 'loopback', entry: () => ({ type: 'loopback' }) },
  {
    type: 'bridge',
    entry: (w, backend) => ({
      type: 'bridge',
      bridge: 'hd0',
      isGateway: true,
      ipMasq: true,
      ipMasqBackend: backend,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: '10.77.0.0/24' }], [{ subnet: 'fd00:77::/64' }]],
        dataDir: w.dataDir,
      },
    }),
  },
  {
    type: 'portmap',
    entry: (_w, backend) => ({ type: 'portmap', backend, snat: true, capabilities: { portMappings: true } }),
    capabilityArgs: {
      portMappings: [
        { hostPort: 18080, containerPort: 80, protocol: 'tcp' },
        { hostPort: 18053, containerPort: 53, protocol: 'udp' },
      ],
    },
  },
  {
    type: 'bandwidth',
    entry: () => ({
      type: 'bandwidth',
      capabilities: { bandwidth: true, 'io.kubernetes.cri.pod-annotations': true },
    }),
    // as containerd sends them: capitalised keys, 4294967295 for "no burst chosen"; both
    // directions, so the ADD makes an ifb, a redirect and two tbfs
    capabilityArgs: {
      bandwidth: { IngressRate: 1_000_000, IngressBurst: 4_294_967_295, EgressRate: 2_000_000, EgressBurst: 160_000 },
      'io.kubernetes.cri.pod-annotations': {
        'kubernetes.io/ingress-bandwidth': '1M',
        'kubernetes.io/egress-bandwidth': '2M',
      },
    },
  },
];

/** The chain's conflist. */
export function conflist(
  w: World,
  backend: Backend,
  cniVersion = '1.0.0',
): { cniVersion: string; name: string; plugins: any[] } {
  return { cniVersion, name: 'hdnet', plugins: CHAIN.map((p) => p.entry(w, backend)) };
}

/** The stdin of one plugin of a conflist, as libcni builds it (without runtimeConfig when `bare`). */
export function pluginConf(
  list: ReturnType<typeof conflist>,
  i: number,
  prev: unknown,
  bare = false,
): Record<string, unknown> {
  const p = list.plugins[i];
  const conf: Record<string, unknown> = { ...p, cniVersion: list.cniVersion, name: list.name };
  delete conf.capabilities;
  const rc = bare ? undefined : runtimeConfig(p.capabilities, CHAIN[i]?.capabilityArgs);
  if (rc) conf.runtimeConfig = rc;
  if (prev !== undefined) conf.prevResult = prev;
  return conf;
}

/** How a chain call is run. */
export interface ChainOptions {
  containerId?: string;
  ifname?: string;
  /** CNI_NETNS (default: the world's pod). */
  netns?: string;
  /** PATH and CNI_PATH directories put before the system ones and dist/bin (shims). */
  shimDir?: string;
  /** CNI_PATH is dist/bin alone even with shims: bridge runs host-local in-process (same executable). */
  ipamInProcess?: boolean;
  /** Extra environment for every plugin (e.g. XTABLES_LOCKFILE). */
  env?: Record<string, string>;
  /** SIGKILL plugin `index` this many ms after it starts. */
  killPlugin?: { index: number; afterMs: number };
  hangMs?: number;
  /** DEL only: no runtimeConfig (the capability arguments are gone, as after a runtime restart). */
  bare?: boolean;
}

/** What a chain ADD did: every plugin's run, the last result printed, and whether it all succeeded. */
export interface ChainRun {
  runs: Ran[];
  /** The result of the last plugin that succeeded (what a runtime could pass to DEL). */
  lastResult?: unknown;
  ok: boolean;
}

function envFor(w: World, command: string, o: ChainOptions): Record<string, string | undefined> {
  const path = o.shimDir && !o.ipamInProcess ? `${o.shimDir}:${binDir}` : binDir;
  return {
    ...cniEnv(command, {
      containerId: o.containerId ?? 'hd-ctr',
      netns: o.netns ?? w.pod.path,
      ifname: o.ifname ?? 'eth0',
      cniPath: path,
      args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=hd;K8S_POD_NAME=pod',
    }),
    ...(o.shimDir ? { PATH: `${o.shimDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` } : {}),
    ...o.env,
  };
}

/** Runs the chain's ADD, stopping at the first plugin that fails. */
export async function chainAdd(w: World, list: ReturnType<typeof conflist>, o: ChainOptions = {}): Promise<ChainRun> {
  const runs: Ran[] = [];
  let prev: unknown;
  for (let i = 0; i < list.plugins.length; i++) {
    const r = await invoke({
      plugin: ourPlugin(list.plugins[i].type),
      inNetns: w.node.node.name,
      env: envFor(w, 'ADD', o),
      config: pluginConf(list, i, prev),
      hangMs: o.hangMs,
      ...(o.killPlugin?.index === i ? { killAfterMs: o.killPlugin.afterMs } : {}),
    });
    runs.push(r);
    if (r.exitCode !== 0) return { runs, lastResult: prev, ok: false };
    prev = r.json;
  }
  return { runs, lastResult: prev, ok: true };
}

/** Runs the chain's DEL in reverse order (every plugin, also after failures), with `prev` as prevResult when given. */
export async function chainDel(
  w: World,
  list: ReturnType<typeof conflist>,
  prev: unknown,
  o: ChainOptions = {},
): Promise<Ran[]> {
  const runs: Ran[] = [];
  for (let i = list.plugins.length - 1; i >= 0; i--) {
    runs.push(
      await invoke({
        plugin: ourPlugin(list.plugins[i].type),
        inNetns: w.node.node.name,
        env: envFor(w, 'DEL', o),
        config: pluginConf(list, i, prev, o.bare),
        hangMs: o.hangMs,
      }),
    );
  }
  return runs;
}

/** Wires the world's pod with the chain's bridge (iptables masquerade) and keeps its result in `podResult` (containerId and ifname from `o`). */
export async function wirePod(w: World, o: ChainOptions = {}): Promise<Record<string, unknown>> {
  const list = conflist(w, 'iptables');
  const i = list.plugins.findIndex((p) => p.type === 'bridge');
  const r = await invoke({
    plugin: ourPlugin('bridge'),
    inNetns: w.node.node.name,
    env: envFor(w, 'ADD', o),
    config: pluginConf(list, i, undefined),
  });
  if (r.exitCode !== 0) throw new Error(`bridge ADD of the pod failed: ${r.stdout}${r.stderr}`);
  w.podResult = r.json;
  return r.json;
}

/** Everything of the node, the pod and the store that a chain can leave behind. */
export async function worldState(w: World): Promise<Snapshot> {
  const [node, pod] = await Promise.all([netnsState(w.node.node.name), netnsState(w.pod.name)]);
  return {
    ...node,
    podLinks: pod.links ?? [],
    podAddrs: pod.addrs ?? [],
    reservations: reservations(w.dataDir),
    heldLocks: heldLocks(w.dir),
  };
}

/** The differences between a world's state now and `baseline`. */
export async function leftovers(w: World, baseline: Snapshot): Promise<string[]> {
  return diffState(baseline, await worldState(w));
}
