// The sandbox cluster's machines, all network namespaces (nothing touches the root namespace):
// two nodes on one L2 underlay, each routing the other's pod CIDRs to it (host-gw / kindnet
// style), and a host outside the cluster behind node1. Each node gets what the rest of a
// Kubernetes node would put there: a masquerade agent that exempts the cluster CIDR (kindnet's
// rule, ip-masq-agent's chain) and kube-proxy's KUBE-MARK-MASQ / KUBE-POSTROUTING chains, which
// portmap's `externalSetMarkChain` hands hairpin traffic to.
import { execa } from 'execa';
import { Netns, sh } from '@cni-ts/testutils';

/** The cluster's pod network (every node's pod CIDR is inside it). */
export const CLUSTER_CIDR = { v4: '10.244.0.0/16', v6: 'fd00:10:244::/56' };
/** The underlay the nodes share. */
export const NODE_NET = { v4: '192.168.77.0/24', v6: 'fd00:77::/64' };
/** A host outside the cluster, reachable through node1 only; it has no route to pod addresses. */
export const OUTSIDE = { node: '10.99.0.1', host: '10.99.0.2' };

export const NODES = [
  { name: 'node1', ip4: '192.168.77.1', ip6: 'fd00:77::1', podV4: '10.244.1.0/24', podV6: 'fd00:10:244:1::/64' },
  { name: 'node2', ip4: '192.168.77.2', ip6: 'fd00:77::2', podV4: '10.244.2.0/24', podV6: 'fd00:10:244:2::/64' },
];

/** kube-proxy's masquerade mark (iptables mode): KUBE-MARK-MASQ sets it, KUBE-POSTROUTING masquerades what carries it. */
export const KUBE_MARK = '0x4000/0x4000';

/** Creates the nodes and the outside host, wired and configured; returns them and a teardown. */
export async function buildSandbox(prefix) {
  const created = [];
  const make = async (name, opts) => {
    const ns = await Netns.create(`${prefix}-${name}`, opts);
    created.push(ns);
    return ns;
  };
  try {
    const nodes = [];
    for (const n of NODES) nodes.push({ ...n, ns: await make(n.name) });
    const outside = await make('outside');
    await wireNodes(nodes, prefix);
    await wireOutside(nodes, outside, prefix);
    for (const n of nodes) {
      await n.ns.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
      await installKubeProxyChains(n.ns);
      await installMasqAgent(n.ns);
    }
    return { nodes, outside, make, destroy: () => destroyAll(created) };
  } catch (e) {
    await destroyAll(created);
    throw e;
  }
}

async function destroyAll(list) {
  for (const ns of [...list].reverse()) await ns.destroy();
}

// Two nodes on one segment, each routing the other's pod CIDRs to it.
async function wireNodes([a, b], prefix) {
  const ifa = `${prefix.slice(0, 9)}a`;
  const ifb = `${prefix.slice(0, 9)}b`;
  await sh('ip', ['link', 'add', ifa, 'netns', a.ns.name, 'type', 'veth', 'peer', 'name', ifb, 'netns', b.ns.name]);
  for (const [n, ifn, peer] of [
    [a, ifa, b],
    [b, ifb, a],
  ]) {
    n.underlay = ifn;
    await n.ns.exec('ip', ['addr', 'add', `${n.ip4}/24`, 'dev', ifn]);
    await n.ns.exec('ip', ['-6', 'addr', 'add', `${n.ip6}/64`, 'dev', ifn, 'nodad']);
    await n.ns.exec('ip', ['link', 'set', ifn, 'up']);
    await n.ns.exec('ip', ['route', 'add', peer.podV4, 'via', peer.ip4]);
    await n.ns.exec('ip', ['-6', 'route', 'add', peer.podV6, 'via', peer.ip6]);
  }
}

// node1 has a second uplink to the outside host; node2 reaches the outside through node1.
async function wireOutside([node1, node2], outside, prefix) {
  const inNode = `${prefix.slice(0, 9)}o`;
  const inOut = `${prefix.slice(0, 9)}p`;
  await sh('ip', [
    'link',
    'add',
    inNode,
    'netns',
    node1.ns.name,
    'type',
    'veth',
    'peer',
    'name',
    inOut,
    'netns',
    outside.name,
  ]);
  await node1.ns.exec('ip', ['addr', 'add', `${OUTSIDE.node}/24`, 'dev', inNode]);
  await node1.ns.exec('ip', ['link', 'set', inNode, 'up']);
  await outside.exec('ip', ['addr', 'add', `${OUTSIDE.host}/24`, 'dev', inOut]);
  await outside.exec('ip', ['link', 'set', inOut, 'up']);
  await outside.exec('ip', ['route', 'add', NODE_NET.v4, 'via', OUTSIDE.node]);
  await node2.ns.exec('ip', ['route', 'add', `${OUTSIDE.host}/32`, 'via', node1.ip4]);
}

// kube-proxy (iptables mode) creates these in every node's nat table
async function installKubeProxyChains(ns) {
  const rules = [
    '*nat',
    ':KUBE-MARK-MASQ - [0:0]',
    ':KUBE-POSTROUTING - [0:0]',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    `-A KUBE-MARK-MASQ -j MARK --set-xmark ${KUBE_MARK}`,
    `-A KUBE-POSTROUTING -m mark ! --mark ${KUBE_MARK} -j RETURN`,
    '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE',
    'COMMIT',
    '',
  ].join('\n');
  for (const tool of ['iptables-restore', 'ip6tables-restore']) await ns.exec(tool, ['--noflush', '-w'], rules);
}

// kindnet's / ip-masq-agent's rule: pod traffic to the cluster and the nodes keeps its source,
// anything else leaving the node is masqueraded (the conflist's ipMasq stays false)
async function installMasqAgent(ns) {
  for (const [tool, cluster, nodes] of [
    ['iptables-restore', CLUSTER_CIDR.v4, NODE_NET.v4],
    ['ip6tables-restore', CLUSTER_CIDR.v6, NODE_NET.v6],
  ]) {
    const rules = [
      '*nat',
      ':IP-MASQ-AGENT - [0:0]',
      '-A POSTROUTING -m comment --comment "ip-masq-agent: cluster-bound traffic keeps its source" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT',
      `-A IP-MASQ-AGENT -d ${cluster} -j RETURN`,
      `-A IP-MASQ-AGENT -d ${nodes} -j RETURN`,
      `-A IP-MASQ-AGENT -s ${cluster} -j MASQUERADE`,
      'COMMIT',
      '',
    ].join('\n');
    await ns.exec(tool, ['--noflush', '-w'], rules);
  }
}

/**
 * What the root namespace looks like — its firewall (counters removed), links, addresses, routes
 * and rules — to show the demo never changed it. The ifb devices the kernel creates when the ifb
 * module is first loaded (ifb0, ifb1, by bandwidth's first ADD on a fresh machine) are left out.
 */
export async function rootState() {
  const out = [];
  for (const [file, args] of [
    ['iptables-save', []],
    ['ip6tables-save', []],
    ['nft', ['list', 'ruleset']],
    ['ip', ['-o', 'link', 'show']],
    ['ip', ['-o', 'address', 'show']],
    ['ip', ['route', 'show']],
    ['ip', ['-6', 'route', 'show']],
    ['ip', ['rule', 'show']],
    ['ip', ['-6', 'rule', 'show']],
  ]) {
    const r = await execa(file, args, { reject: false });
    const lines = String(r.stdout)
      .split('\n')
      .filter((l) => !l.startsWith('#') && !/^\d+: ifb\d+[:@\s]/.test(l))
      .map((l) =>
        file === 'ip'
          ? l
              .replace(/^\d+: /, '')
              .replace(/ expires \d+sec/, '')
              .replace(/valid_lft \S+ preferred_lft \S+/, '')
          : l.replace(/\[\d+:\d+\]/g, ''),
      );
    out.push(`== ${[file, ...args].join(' ')}`, ...lines);
  }
  return out.join('\n');
}
