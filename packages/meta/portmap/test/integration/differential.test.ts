// Differential tests: our dist/bin/portmap against Debian's Go portmap v1.1.1 (/usr/lib/cni),
// same config and prevResult, each in its own fresh node netns. After ADD the nat tables
// (iptables-save and `nft list table`) must be identical in both families; the filter table
// differs only by our 127/8 guard (upstream #481). A node that ran ADD with one and DEL with the
// other ends as clean as with one alone, our CHECK accepts Go's rules (Go v1.1.1's CHECK fails
// on any node with ip6tables, #819, and gives the same verdict on ours as on its own), and a node
// where both run side by side gets its shared rules once. Go v1.1.1 has no nftables backend, so
// the nftables layout is pinned by golden tests against upstream's newest code instead.
import { existsSync } from 'node:fs';
import anyTest, { type TestFn } from 'ava';
import { TestNode, rootTest, uniquePrefix } from '@cni-ts/testutils';
import { GO, kubeProxyChains, portmap, prev, saved } from './kit.js';

const test = rootTest(anyTest as TestFn<{ nodes: TestNode[] }>, 'portmap differential');
test.before((t) => {
  if (!existsSync(GO)) t.fail(`${GO} is missing: install Debian's containernetworking-plugins (.ci/run does)`);
});
test.beforeEach((t) => {
  t.context.nodes = [];
});
test.afterEach.always(async (t) => {
  for (const n of t.context.nodes) await n.destroy();
});

async function fresh(t: { context: { nodes: TestNode[] } }, tag: string): Promise<{ node: TestNode }> {
  const node = await TestNode.create(uniquePrefix(tag));
  t.context.nodes.push(node);
  return { node };
}

const DUAL = prev('10.22.0.5/24', 'fd00:22::5/64');
const tcp = (...ports: number[]) => ports.map((p) => ({ hostPort: p, containerPort: 80, protocol: 'tcp' }));
const rc = (portMappings: unknown[]) => ({ runtimeConfig: { portMappings } });
const LOCALNET = [
  ':CNI-HOSTPORT-LOCALNET - [0:0]',
  '-A INPUT -m comment --comment "CNI portfwd: no new connections to 127/8 from off the node" -j CNI-HOSTPORT-LOCALNET',
  '-A CNI-HOSTPORT-LOCALNET ! -s 127.0.0.0/8 -d 127.0.0.0/8 ! -i lo -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
];

interface Case {
  title: string;
  config: Record<string, unknown>;
  prevResult?: unknown;
  kubeProxy?: boolean;
}
const CASES: Case[] = [
  {
    title: 'four mappings: tcp, udp, a v4 and a v6 hostIP',
    config: rc([
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 8053, containerPort: 53, protocol: 'udp' },
      { hostPort: 9090, containerPort: 90, protocol: 'tcp', hostIP: '192.168.77.1' },
      { hostPort: 9091, containerPort: 91, protocol: 'tcp', hostIP: 'fd00::1' },
    ]),
  },
  {
    title: "kube-proxy's KUBE-MARK-MASQ",
    config: { ...rc(tcp(8080)), externalSetMarkChain: 'KUBE-MARK-MASQ' },
    kubeProxy: true,
  },
  { title: 'snat off', config: { ...rc(tcp(8080, 8443)), snat: false } },
  {
    title: 'markMasqBit 5 and conditions per family',
    config: {
      ...rc(tcp(8080)),
      markMasqBit: 5,
      conditionsV4: ['!', '-s', '192.0.2.0/24'],
      conditionsV6: ['-d', 'fd00:77::1'],
    },
  },
  {
    title: '20 TCP ports, an SCTP and an upper-case UDP one (multiport groups of 15)',
    config: rc([
      ...tcp(...Array.from({ length: 20 }, (_, i) => 9000 + i)),
      { hostPort: 7000, containerPort: 7, protocol: 'sctp' },
      { hostPort: 53, containerPort: 53, protocol: 'udp' },
    ]),
  },
  { title: 'an IPv6-only pod', config: rc(tcp(8080)), prevResult: prev('fd00:22::5/64') },
  {
    title: 'hostIP 0.0.0.0 and ::',
    config: rc([
      { hostPort: 1, containerPort: 1, protocol: 'tcp', hostIP: '0.0.0.0' },
      { hostPort: 2, containerPort: 2, protocol: 'tcp', hostIP: '::' },
    ]),
  },
];

// `nft list table <family> nat`, '' while iptables has not created it
async function nftTable(ns: TestNode['node'], family: string): Promise<string> {
  return ns.exec('nft', ['list', 'table', family, 'nat']).catch(() => '');
}

async function tables(w: { node: TestNode }) {
  const ns = w.node.node;
  return {
    nat4: await saved(ns, 4),
    nat6: await saved(ns, 6),
    filter4: await saved(ns, 4, 'filter'),
    nft: [await nftTable(ns, 'ip'), await nftTable(ns, 'ip6')],
  };
}

for (const c of CASES) {
  test(`same ADD, same nat tables; cross DEL ends clean; cross CHECK passes: ${c.title}`, async (t) => {
    const go = await fresh(t, 'pdg');
    const ours = await fresh(t, 'pdo');
    if (c.kubeProxy) for (const w of [go, ours]) await kubeProxyChains(w.node.node);
    const config = { ...c.config, prevResult: c.prevResult ?? DUAL };
    const start = await tables(ours);
    const g = await portmap(go, 'ADD', config, { plugin: GO });
    const o = await portmap(ours, 'ADD', config);
    t.is(g.exitCode, 0, g.stdout);
    t.is(o.exitCode, 0, o.stdout);
    t.deepEqual(o.json, g.json, 'the same result (prevResult passed through)');
    const [tg, to] = [await tables(go), await tables(ours)];
    t.deepEqual(to.nat4, tg.nat4, 'iptables-save -t nat');
    t.deepEqual(to.nat6, tg.nat6, 'ip6tables-save -t nat');
    t.deepEqual(to.nft, tg.nft, 'nft list table ip/ip6 nat');
    const guard = c.config.snat !== false && !c.prevResult ? LOCALNET : [];
    t.deepEqual(
      to.filter4.filter((l) => !tg.filter4.includes(l) && !/^(\*filter|COMMIT|:(INPUT|FORWARD|OUTPUT) )/.test(l)),
      guard,
      'filter: Go’s plus our 127/8 guard',
    );
    t.is((await portmap(go, 'CHECK', config)).exitCode, 0, 'our CHECK accepts Go’s rules');
    // Go v1.1.1's CHECK looks for each family's rules in both iptables and ip6tables (#819), so it
    // fails on every node with ip6tables; it must fail the same way on our rules as on its own
    const goOnGo = await portmap(go, 'CHECK', config, { plugin: GO });
    const goOnOurs = await portmap(ours, 'CHECK', config, { plugin: GO });
    t.deepEqual([goOnOurs.exitCode, goOnOurs.json], [goOnGo.exitCode, goOnGo.json], 'Go’s CHECK: same verdict on ours');
    // cross DEL: ours without mappings or prevResult on Go's node; Go's (which needs the mappings) on ours
    t.is((await portmap(go, 'DEL', {})).exitCode, 0);
    const gd = await portmap(ours, 'DEL', config, { plugin: GO });
    t.is(gd.exitCode, 0, gd.stdout);
    const [eg, eo] = [await tables(go), await tables(ours)];
    t.deepEqual(eo.nat4, eg.nat4, 'both nodes end with the same IPv4 nat table');
    t.deepEqual(eo.nat6, eg.nat6, 'both nodes end with the same IPv6 nat table');
    for (const e of [eg, eo])
      t.false(
        [...e.nat4, ...e.nat6].some((l) => l.includes('CNI-DN-')),
        'no per-pod rule left',
      );
    t.notDeepEqual([...eo.nat4, ...eo.nat6], [...start.nat4, ...start.nat6], 'the shared chains stay, as upstream');
  });
}

test('Go and ours side by side on one node: shared rules once, each DELs the other’s pod', async (t) => {
  const w = await fresh(t, 'pdm');
  const config = { ...rc(tcp(8080)), prevResult: DUAL };
  t.is((await portmap(w, 'ADD', config, { plugin: GO, containerId: 'go1' })).exitCode, 0);
  t.is(
    (await portmap(w, 'ADD', { ...config, prevResult: prev('10.22.0.6/24', 'fd00:22::6/64') }, { containerId: 'ts1' }))
      .exitCode,
    0,
  );
  for (const f of [4, 6] as const) {
    const rules = (await saved(w.node.node, f)).filter((l) => l.startsWith('-A '));
    t.is(rules.filter((l) => l.startsWith('-A PREROUTING')).length, 1);
    t.is(rules.filter((l) => l.startsWith('-A POSTROUTING')).length, 1);
    t.is(rules.filter((l) => l.startsWith('-A CNI-HOSTPORT-SETMARK')).length, 1);
    t.is(rules.filter((l) => l.startsWith('-A CNI-HOSTPORT-DNAT')).length, 2);
  }
  t.is((await portmap(w, 'DEL', {}, { containerId: 'go1' })).exitCode, 0);
  t.is((await portmap(w, 'DEL', config, { plugin: GO, containerId: 'ts1' })).exitCode, 0);
  for (const f of [4, 6] as const) t.false((await saved(w.node.node, f)).some((l) => l.includes('CNI-DN-')));
});
