// Configuration: what is accepted, the canonical form it becomes, and the exact error for each mistake.
import test from 'ava';
import { formatIP } from '@cni-ts/netaddr';
import { decodeNetConf } from '@cni-ts/skel';
import { CniError } from '@cni-ts/types';
import { type IpamConfig, formatSet, loadIpamConfig, loadStoreConfig } from '../src/index.js';

const net = (ipam: unknown, extra: object = {}, cniVersion = '1.0.0') =>
  decodeNetConf(JSON.stringify({ cniVersion, name: 'net1', type: 'bridge', ipam, ...extra }));
const load = (ipam: unknown, extra: object = {}, cniArgs = '', cniVersion = '1.0.0', warn?: (m: string) => void) =>
  loadIpamConfig(net(ipam, extra, cniVersion), cniArgs, warn);
const summary = (c: IpamConfig) =>
  c.pools.map(
    (p) => `${p.id}:${p.where}:${formatSet(p.ranges)}:gw=${p.ranges.map((r) => formatIP(r.gateway)).join(',')}`,
  );

test('defaults: dataDir, .1 gateway, start after the network address, IPv4 end before broadcast, IPv6 end at the last address', (t) => {
  const c = load({ type: 'host-local', ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '2001:db8::/64' }]] });
  t.is(c.dataDir, '/var/lib/cni/networks');
  t.is(c.name, 'net1');
  t.deepEqual(summary(c), [
    '0:ipam.ranges[0]:10.1.0.1-10.1.0.254:gw=10.1.0.1',
    '1:ipam.ranges[1]:2001:db8::1-2001:db8::ffff:ffff:ffff:ffff:gw=2001:db8::1',
  ]);
  t.deepEqual(c.routes, []);
  t.deepEqual(c.requested, []);
});

test('keys match case-insensitively, as Go decodes them', (t) => {
  const c = loadIpamConfig(
    decodeNetConf(
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'n',
        IPAM: {
          Ranges: [[{ SUBNET: '10.2.0.0/16', RangeStart: '10.2.1.0', rangeend: '10.2.1.9', GateWay: '10.2.0.254' }]],
          DataDir: '/run/x',
        },
        RuntimeConfig: { IPs: ['10.2.1.5'] },
      }),
    ),
    '',
  );
  t.deepEqual(summary(c), ['0:ipam.ranges[0]:10.2.1.0-10.2.1.9:gw=10.2.0.254']);
  t.is(c.dataDir, '/run/x');
  t.deepEqual(
    c.requested.map((r) => formatIP(r.ip)),
    ['10.2.1.5'],
  );
});

test('final order: runtimeConfig.ipRanges, then the legacy single range, then ipam.ranges (the index is the rangeID)', (t) => {
  const c = load(
    {
      subnet: '10.2.0.0/24',
      rangeStart: '10.2.0.10',
      ranges: [[{ subnet: '10.3.0.0/24' }, { subnet: '10.4.0.0/24' }]],
    },
    { runtimeConfig: { ipRanges: [[{ subnet: '10.1.0.0/24' }]] } },
  );
  t.deepEqual(summary(c), [
    '0:runtimeConfig.ipRanges[0]:10.1.0.1-10.1.0.254:gw=10.1.0.1',
    '1:ipam:10.2.0.10-10.2.0.254:gw=10.2.0.1',
    '2:ipam.ranges[0]:10.3.0.1-10.3.0.254,10.4.0.1-10.4.0.254:gw=10.3.0.1,10.4.0.1',
  ]);
});

test('legacy keys without ipam.subnet are ignored with a warning, as upstream ignores them', (t) => {
  const warnings: string[] = [];
  const c = load({ gateway: '10.1.0.1', ranges: [[{ subnet: '10.1.0.0/24' }]] }, {}, '', '1.0.0', (m) =>
    warnings.push(m),
  );
  t.is(c.pools.length, 1);
  t.deepEqual(warnings, [
    'ipam.gateway ignored: they only apply together with ipam.subnet (put them inside a range of "ranges")',
  ]);
});

test('requested IPs merge CNI_ARGS IP, args.cni.ips and runtimeConfig.ips in that order, without duplicates; prefixes are ignored', (t) => {
  const c = load(
    { ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '2001:db8::/64' }]] },
    {
      args: { cni: { ips: ['2001:DB8::5/64', '10.1.0.9'] } },
      runtimeConfig: { ips: ['10.1.0.9/24', '::ffff:10.1.0.7'] },
    },
    'IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.1.0.8',
  );
  t.deepEqual(
    c.requested.map((r) => [formatIP(r.ip), r.from]),
    [
      ['10.1.0.8', 'CNI_ARGS IP'],
      ['2001:db8::5', 'args.cni.ips[0]'],
      ['10.1.0.9', 'args.cni.ips[1]'],
      ['10.1.0.7', 'runtimeConfig.ips[1]'],
    ],
  );
});

test('routes are returned canonical, resolvConf and dataDir are kept', (t) => {
  const c = load({
    ranges: [[{ subnet: '10.1.0.0/24' }]],
    dataDir: '/tmp/x/',
    resolvConf: '/etc/resolv.conf',
    routes: [{ dst: '0.0.0.0/0' }, { dst: '2001:DB8:0::/48', gw: '2001:db8::1', priority: 5, table: 0 }],
  });
  t.deepEqual(c.routes, [{ dst: '0.0.0.0/0' }, { dst: '2001:db8::/48', gw: '2001:db8::1', priority: 5, table: 0 }]);
  t.is(c.resolvConf, '/etc/resolv.conf');
  t.is(c.dataDir, '/tmp/x');
});

const R = (r: object) => ({ ranges: [[{ subnet: '10.1.0.0/24', ...r }]] });
const bad: Array<[string, unknown, object, string, number, string]> = [
  ['no ipam section', undefined, {}, '', 7, 'IPAM config missing "ipam" key'],
  ['no ranges at all', { type: 'host-local' }, {}, '', 7, 'no IP ranges specified'],
  [
    'a bad CIDR',
    R({ subnet: '10.1.0.0/33' }),
    {},
    '',
    7,
    'ipam.ranges[0][0]: subnet "10.1.0.0/33" is not a valid CIDR',
  ],
  [
    'a subnet without prefix',
    R({ subnet: '10.1.0.0' }),
    {},
    '',
    7,
    'ipam.ranges[0][0]: subnet "10.1.0.0" is not a valid CIDR',
  ],
  ['a missing subnet', { ranges: [[{ rangeStart: '10.1.0.5' }]] }, {}, '', 7, 'ipam.ranges[0][0]: "subnet" is missing'],
  [
    'host bits set',
    R({ subnet: '10.1.0.5/24' }),
    {},
    '',
    7,
    'ipam.ranges[0][0]: network 10.1.0.5/24 has host bits set',
  ],
  [
    'a /31',
    R({ subnet: '10.1.0.0/31' }),
    {},
    '',
    7,
    'ipam.ranges[0][0]: network 10.1.0.0/31 is too small to allocate from',
  ],
  [
    'a /127',
    { ranges: [[{ subnet: '2001:db8::/127' }]] },
    {},
    '',
    7,
    'ipam.ranges[0][0]: network 2001:db8::/127 is too small to allocate from',
  ],
  [
    'gateway outside the subnet',
    R({ gateway: '10.2.0.1' }),
    {},
    '',
    7,
    'ipam.ranges[0][0]: gateway 10.2.0.1 is outside subnet 10.1.0.0/24',
  ],
  [
    'gateway of the other family',
    R({ gateway: '2001:db8::1' }),
    {},
    '',
    7,
    'ipam.ranges[0][0]: gateway 2001:db8::1 is outside subnet 10.1.0.0/24',
  ],
  [
    'rangeStart outside the subnet',
    R({ rangeStart: '10.1.1.5' }),
    {},
    '',
    7,
    'ipam.ranges[0][0]: rangeStart 10.1.1.5 is outside subnet 10.1.0.0/24',
  ],
  [
    'rangeEnd outside the subnet',
    R({ rangeEnd: '10.1.1.5' }),
    {},
    '',
    7,
    'ipam.ranges[0][0]: rangeEnd 10.1.1.5 is outside subnet 10.1.0.0/24',
  ],
  [
    'start after end',
    R({ rangeStart: '10.1.0.50', rangeEnd: '10.1.0.40' }),
    {},
    '',
    7,
    'ipam.ranges[0][0]: rangeStart 10.1.0.50 is after rangeEnd 10.1.0.40',
  ],
  [
    'a bad address',
    R({ rangeStart: '10.1.0.500' }),
    {},
    '',
    7,
    'ipam.ranges[0][0].rangeStart: "10.1.0.500" is not an IP address',
  ],
  ['an empty range set', { ranges: [[]] }, {}, '', 7, 'ipam.ranges[0]: empty range set'],
  [
    'mixed families in a set',
    { ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: '2001:db8::/64' }]] },
    {},
    '',
    7,
    'ipam.ranges[0]: mixed address families (ipam.ranges[0][1] is IPv6, ipam.ranges[0][0] is IPv4)',
  ],
  [
    'overlapping ranges in a set',
    { ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: '10.1.0.0/25', rangeStart: '10.1.0.100' }]] },
    {},
    '',
    7,
    'ipam.ranges[0]: ranges 10.1.0.1-10.1.0.254 and 10.1.0.100-10.1.0.126 overlap',
  ],
  [
    'overlapping range sets',
    { subnet: '10.1.0.0/16', ranges: [[{ subnet: '10.1.2.0/24' }]] },
    {},
    '',
    7,
    'range set 0 (ipam: 10.1.0.1-10.1.255.254) overlaps with range set 1 (ipam.ranges[0]: 10.1.2.1-10.1.2.254)',
  ],
  [
    'ipRanges overlapping ranges',
    R({}),
    { runtimeConfig: { ipRanges: [[{ subnet: '10.1.0.128/25' }]] } },
    '',
    7,
    'range set 0 (runtimeConfig.ipRanges[0]: 10.1.0.129-10.1.0.254) overlaps with range set 1 (ipam.ranges[0]: 10.1.0.1-10.1.0.254)',
  ],
  [
    'a bad route',
    { ...R({}), routes: [{ dst: 'default' }] },
    {},
    '',
    7,
    'ipam.routes[0].dst "default" is not a valid CIDR',
  ],
  [
    'a relative dataDir',
    { ...R({}), dataDir: 'var/lib/cni' },
    {},
    '',
    7,
    'ipam.dataDir "var/lib/cni" is not an absolute path',
  ],
  [
    'a dataDir with ..',
    { ...R({}), dataDir: '/var/lib/cni/../../etc' },
    {},
    '',
    7,
    'ipam.dataDir "/var/lib/cni/../../etc" contains "." or ".." segments',
  ],
  [
    'a bad runtimeConfig.ips entry',
    R({}),
    { runtimeConfig: { ips: ['10.1.0.x'] } },
    '',
    7,
    'runtimeConfig.ips[0]: "10.1.0.x" is not an IP address',
  ],
  [
    'a bad args.cni.ips entry',
    R({}),
    { args: { cni: { ips: ['nope/24'] } } },
    '',
    7,
    'args.cni.ips[0]: "nope/24" is not an IP address',
  ],
  ['a bad CNI_ARGS IP', R({}), {}, 'IP=10.1.0.300', 4, 'CNI_ARGS IP: "10.1.0.300" is not an IP address'],
  [
    'unknown CNI_ARGS without IgnoreUnknown',
    R({}),
    {},
    'FOO=bar',
    4,
    'ARGS: unknown args ["FOO=bar"] (add IgnoreUnknown=1 to CNI_ARGS to ignore them)',
  ],
  [
    'ranges of the wrong type',
    { ranges: [{ subnet: '10.1.0.0/24' }] },
    {},
    '',
    7,
    'invalid host-local config: ipam.ranges[0]: must be a list of ranges ([{"subnet": …}])',
  ],
];
for (const [what, ipam, extra, args, code, msg] of bad) {
  test(`config error: ${what}`, (t) => {
    const e = t.throws(() => load(ipam, extra, args), { instanceOf: CniError });
    t.is(e?.code, code);
    t.is(e?.message, msg);
    if (code === 7 && !msg.startsWith('invalid host-local')) t.true(e!.details.length > 10, 'details say what to do');
  });
}

test('cniVersion before 0.3.0 allows one range set per family only', (t) => {
  const ipam = { ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.2.0.0/24' }]] };
  const e = t.throws(() => load(ipam, {}, '', '0.2.0'), { instanceOf: CniError });
  t.is(e?.code, 7);
  t.is(e?.message, 'CNI version 0.2.0 does not support more than 1 address per family');
  t.is(load(ipam, {}, '', '0.3.0').pools.length, 2);
  t.is(load({ ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '2001:db8::/64' }]] }, {}, '', '0.1.0').pools.length, 2);
});

test('DEL and GC need only the store location: broken ranges do not stop them', (t) => {
  t.deepEqual(loadStoreConfig(net({ ranges: [[{ subnet: 'garbage' }]], dataDir: '/run/cni' })), {
    name: 'net1',
    dataDir: '/run/cni',
  });
  t.deepEqual(loadStoreConfig(net({ ranges: 'garbage' })), { name: 'net1', dataDir: '/var/lib/cni/networks' });
  t.throws(() => loadStoreConfig(net(undefined)), { message: 'IPAM config missing "ipam" key' });
  t.throws(() => loadStoreConfig(net({ dataDir: '/a/./b' })), {
    message: 'ipam.dataDir "/a/./b" contains "." or ".." segments',
  });
});

test('type mistakes name the key and what it must be', (t) => {
  t.throws(() => load({ ranges: [[{ subnet: 10 }]], dataDir: 5 }), {
    message: 'invalid host-local config: ipam.dataDir: must be a string; ipam.ranges[0][0].subnet: must be a string',
  });
  t.throws(() => load('host-local'), { message: 'invalid host-local config: ipam: must be an object' });
  t.throws(() => load(R({}), { runtimeConfig: { ips: '10.1.0.5' } }), {
    message: 'invalid host-local config: runtimeConfig.ips: must be a list of addresses',
  });
});

// The schema is built from the keys a config holds (presentFields): every key must still be
// checked when present, in any case, and with "ipam" given twice in different cases too.
test('every ipam key is type-checked when present, in any case (code 7 naming it)', (t) => {
  const wrong: Record<string, unknown> = {
    type: 5,
    subnet: 5,
    rangeStart: 5,
    rangeEnd: 5,
    gateway: 5,
    routes: [{ dst: 5 }],
    dataDir: 5,
    resolvConf: 5,
    ranges: [[{ subnet: 5 }]],
  };
  for (const [key, value] of Object.entries(wrong)) {
    for (const spelled of [key, key.toUpperCase()]) {
      const e = t.throws(() => load({ ranges: [[{ subnet: '10.1.0.0/24' }]], [spelled]: value }), undefined, spelled);
      t.true(e instanceof CniError && e.code === 7 && e.message.includes(key), `${spelled}: ${e?.message}`);
    }
  }
  const e = t.throws(() =>
    loadIpamConfig(
      decodeNetConf(
        '{"cniVersion":"1.0.0","name":"n","ipam":{"ranges":[[{"subnet":"10.1.0.0/24"}]]},"IPAM":{"routes":"x"}}',
      ),
      '',
    ),
  );
  t.true(e instanceof CniError && e.code === 7, String(e));
});
