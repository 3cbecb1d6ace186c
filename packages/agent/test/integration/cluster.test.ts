// The agent in the sandbox cluster: three node namespaces on one L2 segment, a fake Kubernetes API
// server for Nodes, one agent per node. The agents' conflists and routes carry pod traffic between
// nodes (IPv4 and IPv6, sources kept), their masquerade chains NAT only what leaves the cluster;
// a node joins and one leaves while pods run; a restart of an agent changes nothing; uninstall
// removes everything the agent made.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Netns, rootTest, sh, uniquePrefix } from '@cni-ts/testutils';
import anyTest, { type TestFn } from 'ava';
import { execa } from 'execa';
import { AGENT_MAIN, Sandbox, type SandboxNode, agentRoutes, masqRules, masqueradedPackets, ping } from './sandbox.js';

const test = rootTest(anyTest as TestFn, import.meta.url);

interface Pod {
  ns: Netns;
  id: string;
  v4: string;
  v6: string;
}

// ICMP flows in a node's conntrack table: "src>dst" of the original direction → the reply's destination
async function icmpFlows(ns: Netns): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const l of (await ns.exec('conntrack', ['-L', '-p', 'icmp'])).split('\n')) {
    const m = /src=(\S+) dst=(\S+) .*src=(\S+) dst=(\S+)/.exec(l);
    if (m) out.set(`${m[1]}>${m[2]}`, m[4] as string);
  }
  return out;
}

async function addPod(sb: Sandbox, n: SandboxNode, name: string): Promise<Pod> {
  const ns = await sb.netns(`${n.name}-${name}`, { loUp: true });
  const id = `${sb.prefix}-${n.name}-${name}`;
  const result = await n.runtime.add(sb.conflist(n), { containerId: id, netns: ns.path, ifname: 'eth0' });
  const ips: string[] = (result.ips ?? []).map((x: { address: string }) => x.address.split('/')[0]);
  const v4 = ips.find((x) => !x.includes(':'));
  const v6 = ips.find((x) => x.includes(':'));
  if (!v4 || !v6) throw new Error(`pod ${id} got ${ips.join(', ')}: expected one address of each family`);
  return { ns, id, v4, v6 };
}

test.serial(
  'agents configure a live cluster: pods across nodes, nodes joining and leaving, restart, uninstall',
  async (t) => {
    const sb = new Sandbox(uniquePrefix('ag'));
    t.teardown(() => sb.destroy());
    await sb.start();
    const [n1, n2, n3] = [await sb.addNode(1), await sb.addNode(2), await sb.addNode(3)];
    // a host outside the cluster, reachable from node1 only; it has no route to any pod address
    const out = await sb.netns('out');
    await sh('ip', [
      'link',
      'add',
      'up1',
      'netns',
      n1.ns.name,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      out.name,
    ]);
    await n1.ns.exec('ip', ['addr', 'add', '10.98.0.1/24', 'dev', 'up1']);
    await n1.ns.exec('ip', ['link', 'set', 'up1', 'up']);
    await out.exec('ip', ['addr', 'add', '10.98.0.2/24', 'dev', 'eth0']);
    await out.exec('ip', ['link', 'set', 'eth0', 'up']);

    await sb.publishNode(n1);
    await sb.publishNode(n2);
    // a node whose InternalIP is on no connected network: its route is refused, the others are not
    await sb.apiCommand({ set: { name: 'node9', podCIDRs: ['10.245.9.0/24'], internalIPs: ['10.77.0.9'] } });
    for (const n of [n1, n2]) await sb.startAgent(n).waitFor(/^node ready$/);
    await n1.agent?.waitFor(/^routes the kernel refused/);
    t.is(await sb.metric(n1, 'route_errors'), 1);

    // what the agent installed
    const ino = statSync(join(n1.binDir, 'bridge')).ino;
    // just written, so nothing to read back at this start (a fresh write is in the page cache's fast state)
    const firstWarm = await n1.agent?.waitFor(/^warmed the executables$/);
    t.deepEqual(firstWarm?.files, [], 'nothing warmed after writing every executable');
    t.is(
      statSync(join(n1.binDir, 'host-local')).ino,
      ino,
      'the multi-call executable keeps its hard links on the host',
    );
    t.deepEqual(sb.conflist(n1).plugins[0]?.ipam, {
      type: 'host-local',
      ranges: [[{ subnet: '10.245.1.0/24' }], [{ subnet: 'fd00:10:245:1::/64' }]],
      dataDir: n1.dataDir,
    });
    t.deepEqual(await agentRoutes(n1.ns), ['10.245.2.0/24 via 192.168.78.2', 'fd00:10:245:2::/64 via fd00:78::2']);
    t.deepEqual(await agentRoutes(n2.ns), ['10.245.1.0/24 via 192.168.78.1', 'fd00:10:245:1::/64 via fd00:78::1']);
    t.is((await sb.http(n1, '/readyz')).status, 200);
    t.is(await sb.metric(n1, 'routes', '{family="ipv4"}'), 2, 'node2 and node9 planned');
    await sb.apiCommand({ delete: 'node9' });
    await sb.until(async () => (await sb.metric(n1, 'route_errors')) === 0 || undefined, 'node9 forgotten');

    // an executable removed by someone else is put back at the next pass
    rmSync(join(n2.binDir, 'loopback'));
    await sb.until(() => existsSync(join(n2.binDir, 'loopback')) || undefined, 'loopback to be reinstalled on node2');
    t.is(statSync(join(n2.binDir, 'loopback')).ino, statSync(join(n2.binDir, 'bridge')).ino);

    // pods on the agents' conflists reach each other across nodes, without NAT
    const p1 = await addPod(sb, n1, 'a');
    const p2 = await addPod(sb, n2, 'a');
    const natBefore = await masqueradedPackets(n1.ns);
    await ping(p1.ns, p2.v4);
    await ping(p1.ns, p2.v6);
    await ping(p2.ns, p1.v4);
    const flows = await icmpFlows(n1.ns);
    t.is(flows.get(`${p1.v4}>${p2.v4}`), p1.v4, 'pod-to-pod across nodes: the reply goes to the pod itself (no NAT)');
    t.is(flows.get(`${p2.v4}>${p1.v4}`), p2.v4);
    // traffic leaving the cluster is masqueraded: the outside host can only answer node1's address
    await ping(p1.ns, '10.98.0.2');
    t.is((await icmpFlows(n1.ns)).get(`${p1.v4}>10.98.0.2`), '10.98.0.1', 'to the outside: NATed to the node');
    t.true((await masqueradedPackets(n1.ns)) > natBefore, 'by our MASQUERADE rule');

    // a node joins while pods run: its agent waits for its Node, then everyone routes to it
    const a3 = sb.startAgent(n3);
    await a3.waitFor(/^node not ready$/);
    t.false(existsSync(join(n3.confDir, '10-cni-ts.conflist')), 'no conflist before the node has podCIDRs');
    t.is((await sb.http(n3, '/readyz')).status, 503);
    await sb.publishNode(n3);
    await a3.waitFor(/^node ready$/);
    await sb.until(async () => (await agentRoutes(n1.ns)).length === 4 || undefined, 'node1 to route to node3');
    await sb.until(async () => (await agentRoutes(n2.ns)).length === 4 || undefined, 'node2 to route to node3');
    const p3 = await addPod(sb, n3, 'a');
    await ping(p3.ns, p1.v4);
    await ping(p3.ns, p2.v6);
    await ping(p1.ns, p2.v4);

    // a node leaves: its routes go from every other node; the rest keeps working
    await sb.apiCommand({ delete: n2.name });
    await sb.until(
      async () =>
        (await agentRoutes(n1.ns)).every((r) => !r.includes('10.245.2.') && !r.includes(':245:2:')) || undefined,
      'node1 to drop node2',
    );
    t.deepEqual(await agentRoutes(n1.ns), ['10.245.3.0/24 via 192.168.78.3', 'fd00:10:245:3::/64 via fd00:78::3']);
    await sb.until(async () => (await agentRoutes(n3.ns)).length === 2 || undefined, 'node3 to drop node2');
    t.deepEqual(await agentRoutes(n3.ns), ['10.245.1.0/24 via 192.168.78.1', 'fd00:10:245:1::/64 via fd00:78::1']);
    await ping(p1.ns, p3.v4);
    await ping(p3.ns, p1.v6);

    // a restart of node1's agent changes nothing on the node
    const snapshot = async () => ({
      routes: await agentRoutes(n1.ns),
      masq: await masqRules(n1.ns),
      conflist: statSync(join(n1.confDir, '10-cni-ts.conflist')).ino,
      bins: readdirSync(n1.binDir).map((f) => `${f}:${statSync(join(n1.binDir, f)).ino}`),
    });
    const before = await snapshot();
    t.is(await sb.stopAgent(n1), 0, 'SIGTERM: a clean exit');
    t.deepEqual(await snapshot(), before, 'stopping keeps the node configured');
    const again = sb.startAgent(n1);
    await again.waitFor(/^node ready$/);
    // the restart wrote nothing, so it read the conflist's executables back once: one inode for all
    const warmed = await again.waitFor(/^warmed the executables$/);
    t.deepEqual(warmed.files, [join(n1.binDir, 'bridge')], 'the hard links of one executable read once');
    t.is(warmed.bytes, statSync(join(n1.binDir, 'bridge')).size);
    t.is(await sb.metric(n1, 'executable_warm_bytes_total'), statSync(join(n1.binDir, 'bridge')).size);
    await new Promise((r) => setTimeout(r, 2500)); // a resync period
    t.deepEqual(await snapshot(), before, 'a restart changes nothing');
    for (const m of ['route_changes_total', 'masquerade_changes_total', 'conflist_writes_total', 'binary_writes_total'])
      t.is(await sb.metric(n1, m), 0, `${m} after the restart`);
    t.true((await sb.metric(n1, 'reconciles_total', '{result="ok"}')) >= 2);
    await ping(p1.ns, p3.v4);

    // uninstall: routes, chains, conflist and our executables go
    t.is(await sb.stopAgent(n1), 0);
    const r = await execa(
      'ip',
      ['netns', 'exec', n1.ns.name, process.execPath, AGENT_MAIN, 'uninstall', '--config', n1.configPath],
      {
        reject: false,
      },
    );
    t.is(r.exitCode, 0, r.stderr);
    t.deepEqual(await agentRoutes(n1.ns), []);
    t.deepEqual(await masqRules(n1.ns), []);
    t.false(existsSync(join(n1.confDir, '10-cni-ts.conflist')));
    t.deepEqual(readdirSync(n1.binDir), []);
  },
);
