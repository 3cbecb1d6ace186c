// The kit of portmap's integration tests: a node netns with an "eth0" towards a client netns (an
// outside host), pods wired by our bridge and host-local through a conflist as the runtime runs
// it, echo servers in pods, clients anywhere, and readers of the rules left in the node.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestFn } from 'ava';
import { type ResultPromise, execa } from 'execa';
import {
  type ConfList,
  CniRuntime,
  Netns,
  SYSTEM_PATH,
  TestNode,
  binDir,
  execPlugin,
  goPlugin,
  ourPlugin,
  rootTest,
  sh,
  uniquePrefix,
} from '@cni-ts/testutils';

export const OURS = ourPlugin('portmap');
export const GO = goPlugin('portmap');
const ECHO = fileURLToPath(new URL('../../../test/fixtures/echo.mjs', import.meta.url));

/** The node's address on eth0 (what the client dials), per family. */
export const NODE_IP = { 4: '192.168.77.1', 6: 'fd00:77::1' } as const;
export const CLIENT_IP = { 4: '192.168.77.2', 6: 'fd00:77::2' } as const;

/** One test's world. */
export interface World {
  node: TestNode;
  client: Netns;
  dir: string;
  rt: CniRuntime;
  servers: ResultPromise[];
}

/** Creates the node, the client and the link between them (prefix from `tag`). */
export async function makeWorld(tag: string): Promise<World> {
  const node = await TestNode.create(uniquePrefix(tag));
  const w: World = {
    node,
    client: await Netns.create(`${node.prefix}-cl`),
    dir: mkdtempSync(join(tmpdir(), 'cts-pm-')),
    rt: new CniRuntime({ cniPath: [binDir], inNetns: node.node.name }),
    servers: [],
  };
  const n = node.node.name;
  await sh('ip', ['-n', n, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0', 'netns', w.client.name]);
  for (const [ns, dev, f] of [
    [n, 'eth0', NODE_IP],
    [w.client.name, 'peer0', CLIENT_IP],
  ] as const) {
    await sh('ip', ['-n', ns, 'addr', 'add', `${f[4]}/24`, 'dev', dev]);
    await sh('ip', ['-n', ns, 'addr', 'add', `${f[6]}/64`, 'dev', dev, 'nodad']);
    await sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  }
  await node.node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
  return w;
}

/** Removes everything a world made (after.always): servers by pid, namespaces, the scratch dir. */
export async function dropWorld(w: World | undefined): Promise<void> {
  if (!w) return;
  for (const s of w.servers) s.kill('SIGKILL');
  await Promise.allSettled(w.servers);
  await w.node.destroy();
  await w.client.destroy();
  rmSync(w.dir, { recursive: true, force: true });
}

/** `test` with a fresh world per test in t.context.w (skipping without root). */
export function worldTest(test: TestFn<{ w: World }>, tag: string, title: string): TestFn<{ w: World }> {
  const t = rootTest(test, title);
  t.beforeEach(async (c) => {
    c.context.w = await makeWorld(tag);
  });
  t.afterEach.always(async (c) => {
    await dropWorld(c.context.w);
  });
  return t;
}

/** The conflist of the seed: our bridge (+ our host-local) then portmap with the portMappings capability, at 0.4.0. */
export function conflist(w: World, portmap: Record<string, unknown> = {}, v6 = true): ConfList {
  const ranges = [[{ subnet: '10.22.0.0/24' }], ...(v6 ? [[{ subnet: 'fd00:22::/64' }]] : [])];
  return {
    cniVersion: '0.4.0',
    name: 'k8s-pod-network',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        isDefaultGateway: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges, dataDir: join(w.dir, 'ipam') },
      },
      { type: 'portmap', capabilities: { portMappings: true }, ...portmap },
    ],
  };
}

/** A port mapping as containerd's CRI sends it (capitalised keys). */
export function mapping(hostPort: number, containerPort: number, protocol = 'tcp', hostIP?: string) {
  return {
    HostPort: hostPort,
    ContainerPort: containerPort,
    Protocol: protocol,
    ...(hostIP ? { HostIP: hostIP } : {}),
  };
}

/** Starts the echo server in a netns ("<name> <peer>" on TCP and UDP `port`); waits until it listens. Returns the peers of the datagrams it got so far. */
export async function serve(w: World, ns: Netns, name: string, port: number, host?: string): Promise<() => string[]> {
  const p = execa(
    'ip',
    ['netns', 'exec', ns.name, process.execPath, ECHO, 'serve', name, String(port), ...(host ? [host] : [])],
    {
      env: { PATH: SYSTEM_PATH },
      extendEnv: false,
      reject: false,
    },
  );
  w.servers.push(p);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    p.stdout!.on('data', (d) => {
      out += String(d);
      if (out.includes('ready')) resolve();
    });
    p.once('exit', (code) => reject(new Error(`echo server in ${ns.name} exited (${code})`)));
  });
  return () => [...out.matchAll(/^got (\S+)$/gm)].map((m) => m[1]!);
}

/** Dials host:port over TCP or UDP from a netns; the server's answer, or "ERR <why>". */
export async function dial(
  ns: Netns,
  proto: 'tcp' | 'udp',
  host: string,
  port: number,
  srcPort?: number,
  waitMs = 2000,
) {
  const args = [process.execPath, ECHO, proto, host, String(port), ...(srcPort ? [String(srcPort)] : [])];
  const r = await execa('ip', ['netns', 'exec', ns.name, ...args], {
    env: { PATH: SYSTEM_PATH, ECHO_WAIT_MS: String(waitMs) },
    extendEnv: false,
    reject: false,
  });
  return r.stdout.trim();
}

/** The rules of one table as iptables-save prints them (no comments, no counters), or [] when absent. */
export async function saved(ns: Netns, family: 4 | 6, table = 'nat'): Promise<string[]> {
  const out = await ns.exec(family === 4 ? 'iptables-save' : 'ip6tables-save', ['-t', table]);
  return out.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

/** Every rule line (-A …) of a table. */
export async function rulesOf(ns: Netns, family: 4 | 6, table = 'nat'): Promise<string[]> {
  return (await saved(ns, family, table)).filter((l) => l.startsWith('-A '));
}

/** Runs a portmap executable (ours unless `plugin`) inside the node for a container, as a runtime would. */
export function portmap(
  w: { node: TestNode },
  command: string,
  config: Record<string, unknown>,
  o: { plugin?: string; containerId?: string } = {},
) {
  return execPlugin({
    plugin: o.plugin ?? OURS,
    command,
    config: { cniVersion: '0.4.0', name: 'podnet', type: 'portmap', ...config },
    containerId: o.containerId ?? 'ctr1',
    ifname: 'eth0',
    netns: '/run/netns/none',
    inNetns: w.node.node.name,
    cniPath: [binDir],
  });
}

/** A prevResult at 0.4.0 with the container's addresses on eth0 in a sandbox. */
export function prev(...addresses: string[]) {
  return {
    cniVersion: '0.4.0',
    interfaces: [{ name: 'eth0', sandbox: '/run/netns/none' }],
    ips: addresses.map((address) => ({ version: address.includes(':') ? '6' : '4', address, interface: 0 })),
    dns: {},
  };
}

/** Creates kube-proxy's masquerade chains in the node's nat table, as kube-proxy (iptables mode) does. */
export async function kubeProxyChains(ns: Netns): Promise<void> {
  const rules = [
    '*nat',
    ':KUBE-MARK-MASQ - [0:0]',
    ':KUBE-POSTROUTING - [0:0]',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE',
    'COMMIT',
    '',
  ].join('\n');
  for (const tool of ['iptables-restore', 'ip6tables-restore']) await ns.exec(tool, ['--noflush', '-w'], rules);
}

/** Waits (up to 5 s) until no IPv6 address of the node or of its pods is tentative (DAD of a new gateway). */
export async function settled(w: World): Promise<void> {
  const deadline = Date.now() + 5000;
  for (const ns of [w.node.node, ...w.node.pods]) {
    while ((await sh('ip', ['-n', ns.name, '-6', 'addr', 'show', 'tentative'])).trim() !== '' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
  }
}

/** A pod attached through the conflist, with its result. */
export async function addPod(w: World, list: ConfList, name: string, portMappings: unknown[]) {
  const pod = await w.node.addPod(name);
  const a = { containerId: name, netns: pod.path, ifname: 'eth0', capabilityArgs: { portMappings } };
  const result = await w.rt.add(list, a);
  return { pod, a, result };
}
