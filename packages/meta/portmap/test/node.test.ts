// The small readers: the route to the pod from /proc/net/route (for route_localnet), the
// container addresses taken from prevResult, and the conntrack arguments.
import test from 'ava';
import { conntrackArgs, containerNets, containerNetsLenient, routeDeviceFrom } from '../src/index.js';

// /proc/net/route as the kernel prints it: little-endian hex words.
const ROUTES = [
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
  'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0', // default via 192.0.2.1
  'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0', // 192.0.2.0/24
  'cni0\t0000160A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0', // 10.22.0.0/16
  'cni1\t0500160A\t00000000\t0001\t0\t0\t0\tFFFFFFFF\t0\t0\t0', // 10.22.0.5/32
  'down0\t0600160A\t00000000\t0000\t0\t0\t0\tFFFFFFFF\t0\t0\t0', // 10.22.0.6/32, not RTF_UP
  'hi\t0000170A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0', // 10.23.0.0/24 metric 100
  'lo2\t0000170A\t00000000\t0001\t0\t0\t5\t00FFFFFF\t0\t0\t0', // 10.23.0.0/24 metric 5
  '',
].join('\n');

test('the route to the pod is the longest prefix that is up, then the lowest metric', (t) => {
  t.is(routeDeviceFrom(ROUTES, '10.22.0.5'), 'cni1');
  t.is(routeDeviceFrom(ROUTES, '10.22.0.6'), 'cni0');
  t.is(routeDeviceFrom(ROUTES, '10.22.9.9'), 'cni0');
  t.is(routeDeviceFrom(ROUTES, '10.23.0.1'), 'lo2');
  t.is(routeDeviceFrom(ROUTES, '192.0.2.7'), 'eth0');
  t.is(routeDeviceFrom(ROUTES, '198.51.100.1'), 'eth0', 'the default route');
  t.is(routeDeviceFrom(ROUTES.split('\n').slice(0, 1).join('\n'), '10.22.0.5'), undefined);
  t.is(routeDeviceFrom(ROUTES, 'fd00::1'), undefined);
});

// addresses on the host side, on another pod interface, then on eth0 (two IPv4), and past the list
const PREV = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'cni0' }, { name: 'eth0', sandbox: '/run/netns/p' }, { name: 'eth1', sandbox: '/run/netns/p' }],
  ips: [
    { address: 'fd00::9/64', interface: 0 },
    { address: '10.1.0.2/24', interface: 2 },
    { address: 'fd00::5/64', interface: 1 },
    { address: '10.1.0.3/24', interface: 1 },
    { address: '10.1.0.4/24', interface: 1 },
    { address: '10.1.0.7/24', interface: 9 },
  ],
};

test('container addresses: the first IPv4 and first IPv6 on CNI_IFNAME in the sandbox, as upstream picks them', (t) => {
  const prev = PREV;
  t.deepEqual(
    containerNets(prev, 'eth0').map((n) => `${n.ip} ${n.family}`),
    ['10.1.0.3 4', 'fd00::5 6'],
  );
  t.deepEqual(
    containerNets({ cniVersion: '1.0.0', ips: [{ address: '10.1.0.8/24' }] }, 'eth0').map((n) => n.ip),
    ['10.1.0.8'],
    'an address without an interface index counts',
  );
  t.deepEqual(
    containerNets({ ...prev, ips: [{ address: '10.1.0.7/24', interface: 9 }] }, 'eth0').map((n) => n.ip),
    ['10.1.0.7'],
    'an index past the interface list counts (upstream checks the range)',
  );
  t.deepEqual(containerNets(undefined, 'eth0'), []);
});

test('DEL reads the container addresses from the raw prevResult leniently, picking as the decoded result does', (t) => {
  const prev = PREV;
  const pick = (p: unknown) => containerNetsLenient(p, 'eth0').map((n) => `${n.ip} ${n.family}`);
  t.deepEqual(pick(prev), ['10.1.0.3 4', 'fd00::5 6']);
  t.deepEqual(
    pick(prev),
    containerNets(prev, 'eth0').map((n) => `${n.ip} ${n.family}`),
    'as the decoded result',
  );
  // Go-capitalised keys, an entry that is not an interface keeping the indexes, junk skipped
  t.deepEqual(
    pick({
      IPs: [{ Address: '10.1.0.9/24', Interface: 1 }, { address: 7 }, 'x', { address: 'nope' }],
      Interfaces: [42, { Name: 'eth0', Sandbox: '/run/netns/p' }],
      dns: 'not a dns',
    }),
    ['10.1.0.9 4'],
  );
  t.deepEqual(
    pick({ ips: [{ address: '10.1.0.9/24', interface: 0 }], interfaces: [{ name: 'eth0' }] }),
    [],
    'not in the sandbox',
  );
  t.deepEqual(pick({ cniVersion: '0.2.0', ip4: { ip: '10.1.0.8/24' }, ip6: { ip: 'fd00::8/64' } }), [
    '10.1.0.8 4',
    'fd00::8 6',
  ]);
  t.deepEqual(pick({ ips: 'bogus' }), []);
  t.deepEqual(pick('bogus'), []);
  t.deepEqual(pick(undefined), []);
});

test('conntrack deletes UDP flows by host port, narrowed to the pod that answers them when known', (t) => {
  t.deepEqual(conntrackArgs(4, { port: 53 }), ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-port-dst', '53']);
  t.deepEqual(conntrackArgs(6, { port: 53, podIP: 'fd00::5' }), [
    '-D',
    '-f',
    'ipv6',
    '-p',
    'udp',
    '--orig-port-dst',
    '53',
    '--reply-src',
    'fd00::5',
  ]);
});
