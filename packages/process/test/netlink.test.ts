// ipBatch through rtnetlink (Bun, bun:ffi) against ipBatch through `ip -batch` (CNI_TS_NETLINK=0),
// on the real kernel: each scenario runs twice, once per path, each time in a fresh user+network
// namespace (`unshare -rn`, no root) with the batch entering a second, nested network namespace
// as a plugin enters CNI_NETNS. The documents (the fields netlink/docs.ts carries), the errors
// (kind, missing object, failing command, message) and the namespace's whole state afterwards
// (links, addresses, routes of every table, the sysctls written) must be equal, and the netlink
// run must have started no process.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stepOf } from '../src/netlink/commands.js';

const bun = fileURLToPath(new URL('../../../../node_modules/.bin/bun', import.meta.url));
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const dir = mkdtempSync(join(tmpdir(), 'cts-netlink-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

interface Scenario {
  /** The batch (and the setup) runs in the driver's own namespace, as the node side does. */
  here?: boolean;
  /** ipBatch's global options (only ['-d'] goes through netlink). */
  options?: string[];
  /** MACs are random (veths created without one): compared as <mac>, with the link-local addresses made from them. */
  randomMacs?: boolean;
  /** The error's first line is the writer's own (node:fs or sh): compare the rest. */
  reasonDiffers?: boolean;
  /** `ip` commands that make the starting state inside the nested namespace. */
  setup?: string[][];
  batch: string[][];
  sysctls?: Array<[string, string]>;
  /** Run against a namespace path that does not exist. */
  missingNetns?: boolean;
}

// Runs inside `unshare -rn`: makes the nested namespace (held by a sleeping `unshare -n`), sets it
// up, runs the batch through ipBatch and prints the outcome and the namespace's state.
const driver = join(dir, 'driver.mjs');
writeFileSync(
  driver,
  `import { spawn, spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { ipBatch, systemExecutor, sysctlPath } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
const sc = JSON.parse(process.argv[2]);
const holder = spawn('unshare', ['-n', '--', 'sleep', '60'], { stdio: 'ignore' });
const ns = '/proc/' + holder.pid + '/ns/net';
const own = readlinkSync('/proc/self/ns/net');
const entered = () => { try { return readlinkSync(ns) !== own; } catch { return false; } };
for (let i = 0; !entered(); i++) { if (i > 5000) throw new Error('no nested netns'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); }
const inNs = (args) => spawnSync('nsenter', ['--net=' + ns, '--', ...args], { encoding: 'utf8' });
try {
  // OUTER: the driver's namespace (a pid for ip's netns argument), PODNS: the nested one's path
  const fill = (c) => c.map((a) => a === 'OUTER' ? String(process.pid) : a === 'PODNS' ? ns : a);
  const here = (args) => spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  for (const c0 of sc.setup ?? []) { const c = fill(c0); const r = sc.here ? here(['ip', ...c]) : inNs(['ip', ...c]); if (r.status !== 0) throw new Error('setup ' + c.join(' ') + ': ' + r.stderr); }
  let spawned = 0;
  const exec = { ...systemExecutor, run(f, a, o) { spawned++; return systemExecutor.run(f, a, o); } };
  let outcome;
  try {
    const batch = sc.batch.map(fill);
    outcome = { docs: ipBatch(exec, batch, { netns: sc.missingNetns ? '/run/netns/cts-no-such-netns' : sc.here ? undefined : ns, sysctls: sc.sysctls ?? [], options: sc.options }) };
  } catch (e) {
    outcome = { error: { name: e.name, kind: e.kind, object: e.object, failed: e.failed, command: e.command, message: e.message } };
  }
  const json = (args) => JSON.parse(inNs(['ip', '-j', ...args]).stdout || '[]');
  const state = {
    links: json(['-d', 'addr', 'show']),
    outer: JSON.parse(here(['ip', '-j', '-d', 'addr', 'show']).stdout || '[]'),
    routes4: json(['-4', 'route', 'show', 'table', 'all']),
    routes6: json(['-6', 'route', 'show', 'table', 'all']),
    sysctls: (sc.sysctls ?? []).map(([k]) => inNs(['cat', sysctlPath(k)]).stdout.trim()),
  };
  process.stdout.write(JSON.stringify({ outcome, spawned, state }).replaceAll(ns, 'NETNS'));
} finally {
  holder.kill();
}
`,
);

interface Run {
  outcome: { docs?: unknown[]; error?: Record<string, unknown> };
  spawned: number;
  state: {
    links: Array<Record<string, unknown>>;
    outer: unknown[];
    routes4: unknown[];
    routes6: unknown[];
    sysctls: string[];
  };
}

function runPath(sc: Scenario, netlink: boolean): Run {
  const r = spawnSync('unshare', ['-rn', '--', bun, driver, JSON.stringify(sc)], {
    encoding: 'utf8',
    env: { PATH: SYSTEM_PATH, ...(netlink ? {} : { CNI_TS_NETLINK: '0' }) },
  });
  if (r.status !== 0) throw new Error(`driver failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Run;
}

// What netlink/docs.ts carries of an `ip -j addr show` document (the fields the plugins read).
const LINK_FIELDS = [
  ...['ifindex', 'ifname', 'flags', 'mtu', 'operstate', 'address'],
  ...['link', 'link_index', 'master', 'link_netnsid', 'ifalias'],
];
const ADDR_FIELDS = ['family', 'local', 'prefixlen', 'broadcast', 'scope', 'label', 'tentative', 'dadfailed'];
const pick = (o: Record<string, unknown>, keys: string[]) =>
  Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
// What netlink/route-docs.ts carries of an `ip -j route show` document
const ROUTE_FIELDS = ['type', 'dst', 'gateway', 'dev', 'table'];
function carried(docs: unknown[] | undefined): unknown {
  return docs?.map((d) =>
    (d as Array<Record<string, unknown>>).map((l) =>
      'dst' in l
        ? carriedRoute(l)
        : {
            ...pick(l, LINK_FIELDS),
            ...(l.linkinfo ? { linkinfo: linkinfo(l.linkinfo as Record<string, unknown>) } : {}),
            ...(l.addr_info
              ? { addr_info: (l.addr_info as Array<Record<string, unknown>>).map((a) => pick(a, ADDR_FIELDS)) }
              : {}),
          },
    ),
  );
}
function carriedRoute(r: Record<string, unknown>): unknown {
  const hops = r.nexthops as Array<Record<string, unknown>> | undefined;
  return { ...pick(r, ROUTE_FIELDS), ...(hops ? { nexthops: hops.map((h) => pick(h, ['gateway', 'dev'])) } : {}) };
}

// ip -d's linkinfo, as far as netlink/docs.ts carries it
// biome-ignore lint/suspicious/noExplicitAny: ip's JSON
function linkinfo(li: Record<string, any>): unknown {
  return {
    ...pick(li, ['info_kind', 'info_slave_kind']),
    ...(li.info_kind === 'bridge' && li.info_data
      ? { info_data: pick(li.info_data, ['vlan_filtering', 'vlan_default_pvid']) }
      : {}),
    ...(li.info_slave_kind === 'bridge' && li.info_slave_data
      ? { info_slave_data: pick(li.info_slave_data, ['hairpin', 'isolated']) }
      : {}),
  };
}

// What the two runs may differ in; everything else must be equal.
function stable(state: unknown, randomMacs = false): unknown {
  if (state === undefined) return undefined;
  let text = JSON.stringify(state);
  // (ip prints bridge ids' MACs without leading zeros)
  if (randomMacs)
    text = text.replace(/([0-9a-f]{1,2}:){5}[0-9a-f]{1,2}/g, '<mac>').replace(/fe80::[0-9a-f:]+/g, '<ll>');
  // lifetimes and a bridge's timers count down between the two runs
  return JSON.parse(text, (k, v) =>
    k === 'valid_life_time' || k === 'preferred_life_time' || k === 'expires' || k.endsWith('_timer') ? undefined : v,
  );
}

const bunTest = existsSync(bun) ? test : test.skip;
// As the bridge makes it: the peer in the other namespace (OUTER: the driver's). Fixed MACs, so
// MACs and link-local addresses agree between runs; the peer stays down, so eth0 has no carrier
// and its state does not depend on how fast the batch ran (no DAD, no fe80::).
const veth = (name: string, mac: string) => [
  ...['link', 'add', name, 'address', mac, 'type', 'veth'],
  ...['peer', 'name', 'peer0', 'address', '02:00:00:00:00:11', 'netns', 'OUTER'],
];
const V1 = veth('eth0', '02:00:00:00:00:01');

function same(name: string, sc: Scenario, check?: (t: ExecutionContext, nl: Run) => void): void {
  bunTest(name, (t) => {
    const nl = runPath(sc, true);
    const ip = runPath(sc, false);
    t.is(nl.spawned, 0, 'the netlink path started no process');
    t.true(ip.spawned > 0, 'the fallback spawned ip');
    if (sc.reasonDiffers) {
      const { message: a, ...nlRest } = nl.outcome.error ?? {};
      const { message: b, ...ipRest } = ip.outcome.error ?? {};
      t.deepEqual(nlRest, ipRest);
      t.is(String(a).split('; ').at(-1), String(b).split('; ').at(-1));
    } else t.deepEqual(nl.outcome.error, ip.outcome.error);
    t.deepEqual(stable(nl.outcome.docs, sc.randomMacs), stable(carried(ip.outcome.docs), sc.randomMacs));
    t.deepEqual(stable(nl.state, sc.randomMacs), stable(ip.state, sc.randomMacs));
    check?.(t, nl);
  });
}

same('loopback ADD: lo shown, set up, shown again', {
  batch: [
    ['addr', 'show', 'dev', 'lo'],
    ['link', 'set', 'lo', 'up'],
    ['addr', 'show', 'dev', 'lo'],
  ],
});

same(
  'loopback DEL: lo set down',
  { setup: [['link', 'set', 'lo', 'up']], batch: [['link', 'set', 'lo', 'down']] },
  (t, nl) => {
    const lo = nl.state.links.find((l) => l.ifname === 'lo');
    t.deepEqual(lo?.flags, ['LOOPBACK']);
  },
);

same('bridge ADD, IPv4: sysctls, address with broadcast, link up, routes with gateway, metric, table, mtu', {
  setup: [V1],
  sysctls: [
    ['net/ipv4/conf/eth0/arp_notify', '1'],
    ['net.ipv6.conf.eth0.accept_dad', '0'],
  ],
  batch: [
    ['addr', 'add', '10.1.2.3/24', 'broadcast', '+', 'dev', 'eth0'],
    ['addr', 'add', '10.7.0.9/31', 'broadcast', '+', 'dev', 'eth0'],
    ['link', 'set', 'dev', 'eth0', 'up'],
    ['route', 'add', '0.0.0.0/0', 'via', '10.1.2.1', 'dev', 'eth0'],
    ['route', 'add', '10.9.0.0/16', 'via', '10.1.2.1', 'dev', 'eth0', 'metric', '100', 'mtu', '1400', 'advmss', '1360'],
    ['route', 'add', '10.10.0.0/16', 'dev', 'eth0', 'table', '100'],
    ['route', 'add', '10.11.0.0/16', 'via', '10.1.2.1', 'dev', 'eth0', 'table', '1000', 'scope', '0'],
    ['route', 'add', '10.12.0.0/16', 'dev', 'eth0', 'scope', 'link'],
    ['addr', 'show', 'dev', 'eth0'],
  ],
});

same('bridge ADD, IPv6: sysctls, addresses, default and prefix routes (with scope, table, mtu)', {
  setup: [V1],
  // DAD on (enabledad), so the addresses stay tentative (no carrier) whichever path ran faster
  sysctls: [
    ['net/ipv6/conf/eth0/enhanced_dad', '1'],
    ['net/ipv6/conf/eth0/accept_dad', '1'],
    ['net/ipv6/conf/lo/disable_ipv6', '0'],
    ['net/ipv6/conf/eth0/disable_ipv6', '0'],
    ['net/ipv6/conf/eth0/keep_addr_on_down', '1'],
  ],
  batch: [
    ['addr', 'add', 'fd00:10:244::5/64', 'dev', 'eth0'],
    ['addr', 'add', '2001:db8:0:1:0:0:0:1/64', 'dev', 'eth0'],
    ['addr', 'add', '2001:db8:0:0:1::1/80', 'dev', 'eth0'],
    ['link', 'set', 'dev', 'eth0', 'up'],
    ['route', 'add', '::/0', 'via', 'fd00:10:244::1', 'dev', 'eth0'],
    ['route', 'add', '2001:db8:ff::/48', 'via', 'fd00:10:244::1', 'dev', 'eth0', 'metric', '7', 'mtu', '1300'],
    ['route', 'add', 'fd00:99::/64', 'dev', 'eth0', 'table', '300', 'scope', 'link'],
    ['addr', 'show', 'dev', 'eth0'],
  ],
});

same('bridge DEL: the interface shown, then deleted', {
  setup: [V1, ['addr', 'add', '10.1.2.3/24', 'dev', 'eth0'], ['link', 'set', 'eth0', 'up']],
  batch: [
    ['addr', 'show', 'dev', 'eth0'],
    ['link', 'del', 'dev', 'eth0'],
  ],
});

same('a link name outside ASCII is found, set up and shown', {
  setup: [veth('pö0', '02:00:00:00:00:02')],
  batch: [
    ['link', 'set', 'dev', 'pö0', 'up'],
    ['addr', 'show', 'dev', 'pö0'],
  ],
});

same('a missing link stops the batch at that command, as ip words it (link set, addr show)', {
  batch: [
    ['link', 'set', 'lo', 'up'],
    ['link', 'set', 'dev', 'nosuch0', 'up'],
    ['link', 'set', 'lo', 'down'],
  ],
});

same('addr show of a missing link is "missing" naming it', { batch: [['addr', 'show', 'dev', 'nosuch0']] });

same('an address already there is "exists" at its command; what ran before it stays', {
  setup: [V1, ['addr', 'add', '10.1.2.3/24', 'dev', 'eth0']],
  batch: [
    ['link', 'set', 'dev', 'eth0', 'up'],
    ['addr', 'add', '10.1.2.3/24', 'broadcast', '+', 'dev', 'eth0'],
    ['route', 'add', '10.9.0.0/16', 'dev', 'eth0'],
  ],
});

same('a route already there is "exists"', {
  setup: [V1, ['link', 'set', 'eth0', 'up'], ['route', 'add', '10.9.0.0/16', 'dev', 'eth0']],
  batch: [['route', 'add', '10.9.0.0/16', 'dev', 'eth0']],
});

same('a gateway the kernel cannot reach fails with the kernel message', {
  setup: [V1, ['link', 'set', 'eth0', 'up']],
  batch: [['route', 'add', '10.9.0.0/16', 'via', '192.0.2.1', 'dev', 'eth0']],
});

same('a sysctl that cannot be written fails naming it, before any command runs', {
  setup: [V1],
  reasonDiffers: true,
  sysctls: [['net/ipv4/conf/nosuch0/arp_notify', '1']],
  batch: [['link', 'set', 'dev', 'eth0', 'up']],
});

same('a namespace that does not exist is "missing" naming its path', {
  missingNetns: true,
  batch: [['link', 'set', 'lo', 'up']],
});

// The node side: the batch runs in the driver's namespace (the node), the veth's peer goes into
// the nested one (the pod).
const BRIDGE = ['link', 'add', 'name', 'cni0', 'type', 'bridge'];

same('bridge ADD, node: bridge, veth into the pod, master, hairpin, up', {
  here: true,
  randomMacs: true,
  batch: [
    ['link', 'add', 'name', 'cni0', 'mtu', '1400', 'address', '02:00:00:00:00:20', 'type', 'bridge'],
    ['link', 'set', 'dev', 'cni0', 'up'],
    [
      ...['link', 'add', 'name', 'veth1', 'mtu', '1400', 'type', 'veth'],
      ...['peer', 'name', 'eth0', 'mtu', '1400', 'netns', 'PODNS'],
    ],
    ['link', 'set', 'dev', 'veth1', 'master', 'cni0'],
    ['link', 'set', 'dev', 'veth1', 'type', 'bridge_slave', 'hairpin', 'on', 'isolated', 'on'],
    ['link', 'set', 'dev', 'veth1', 'up'],
  ],
});

same('bridge ADD, node: the host end created up and a port of the bridge in one request, then hairpin', {
  here: true,
  randomMacs: true,
  options: ['-d'],
  setup: [BRIDGE, ['link', 'set', 'dev', 'cni0', 'up']],
  batch: [
    [
      ...['link', 'add', 'name', 'veth1', 'mtu', '1400', 'up', 'master', 'cni0', 'type', 'veth'],
      ...['peer', 'name', 'eth0', 'mtu', '1400', 'netns', 'PODNS'],
    ],
    ['link', 'set', 'dev', 'veth1', 'type', 'bridge_slave', 'hairpin', 'on'],
    ['addr', 'show', 'dev', 'veth1'],
    ['addr', 'show', 'dev', 'cni0'],
  ],
});

same('a name looked up earlier in the batch is looked up again after a link is deleted and made again', {
  here: true,
  randomMacs: true,
  setup: [BRIDGE],
  batch: [
    ['link', 'add', 'name', 'veth7', 'type', 'veth', 'peer', 'name', 'p7'],
    ['link', 'set', 'dev', 'veth7', 'master', 'cni0'],
    ['link', 'del', 'dev', 'veth7'],
    ['link', 'add', 'name', 'veth7', 'up', 'master', 'cni0', 'type', 'veth', 'peer', 'name', 'p7'],
    ['link', 'set', 'dev', 'veth7', 'type', 'bridge_slave', 'isolated', 'on'],
    ['link', 'set', 'dev', 'p7', 'up'],
    ['addr', 'show', 'dev', 'veth7'],
    ['link', 'del', 'dev', 'p7'],
    ['link', 'set', 'dev', 'veth7', 'up'],
  ],
});

same('a master that does not exist in link add ends the whole batch as ip does', {
  here: true,
  batch: [['link', 'add', 'name', 'veth8', 'up', 'master', 'nosuchbr', 'type', 'veth', 'peer', 'name', 'p8']],
});

same('bridge ADD, node: the peer with a MAC, promisc, the bridge MAC pinned, gateway addresses replaced', {
  here: true,
  setup: [BRIDGE, ['addr', 'add', '10.1.0.1/24', 'dev', 'cni0']],
  batch: [
    ['link', 'set', 'dev', 'cni0', 'promisc', 'on'],
    ['link', 'set', 'dev', 'cni0', 'address', '02:00:00:00:00:21'],
    [
      ...['link', 'add', 'name', 'veth2', 'address', '02:00:00:00:00:22', 'type', 'veth'],
      ...['peer', 'name', 'eth0', 'address', '02:00:00:00:00:23', 'netns', 'PODNS'],
    ],
    ['addr', 'del', '10.1.0.1/24', 'dev', 'cni0'],
    ['addr', 'add', '10.2.0.1/24', 'broadcast', '+', 'dev', 'cni0'],
    ['addr', 'add', 'fd00:2::1/64', 'dev', 'cni0'],
  ],
});

same('bridge ADD, node: the bridge and its port read with -d (kinds, VLAN settings, port flags, master)', {
  here: true,
  randomMacs: true,
  options: ['-d'],
  setup: [
    BRIDGE,
    [...['link', 'add', 'name', 'veth3', 'type', 'veth'], ...['peer', 'name', 'eth0', 'netns', 'PODNS']],
    ['link', 'set', 'dev', 'veth3', 'master', 'cni0'],
    ['link', 'set', 'dev', 'veth3', 'type', 'bridge_slave', 'hairpin', 'on'],
    ['addr', 'add', '10.1.0.1/24', 'dev', 'cni0'],
  ],
  batch: [
    ['addr', 'show', 'dev', 'cni0'],
    ['addr', 'show', 'dev', 'veth3'],
  ],
});

same('a veth pair within the node (the VLAN gateway): the peer is named and M-DOWN while down', {
  here: true,
  randomMacs: true,
  setup: [BRIDGE],
  batch: [
    ['link', 'add', 'name', 'cni0.5', 'mtu', '1500', 'type', 'veth', 'peer', 'name', 'vethgw5'],
    ['link', 'set', 'dev', 'vethgw5', 'master', 'cni0'],
    ['addr', 'show', 'dev', 'cni0.5'],
    ['link', 'set', 'dev', 'vethgw5', 'up'],
    ['link', 'set', 'dev', 'cni0.5', 'up'],
    ['addr', 'show', 'dev', 'cni0.5'],
  ],
});

same('a link that exists already is "exists" at its command', {
  here: true,
  randomMacs: true,
  setup: [BRIDGE],
  batch: [['link', 'set', 'dev', 'cni0', 'up'], BRIDGE],
});

same('a master that does not exist ends the whole batch as ip does (no line number)', {
  here: true,
  randomMacs: true,
  batch: [
    ['link', 'add', 'name', 'veth4', 'type', 'veth', 'peer', 'name', 'p4'],
    ['link', 'set', 'dev', 'veth4', 'master', 'nosuchbr'],
    ['link', 'set', 'dev', 'veth4', 'up'],
  ],
});

same('a peer namespace that does not exist ends the batch as ip does', {
  here: true,
  batch: [
    [
      ...['link', 'add', 'name', 'veth5', 'type', 'veth'],
      ...['peer', 'name', 'eth0', 'netns', '/run/netns/cts-no-such-netns'],
    ],
  ],
});

// bandwidth's commands: the pod's interface read with -d, the ifb made, named and read.
same('bandwidth ADD, pod: the interface read with link show -d', {
  setup: [V1],
  options: ['-d'],
  batch: [['link', 'show', 'dev', 'eth0']],
});

same('bandwidth ADD, node: an ifb with MTU, no queue, an alias, up, and shown', {
  here: true,
  randomMacs: true,
  batch: [
    ['link', 'add', 'name', 'bwp0', 'mtu', '1400', 'txqueuelen', '0', 'type', 'ifb'],
    ['link', 'set', 'dev', 'bwp0', 'alias', 'cni-ts bandwidth: ctr1/eth0', 'up'],
    ['link', 'show', 'dev', 'bwp0'],
    ['link', 'set', 'dev', 'bwp0', 'mtu', '1300', 'promisc', 'on', 'down'],
    ['link', 'show', 'dev', 'bwp0'],
  ],
});

// bridge CHECK's pod read: the routes of every table (the bridge's ports, `link show master`,
// stay with ip: decoding 250 ports' dumps in bun cost more than the process, docs/performance.md)
same('bridge CHECK, pod: routes of both families in every table (gateways, tables, multipath, blackhole, local)', {
  setup: [
    V1,
    ['link', 'set', 'dev', 'eth0', 'up'],
    ['addr', 'add', '10.22.0.5/24', 'dev', 'eth0'],
    ['addr', 'add', 'fd00:22::5/64', 'dev', 'eth0', 'nodad'],
    ['route', 'add', 'default', 'via', '10.22.0.1', 'dev', 'eth0'],
    ['route', 'add', '10.99.0.0/16', 'via', '10.22.0.1', 'dev', 'eth0', 'table', '100'],
    ['route', 'add', '10.98.0.0/16', 'dev', 'eth0', 'table', '1000'],
    ['route', 'add', '10.97.0.7', 'via', '10.22.0.1', 'dev', 'eth0'],
    [
      'route',
      'add',
      '10.50.0.0/16',
      'nexthop',
      'via',
      '10.22.0.1',
      'dev',
      'eth0',
      'nexthop',
      'via',
      '10.22.0.2',
      'dev',
      'eth0',
    ],
    ['route', 'add', 'blackhole', '10.60.0.0/16'],
    ['route', 'add', 'default', 'via', 'fd00:22::1', 'dev', 'eth0'],
    ['route', 'add', 'fd00:99::/48', 'via', 'fd00:22::1', 'dev', 'eth0', 'table', '200'],
    ['route', 'add', 'fd00:98::1', 'dev', 'eth0'],
    ['route', 'add', 'unreachable', 'fd00:60::/32'],
  ],
  randomMacs: true,
  options: ['-d'],
  batch: [
    ['route', 'show', 'table', 'all', 'root', '0.0.0.0/0'],
    ['route', 'show', 'table', 'all', 'root', '::/0'],
    ['addr', 'show', 'dev', 'eth0'],
  ],
});

same('link show of a missing link is "missing" naming it', { batch: [['link', 'show', 'dev', 'nosuch0']] });

bunTest('a batch with a command outside the subset runs through ip, all of it', (t) => {
  const run = runPath(
    {
      setup: [V1],
      batch: [
        ['link', 'set', 'dev', 'eth0', 'up'],
        ['link', 'show', 'type', 'veth'],
      ],
    },
    true,
  );
  t.is(run.spawned, 1);
  t.truthy(run.outcome.docs?.[0]);
});

test('addr show asks the kernel for that link’s addresses only (ifa_index), not every address of the node', (t) => {
  const [getLink, dump] = stepOf(['addr', 'show', 'dev', 'cni0'])!.requests({ index: 7 }, 1);
  const view = (m: Uint8Array) => new DataView(m.buffer, m.byteOffset, m.byteLength);
  t.is(view(getLink!.msg).getUint16(4, true), 18, 'RTM_GETLINK');
  t.is(view(dump!.msg).getUint16(4, true), 22, 'RTM_GETADDR');
  t.is(view(dump!.msg).getUint16(6, true) & 0x300, 0x300, 'a dump');
  t.is(view(dump!.msg).getUint32(16 + 4, true), 7, 'filtered by the link (honoured with NETLINK_GET_STRICT_CHK)');
});
