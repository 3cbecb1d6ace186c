// The sandbox cluster: two "nodes" (network namespaces joined by a veth, like two machines on one
// L2 segment), each running the default conflist for its pods, with pod CIDRs routed between
// nodes as kubenet/host-gw setups do. Checks the Kubernetes network model end to end, then tears
// everything down and checks nothing is left behind. Needs root; touches only its own namespaces.
import { execa } from 'execa';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniRuntime, Netns, binDir, repoRoot, sh } from '@cni-ts/testutils';

export const DEFAULT_CONFLIST = join(repoRoot, 'e2e', 'conf', '10-cni-ts.conflist');

// The cluster's pod network; traffic from it to anywhere else is masqueraded by each node, as
// kubenet's non-masquerade CIDR rule or ip-masq-agent do (the conflist's ipMasq stays false so
// pods see each other's real addresses across nodes, as the Kubernetes network model requires).
const CLUSTER_CIDR = '10.244.0.0/16';
// A host outside the cluster, reachable through node1 only (it has no route to pod addresses).
const OUTSIDE = { node: '10.99.0.1', host: '10.99.0.2' };
const NODE_NET = '192.168.77.0/24';

const NODES = [
  { name: 'node1', ip4: '192.168.77.1', ip6: 'fd00:77::1', podV4: '10.244.1.0/24', podV6: 'fd00:10:244:1::/64' },
  { name: 'node2', ip4: '192.168.77.2', ip6: 'fd00:77::2', podV4: '10.244.2.0/24', podV6: 'fd00:10:244:2::/64' },
];

/** The default conflist with this node's pod CIDRs and store filled in (as kubenet does with podCIDR). */
export function nodeConflist(base, node, dataDir) {
  const list = structuredClone(base);
  for (const p of list.plugins) {
    if (p.ipam?.type !== 'host-local') continue;
    p.ipam.ranges = p.ipam.ranges.map((set) =>
      set.map((r) => ({ ...r, subnet: r.subnet.includes(':') ? node.podV6 : node.podV4 })),
    );
    p.ipam.dataDir = dataDir;
  }
  return list;
}

/** Runs the demo; `log` receives one line per step. Returns {ok, checks: [{name, ok, detail}]}. */
export async function runClusterDemo({
  prefix = `ctdemo${process.pid.toString(36)}`,
  log = console.log,
  podsPerNode = 2,
} = {}) {
  const base = JSON.parse(readFileSync(DEFAULT_CONFLIST, 'utf8'));
  const work = mkdtempSync(join(tmpdir(), 'cts-demo-'));
  const namespaces = [];
  const checks = [];
  const check = async (name, fn) => {
    try {
      const detail = await fn();
      checks.push({ name, ok: true, detail });
      log(`  ✓ ${name}${detail ? ` (${detail})` : ''}`);
    } catch (e) {
      checks.push({ name, ok: false, detail: e.message });
      log(`  ✗ ${name}: ${e.message}`);
    }
  };
  try {
    log(`sandbox cluster "${prefix}": ${NODES.length} nodes × ${podsPerNode} pods, conflist ${DEFAULT_CONFLIST}`);
    const nodes = [];
    for (const n of NODES) {
      const ns = await Netns.create(`${prefix}-${n.name}`);
      namespaces.push(ns);
      const dataDir = join(work, n.name, 'networks');
      const list = nodeConflist(base, n, dataDir);
      const runtime = new CniRuntime({ cniPath: [binDir], inNetns: ns.name });
      nodes.push({ ...n, ns, list, dataDir, runtime, pods: [] });
    }
    await wireNodes(nodes, prefix);
    const outside = await Netns.create(`${prefix}-outside`);
    namespaces.push(outside);
    await wireOutside(nodes[0], outside, prefix);

    log('creating pods (loopback, then the default conflist, as containerd does)');
    for (const node of nodes) {
      for (let i = 1; i <= podsPerNode; i++) {
        const pod = await Netns.create(`${prefix}-${node.name}-pod${i}`, { loUp: false });
        namespaces.push(pod);
        const a = {
          containerId: `${prefix}-${node.name}-pod${i}`,
          netns: pod.path,
          ifname: 'eth0',
          cniArgs: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${node.name}-pod${i}`,
        };
        await node.runtime.add(loopbackList(), { ...a, ifname: 'lo' });
        const result = await node.runtime.add(node.list, a);
        const ips = (result.ips ?? []).map((x) => x.address.split('/')[0]);
        node.pods.push({
          ns: pod,
          a,
          result,
          v4: ips.find((x) => !x.includes(':')),
          v6: ips.find((x) => x.includes(':')),
        });
        log(`  ${node.name}/pod${i}: ${ips.join(', ')}`);
      }
    }

    log('checking the Kubernetes network model');
    const [n1, n2] = nodes;
    const [p1, p2] = n1.pods;
    const [q1] = n2.pods;
    await check('every pod has lo up with 127.0.0.1', async () => {
      for (const node of nodes) for (const p of node.pods) await p.ns.exec('ping', ['-c1', '-W2', '127.0.0.1']);
    });
    await check('pod reaches its node gateway (IPv4)', () => ping(p1.ns, gatewayOf(p1.result, 4)));
    await check('pods on one node reach each other (IPv4)', () => ping(p1.ns, p2.v4));
    await check('pods on one node reach each other (IPv6)', () => ping(p1.ns, p2.v6));
    await check('pods on different nodes reach each other without NAT (IPv4)', async () => {
      await ping(p1.ns, q1.v4);
      const seen = await observedSource(q1.ns, q1.v4, p1.ns);
      if (seen !== p1.v4) throw new Error(`${q1.v4} saw the packet from ${seen}, expected the pod's own ${p1.v4}`);
      return `${q1.v4} sees ${seen}`;
    });
    await check('pods on different nodes reach each other (IPv6)', () => ping(p1.ns, q1.v6));
    await check("a pod reaches another node's address, which sees the pod's address", async () => {
      await ping(p1.ns, n2.ip4);
      const seen = await observedSource(n2.ns, n2.ip4, p1.ns);
      if (seen !== p1.v4) throw new Error(`${n2.ip4} saw the packet from ${seen}, expected ${p1.v4}`);
      return `${n2.ip4} sees ${seen}`;
    });
    await check('a pod reaches a host outside the cluster, masqueraded to its node', async () => {
      await ping(p1.ns, OUTSIDE.host);
      const seen = await observedSource(outside, OUTSIDE.host, p1.ns);
      if (seen !== OUTSIDE.node)
        throw new Error(`${OUTSIDE.host} saw the packet from ${seen}, expected node1's ${OUTSIDE.node}`);
      return `${OUTSIDE.host} sees ${seen}`;
    });
    await check('a pod on another node reaches the outside host through the cluster', async () => {
      await ping(q1.ns, OUTSIDE.host);
      const seen = await observedSource(outside, OUTSIDE.host, q1.ns);
      if (seen !== n2.ip4) throw new Error(`${OUTSIDE.host} saw the packet from ${seen}, expected node2's ${n2.ip4}`);
      return `${OUTSIDE.host} sees ${seen}`;
    });
    await check('CHECK passes for every pod', async () => {
      for (const node of nodes) for (const p of node.pods) await node.runtime.check(node.list, p.a);
    });
    await check('STATUS passes on every node', async () => {
      for (const node of nodes) await node.runtime.status(node.list);
    });

    log('garbage collection: a pod whose sandbox vanished without DEL');
    const lost = n1.pods.pop();
    await lost.ns.destroy();
    await check("GC releases the lost pod's addresses and keeps the live ones", async () => {
      await n1.runtime.gc(
        n1.list,
        n1.pods.map((p) => p.a),
      );
      const held = reservations(n1.dataDir, n1.list.name);
      if (held.includes(lost.v4)) throw new Error(`${lost.v4} still reserved after GC`);
      for (const p of n1.pods) if (!held.includes(p.v4)) throw new Error(`GC released live pod ${p.v4}`);
      return `${held.length} reservations left`;
    });

    log('tearing down: DEL every pod');
    for (const node of nodes) {
      for (const p of node.pods) {
        await node.runtime.del(node.list, p.a);
        await node.runtime.del(loopbackList(), { ...p.a, ifname: 'lo' });
      }
    }
    await check('no veth, reservation or masquerade rule is left on any node', async () => {
      for (const node of nodes) {
        const links = await node.ns.ipJson(['link', 'show', 'type', 'veth']);
        const podVeths = links.filter((l) => !l.ifname.startsWith(prefix.slice(0, 6)) && l.ifname.startsWith('veth'));
        if (podVeths.length) throw new Error(`${node.name}: veths left: ${podVeths.map((l) => l.ifname).join(' ')}`);
        const held = reservations(node.dataDir, node.list.name);
        if (held.length) throw new Error(`${node.name}: reservations left: ${held.join(' ')}`);
        const nat = await node.ns.exec('iptables-save', ['-t', 'nat']);
        const chains = nat.split('\n').filter((l) => /^:CNI-[0-9a-f]{24}/.test(l));
        if (chains.length) throw new Error(`${node.name}: masquerade chains left: ${chains.join(' ')}`);
      }
    });
  } finally {
    for (const ns of namespaces.reverse()) await ns.destroy();
    rmSync(work, { recursive: true, force: true });
  }
  const ok = checks.length > 0 && checks.every((c) => c.ok);
  log(
    ok
      ? `all ${checks.length} checks passed`
      : `${checks.filter((c) => !c.ok).length} of ${checks.length} checks failed`,
  );
  return { ok, checks };
}

// Two nodes on one segment, each routing the other's pod CIDRs to it.
async function wireNodes([a, b], prefix) {
  const ifa = `${prefix.slice(0, 8)}a`;
  const ifb = `${prefix.slice(0, 8)}b`;
  await sh('ip', ['link', 'add', ifa, 'netns', a.ns.name, 'type', 'veth', 'peer', 'name', ifb, 'netns', b.ns.name]);
  for (const [n, ifn, peer] of [
    [a, ifa, b],
    [b, ifb, a],
  ]) {
    await n.ns.exec('ip', ['addr', 'add', `${n.ip4}/24`, 'dev', ifn]);
    await n.ns.exec('ip', ['-6', 'addr', 'add', `${n.ip6}/64`, 'dev', ifn, 'nodad']);
    await n.ns.exec('ip', ['link', 'set', ifn, 'up']);
    await n.ns.exec('ip', ['route', 'add', peer.podV4, 'via', peer.ip4]);
    await n.ns.exec('ip', ['-6', 'route', 'add', peer.podV6, 'via', peer.ip6]);
  }
}

// node1 has a second uplink to a host outside the cluster; node2 routes outside traffic via node1.
async function wireOutside(node, outside, prefix) {
  const inNode = `${prefix.slice(0, 8)}o`;
  const inOut = `${prefix.slice(0, 8)}p`;
  await sh('ip', [
    'link',
    'add',
    inNode,
    'netns',
    node.ns.name,
    'type',
    'veth',
    'peer',
    'name',
    inOut,
    'netns',
    outside.name,
  ]);
  await node.ns.exec('ip', ['addr', 'add', `${OUTSIDE.node}/24`, 'dev', inNode]);
  await node.ns.exec('ip', ['link', 'set', inNode, 'up']);
  await outside.exec('ip', ['addr', 'add', `${OUTSIDE.host}/24`, 'dev', inOut]);
  await outside.exec('ip', ['link', 'set', inOut, 'up']);
  // the cluster's masquerade rules on every node, as ip-masq-agent writes them: pod traffic to the
  // pod and node networks keeps its source; anything else leaving the node is NATed
  const agent = [
    '*nat',
    ':IP-MASQ-AGENT - [0:0]',
    '-A POSTROUTING -m comment --comment "ip-masq-agent" -j IP-MASQ-AGENT',
    `-A IP-MASQ-AGENT -d ${CLUSTER_CIDR} -j RETURN`,
    `-A IP-MASQ-AGENT -d ${NODE_NET} -j RETURN`,
    `-A IP-MASQ-AGENT -s ${CLUSTER_CIDR} -j MASQUERADE`,
    'COMMIT',
    '',
  ].join('\n');
  for (const n of NODES)
    await sh('ip', ['netns', 'exec', `${prefix}-${n.name}`, 'iptables-restore', '--noflush', '-w'], agent);
  await sh('ip', ['netns', 'exec', `${prefix}-node2`, 'ip', 'route', 'add', `${OUTSIDE.host}/32`, 'via', node.ip4]);
  await outside.exec('ip', ['route', 'add', NODE_NET, 'via', OUTSIDE.node]);
  await node.ns.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
}

function loopbackList() {
  return { cniVersion: '1.1.0', name: 'cni-loopback', plugins: [{ type: 'loopback' }] };
}

function gatewayOf(result, family) {
  const ip = (result.ips ?? []).find((x) => (family === 6) === x.address.includes(':'));
  if (!ip?.gateway) throw new Error(`no IPv${family} gateway in the result`);
  return ip.gateway;
}

async function ping(ns, ip) {
  if (!ip) throw new Error('no address to ping');
  // -c 1 -w 5: one reply within 5 s, re-sending each second. A fresh node's first IPv6 gateway
  // address is tentative for about a second (DAD, as with the Go plugin), like any new link.
  const r = await execa('ip', ['netns', 'exec', ns.name, 'ping', '-c', '1', '-w', '5', ip], { reject: false });
  if (r.exitCode !== 0)
    throw new Error(`ping ${ip} from ${ns.name} failed: ${r.stdout.split('\n').slice(-2).join(' ')}`);
}

// Sends one UDP datagram from clientNs to ip and returns the source address the receiver saw.
async function observedSource(serverNs, ip, clientNs) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = execa(
    'ip',
    [
      'netns',
      'exec',
      serverNs.name,
      process.execPath,
      '-e',
      `
    const s = require('node:dgram').createSocket('udp4');
    s.on('message', (m, r) => { console.log(r.address); process.exit(0); });
    s.bind(${port}, '${ip}', () => console.log('ready'));
    setTimeout(() => process.exit(2), 5000);`,
    ],
    { reject: false },
  );
  await new Promise((resolve) => server.stdout.once('data', resolve));
  await execa('ip', [
    'netns',
    'exec',
    clientNs.name,
    process.execPath,
    '-e',
    `
    const s = require('node:dgram').createSocket('udp4');
    s.send('hi', ${port}, '${ip}', () => s.close());`,
  ]);
  const r = await server;
  const lines = r.stdout.trim().split('\n');
  if (r.exitCode !== 0) throw new Error(`no datagram arrived at ${ip}:${port}`);
  return lines[lines.length - 1];
}

function reservations(dataDir, network) {
  try {
    return readdirSync(join(dataDir, network)).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip'));
  } catch {
    return [];
  }
}
