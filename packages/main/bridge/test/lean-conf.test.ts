// The lean config reader against the schema path: for real configs and for one-field mutations
// of them, loadConf through the lean reader and through the schema alone must give the same
// config (key order included) or the same error; and the configs real nodes use must take the
// lean path (else the test would compare the schema path with itself).
import test from 'ava';
import { loadConf } from '../src/config.js';
import { leanBridgeConf } from '../src/lean-conf.js';
import { ScriptedExec, context } from './helpers.js';

type Obj = Record<string, unknown>;

const BENCH: Obj = {
  cniVersion: '1.0.0',
  name: 'podnet',
  type: 'bridge',
  bridge: 'cni0',
  isGateway: true,
  ipMasq: true,
  hairpinMode: true,
  ipam: { type: 'host-local', dataDir: '/run/x', ranges: [[{ subnet: '10.1.0.0/24' }]] },
};
const BASES: Obj[] = [
  BENCH,
  { cniVersion: '0.3.1', name: 'kind', type: 'bridge' },
  {
    cniVersion: '1.1.0',
    name: 'n',
    type: 'bridge',
    bridge: 'br-pods',
    isDefaultGateway: true,
    forceAddress: false,
    mtu: 1400,
    promiscMode: true,
    vlan: 0,
    ipMasqBackend: 'nftables',
    macspoofchk: true,
    enabledad: false,
    portIsolation: true,
    preserveDefaultVlan: null,
    dns: { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'], options: ['ndots:5'], domain: 'cluster.local' },
    ipam: { type: 'host-local', subnet: '10.2.0.0/16' },
    capabilities: { mac: true },
    prevResult: { cniVersion: '1.1.0', ips: [] },
  },
];

const VALUES: unknown[] = [
  true,
  false,
  null,
  0,
  1,
  -1,
  4095,
  1.5,
  2 ** 53,
  '',
  'x',
  'cni0',
  'iptables',
  [],
  ['a'],
  [1],
  {},
  { type: 'host-local' },
  { Type: 'host-local' },
  { type: 7 },
  { nameservers: ['1.1.1.1'], Domain: 'x' },
  { nameservers: 'x' },
  { search: [], extra: 1 },
  [{ id: 5 }],
  { cni: { mac: '02:00:00:00:00:01' } },
  { mac: '02:00:00:00:00:01' },
];
const KEYS = [
  'cniVersion',
  'name',
  'bridge',
  'isGateway',
  'isDefaultGateway',
  'forceAddress',
  'ipMasq',
  'ipMasqBackend',
  'mtu',
  'hairpinMode',
  'promiscMode',
  'vlan',
  'vlanTrunk',
  'preserveDefaultVlan',
  'macspoofchk',
  'enabledad',
  'disableContainerInterface',
  'portIsolation',
  'ipam',
  'dns',
  'args',
  'runtimeConfig',
  'unknownKey',
];

function outcome(raw: Obj, lean: boolean): string {
  try {
    return JSON.stringify(loadConf(context(new ScriptedExec({}), raw), true, lean));
  } catch (e) {
    return `error ${(e as { code?: number }).code}: ${(e as Error).message}`;
  }
}

function mutations(): Obj[] {
  const out: Obj[] = [];
  for (const base of BASES) {
    out.push(base);
    for (const k of KEYS) {
      for (const v of VALUES) out.push({ ...base, [k]: v });
      // the same key in another case: the schema path folds it
      out.push({ ...base, [k.toUpperCase()]: base[k] ?? true });
      const { [k]: _, ...without } = base;
      out.push(without);
    }
  }
  return out;
}

test('the configs nodes use take the lean path', (t) => {
  for (const base of BASES) t.truthy(leanBridgeConf(base), JSON.stringify(base));
});

test('lean and schema paths agree on every mutation: the same config, key order included, or the same error', (t) => {
  let lean = 0;
  let total = 0;
  for (const raw of mutations()) {
    total++;
    if (leanBridgeConf(raw)) lean++;
    t.is(outcome(raw, true), outcome(raw, false), JSON.stringify(raw));
  }
  // the comparison must exercise both paths
  t.true(lean > total / 10, `${lean} of ${total} on the lean path`);
  t.true(lean < total, 'some mutations are left to the schema path');
});

test('the lean reader leaves what it does not read exactly to the schema path', (t) => {
  t.is(leanBridgeConf({ ...BENCH, IPMasq: true }), undefined, 'a key in another case');
  t.is(leanBridgeConf({ ...BENCH, ipam: { TYPE: 'host-local' } }), undefined, 'a nested key in another case');
  t.is(leanBridgeConf({ ...BENCH, mtu: '1400' }), undefined, 'a wrong type');
  t.is(leanBridgeConf({ ...BENCH, vlanTrunk: [{ id: 3 }] }), undefined, 'vlanTrunk');
  t.is(leanBridgeConf({ ...BENCH, runtimeConfig: { mac: '02:00:00:00:00:01' } }), undefined, 'runtimeConfig');
  t.is(leanBridgeConf({ ...BENCH, dns: { nameservers: [1] } }), undefined, 'a DNS list of numbers');
  t.is(leanBridgeConf({ ...BENCH, name: undefined }), undefined, 'no name');
  t.is(leanBridgeConf([]), undefined, 'not an object');
});
