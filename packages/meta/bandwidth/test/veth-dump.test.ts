// DEL without prevResult looks for the pod's host veth among every veth of the node: through one
// rtnetlink dump the kernel filters by kind (Bun, bun:ffi) instead of `ip -d link show type veth`.
// On the real kernel, in a fresh `unshare -rn` namespace playing the node (no root) with pods in
// nested namespaces, veths into them (one bridged, one with an alias and its own MTU, two into the
// same pod), a veth pair with both ends on the node, and links of other kinds (bridges, an ifb, lo):
// each kind's links through the dump must be what the `ip` process reports, in the same order,
// with no process started; the host veth found for each pod interface (by ifindex and peer index,
// as DEL finds it) must be its own on both paths; and the plugin's DEL without prevResult, after its
// ADD, must take the pod's shaping off on both paths, without a process on the rtnetlink one.
import anyTest from 'ava';
import { runInUserNetns, userNetnsTest } from '@cni-ts/testutils';

const processLib = new URL('../../../../process/dist/src/index.js', import.meta.url).href;
const observe = new URL('../src/observe.js', import.meta.url).href;
const hostLib = new URL('../src/host.js', import.meta.url).href;
const pluginLib = new URL('../src/index.js', import.meta.url).href;
const helpersLib = new URL('./helpers.js', import.meta.url).href;
const test = userNetnsTest(anyTest, import.meta.url);

// kinds this kernel knows; it has no dummy links (KINDS' last), see below
const KINDS = ['veth', 'ifb', 'bridge', 'dummy'];
// pod interface → the host veth it must be found to belong to
const PODS: Record<string, string> = { 'A/eth0': 'vethA', 'B/eth0': 'vethB', 'B/eth1': 'vethB2' };

const DRIVER = `import { spawn, spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { systemExecutor } from ${JSON.stringify(processLib)};
import { findHostVeth, linksOfKind, podLink } from ${JSON.stringify(observe)};
import { systemHost } from ${JSON.stringify(hostLib)};
import { makeBandwidth } from ${JSON.stringify(pluginLib)};
import { context } from ${JSON.stringify(helpersLib)};
const own = readlinkSync('/proc/self/ns/net');
const holders = [];
const pod = (name) => {
  const h = spawn('unshare', ['-n', '--', 'sleep', '60'], { stdio: 'ignore' });
  holders.push(h);
  const ns = '/proc/' + h.pid + '/ns/net';
  const entered = () => { try { return readlinkSync(ns) !== own; } catch { return false; } };
  for (let i = 0; !entered(); i++) { if (i > 5000) throw new Error('no pod netns'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); }
  return ns;
};
const sh = (args) => { const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' }); if (r.status !== 0) throw new Error(args.join(' ') + ': ' + r.stderr); return r.stdout; };
try {
  const ns = { A: pod('A'), B: pod('B') };
  for (const c of [
    ['ip', 'link', 'add', 'br0', 'type', 'bridge'],
    ['ip', 'link', 'add', 'br1', 'type', 'bridge'],
    ['ip', 'link', 'add', 'bwp0123456789ab', 'txqueuelen', '0', 'type', 'ifb'],
    ['ip', 'link', 'add', 'vethX', 'type', 'veth', 'peer', 'name', 'vethY'],
    ['ip', 'link', 'add', 'vethA', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.A],
    ['ip', 'link', 'add', 'vethB', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', '1400', 'netns', ns.B],
    ['ip', 'link', 'add', 'vethB2', 'type', 'veth', 'peer', 'name', 'eth1', 'netns', ns.B],
    ['ip', 'link', 'set', 'vethA', 'master', 'br0', 'up'],
    ['ip', 'link', 'set', 'vethB', 'alias', 'pod B, first', 'up'],
  ]) sh(c);
  let spawned = 0;
  const counting = (e) => ({ ...e, run(f, a, o) { spawned++; return e.run(f, a, o); } });
  // the executor of Node and CNI_TS_NETLINK=0: every ip command spawned
  const { run } = systemExecutor;
  const paths = { netlink: counting(systemExecutor), ip: counting({ run }) };
  const out = {};
  for (const [path, exec] of Object.entries(paths)) {
    const before = spawned;
    const kinds = Object.fromEntries(${JSON.stringify(KINDS)}.map((k) => [k, linksOfKind(exec, k)]));
    const listSpawned = spawned - before;
    const found = {};
    for (const p of ${JSON.stringify(Object.keys(PODS))}) {
      const [n, ifname] = p.split('/');
      found[p] = findHostVeth(exec, systemHost, podLink(systemExecutor, ns[n], ifname), []).name;
    }
    // the plugin's own ADD (prevResult naming vethB), then its DEL without prevResult through this
    // path's executor (on the run's budget, as the plugin wraps it)
    const limits = { runtimeConfig: { bandwidth: { ingressRate: 1e6, ingressBurst: 1e5, egressRate: 1e6, egressBurst: 1e5 } } };
    const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'vethB' }, { name: 'eth0', sandbox: ns.B }] };
    const plugin = makeBandwidth(systemHost);
    plugin.add(context(systemExecutor, { ...limits, prevResult }, { netns: ns.B }));
    const shaped = sh(['tc', 'qdisc', 'show', 'dev', 'vethB']);
    const delBefore = spawned;
    plugin.del(context(exec, limits, { command: 'DEL', netns: ns.B }));
    const del = {
      spawned: spawned - delBefore,
      shaped: /tbf 1: root/.test(shaped) && /ingress ffff:/.test(shaped),
      left: sh(['tc', 'qdisc', 'show', 'dev', 'vethB']),
      ifbs: JSON.parse(sh(['ip', '-j', 'link', 'show', 'type', 'ifb'])).map((l) => l.ifname),
    };
    out[path] = { kinds, listSpawned, found, del };
  }
  process.stdout.write(JSON.stringify(out));
} finally {
  for (const h of holders) h.kill();
}
`;

interface Path {
  kinds: Record<string, Array<Record<string, unknown>>>;
  listSpawned: number;
  found: Record<string, string>;
  del: { spawned: number; shaped: boolean; left: string; ifbs: string[] };
}

test('every veth of the node through one kernel-filtered link dump: the links ip shows, no process; DEL finds each pod’s host veth as before', (t) => {
  const out = runInUserNetns<{ netlink: Path; ip: Path }>(t, DRIVER);
  t.is(out.netlink.listSpawned, 0, 'the dump starts no process');
  t.is(out.ip.listSpawned, KINDS.length, 'the fallback runs one ip per listing');
  const { dummy: ipDummy, ...ipKnown } = out.ip.kinds;
  const { dummy, ...known } = out.netlink.kinds;
  t.deepEqual(known, ipKnown);
  // a kind the kernel does not know is no filter to it: it dumps every link, and ip 6.1 prints an
  // empty object for each one its own kind check drops; no such entry has a name or an index, so
  // no peer check matches it (DEL asks for veths, which the kernel knows: the pod's link is one)
  t.deepEqual(dummy, []);
  t.true(ipDummy!.length > 0 && ipDummy!.every((l) => l.name === '' && l.ifindex === 0));
  // the state was what the test meant to make (so equal lists are not two empty ones)
  const names = (k: string) => out.ip.kinds[k]!.map((l) => l.name).sort();
  t.deepEqual(names('veth'), ['vethA', 'vethB', 'vethB2', 'vethX', 'vethY']);
  t.deepEqual(names('ifb'), ['bwp0123456789ab']);
  t.deepEqual(names('bridge'), ['br0', 'br1']);
  const vethB = out.netlink.kinds.veth!.find((l) => l.name === 'vethB')!;
  t.is(vethB.alias, 'pod B, first');
  t.is(vethB.mtu, 1400);
  t.is(vethB.kind, 'veth');
  t.is(typeof vethB.peerIndex, 'number', 'a peer in another namespace has its index (ip’s link_index)');
  const vethX = out.netlink.kinds.veth!.find((l) => l.name === 'vethX')!;
  t.false('peerIndex' in vethX, 'a peer on the node itself has none, as ip prints only its name');
  t.deepEqual(out.netlink.found, PODS);
  t.deepEqual(out.ip.found, PODS);
  for (const [path, p] of Object.entries(out)) {
    t.true(p.del.shaped, `${path}: ADD shaped vethB`);
    t.regex(p.del.left, /^qdisc noqueue 0: root/, `${path}: DEL without prevResult took the shaping off vethB`);
    t.deepEqual(p.del.ifbs, ['bwp0123456789ab'], `${path}: and deleted its ifb, and only that`);
  }
  t.is(out.netlink.del.spawned, 0, 'the plugin’s DEL without prevResult starts no process');
  t.true(out.ip.del.spawned >= 3, 'the fallback lists the veths, the qdiscs and takes them off through ip and tc');
});
