// The lean config reader against the schema path: for real configs and one-field mutations of
// them (top level, ipam, a range, a route), loadIpamConfig and loadStoreConfig through the lean
// reader and through the schema alone must give the same config or the same error; and the
// configs real nodes use must take the lean path (else the test would compare the schema path
// with itself).
import test from 'ava';
import { decodeNetConf } from '@cni-ts/skel';
import { loadIpamConfig, loadStoreConfig } from '../src/config.js';
import { leanNetConf, leanStoreConf } from '../src/lean-conf.js';

type Obj = Record<string, unknown>;

const net = (extra: Obj) =>
  decodeNetConf(JSON.stringify({ cniVersion: '1.0.0', name: 'net1', type: 'bridge', ...extra }));

const IPAMS: Obj[] = [
  { type: 'host-local', dataDir: '/run/x', ranges: [[{ subnet: '10.1.0.0/24' }]] },
  { type: 'host-local', subnet: '10.2.0.0/16', rangeStart: '10.2.0.10', rangeEnd: '10.2.0.99', gateway: '10.2.0.1' },
  {
    type: 'host-local',
    ranges: [[{ subnet: '10.3.0.0/24', gateway: '10.3.0.254' }, { subnet: '10.4.0.0/24' }], [{ subnet: 'fd00::/64' }]],
    routes: [{ dst: '0.0.0.0/0' }, { dst: '10.9.0.0/16', gw: '10.3.0.1', mtu: 1400, priority: 5 }],
    resolvConf: '/etc/resolv.conf',
    dataDir: '/var/lib/cni/networks',
  },
];

const VALUES: unknown[] = [
  null,
  true,
  0,
  7,
  1.5,
  '',
  'x',
  '10.5.0.0/24',
  '/abs/dir',
  'rel/dir',
  [],
  [[]],
  [[{ subnet: '10.6.0.0/24' }]],
  [[{ subnet: '10.6.0.0/24', Gateway: '10.6.0.1' }]],
  [[{ subnet: 5 }]],
  [[{ subnet: '10.6.0.0/24', extra: 1 }]],
  [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }],
  [{ dst: 5 }],
  [{ dst: '1.2.3.0/24', mtu: 1.5 }],
  [{ gw: '10.1.0.1' }],
  [{ dst: '1.2.3.0/24', DST: '1.2.3.0/24' }],
  {},
  { ips: ['10.1.0.9'] },
];
const IPAM_KEYS = ['type', 'subnet', 'rangeStart', 'rangeEnd', 'gateway', 'routes', 'dataDir', 'resolvConf', 'ranges'];

function outcome(f: () => unknown): string {
  try {
    return JSON.stringify(f(), (_, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v));
  } catch (e) {
    return `error ${(e as { code?: number }).code}: ${(e as Error).message}`;
  }
}

function mutations(): Obj[] {
  const out: Obj[] = [];
  for (const ipam of IPAMS) {
    out.push({ ipam });
    for (const k of IPAM_KEYS) {
      for (const v of VALUES) out.push({ ipam: { ...ipam, [k]: v } });
      out.push({ ipam: { ...ipam, [k.toUpperCase()]: ipam[k] ?? 'x' } });
    }
    for (const v of VALUES) {
      out.push({ ipam: v });
      out.push({ ipam, runtimeConfig: v });
      out.push({ ipam, args: v });
    }
    out.push({ IPAM: ipam }, { ipam, extra: { ranges: 1 } }, {});
  }
  return out;
}

test('the configs nodes use take the lean path', (t) => {
  for (const ipam of IPAMS) {
    t.truthy(leanNetConf(net({ ipam }).raw), JSON.stringify(ipam));
    t.truthy(leanStoreConf(net({ ipam }).raw), JSON.stringify(ipam));
  }
});

test('lean and schema paths agree on every mutation: ADD’s whole config and DEL’s store, or the same error', (t) => {
  let lean = 0;
  let total = 0;
  for (const extra of mutations()) {
    const conf = net(extra);
    total++;
    if (leanNetConf(conf.raw)) lean++;
    const msg = JSON.stringify(extra);
    t.is(
      outcome(() => loadIpamConfig(conf, '', () => {}, true)),
      outcome(() => loadIpamConfig(conf, '', () => {}, false)),
      msg,
    );
    t.is(
      outcome(() => loadStoreConfig(conf, true)),
      outcome(() => loadStoreConfig(conf, false)),
      msg,
    );
  }
  t.true(lean > total / 10, `${lean} of ${total} on the lean path`);
  t.true(lean < total, 'some mutations are left to the schema path');
});

test('the lean reader leaves what it does not read exactly to the schema path', (t) => {
  const ipam = IPAMS[0]!;
  t.is(leanNetConf({ IPAM: ipam }), undefined, 'a key in another case');
  t.is(leanNetConf({ ipam: { ...ipam, DataDir: '/x' } }), undefined, 'an ipam key in another case');
  t.is(
    leanNetConf({ ipam: { ...ipam, ranges: [[{ Subnet: '10.0.0.0/8' }]] } }),
    undefined,
    'a range key in another case',
  );
  t.is(leanNetConf({ ipam: { ...ipam, dataDir: 5 } }), undefined, 'a wrong type');
  t.is(leanNetConf({ ipam, runtimeConfig: { ips: ['10.1.0.5'] } }), undefined, 'runtimeConfig');
  t.is(leanStoreConf({ ipam: { datadir: '/x' } }), undefined, 'DEL: dataDir in another case');
  t.deepEqual(leanStoreConf({ ipam: { dataDir: '/x', ranges: 'broken' } }), { ipam: { dataDir: '/x' } });
});
