// The config: defaults, Go-style case-insensitive keys, MAC sources, and every cross-field rule
// as a code-7 error with a message that says what to change.
import test from 'ava';
import { CniError } from '@cni-ts/types';
import { loadConf, parseMac } from '../src/config.js';
import { ScriptedExec, context } from './helpers.js';

const load = (config: Record<string, unknown>, cniArgs = '', withArgs = true) =>
  loadConf(context(new ScriptedExec({}), config, { cniArgs }), withArgs);

test('defaults: bridge cni0, L2, nothing enabled', (t) => {
  t.deepEqual(load({}), {
    name: 'podnet',
    cniVersion: '1.0.0',
    bridge: 'cni0',
    isGateway: false,
    isDefaultGateway: false,
    forceAddress: false,
    ipMasq: false,
    mtu: 0,
    hairpinMode: false,
    promiscMode: false,
    vlan: 0,
    vlans: [],
    vlanFiltering: false,
    preserveDefaultVlan: false,
    macspoofchk: false,
    enabledad: false,
    disableContainerInterface: false,
    portIsolation: false,
    ipamType: '',
  });
});

test('keys match case-insensitively, as Go decodes them; isDefaultGateway implies isGateway', (t) => {
  const c = load({
    Bridge: 'br-pods',
    IsDefaultGateway: true,
    IPMASQ: true,
    ipmasqbackend: 'nftables',
    MTU: 1450,
    MacSpoofChk: true,
    IPAM: { Type: 'host-local' },
  });
  t.is(c.bridge, 'br-pods');
  t.true(c.isGateway);
  t.true(c.isDefaultGateway);
  t.true(c.ipMasq);
  t.is(c.ipMasqBackend, 'nftables');
  t.is(c.mtu, 1450);
  t.true(c.macspoofchk);
  t.is(c.ipamType, 'host-local');
});

test('MAC precedence: CNI_ARGS MAC < args.cni.mac < runtimeConfig.mac; normalised to lower-case colon form', (t) => {
  t.is(load({}, 'MAC=0A-58-00-00-00-01').mac, '0a:58:00:00:00:01');
  t.is(load({ args: { cni: { mac: '0a:58:00:00:00:02' } } }, 'MAC=0a:58:00:00:00:01').mac, '0a:58:00:00:00:02');
  t.is(
    load(
      { args: { cni: { mac: '0a:58:00:00:00:02' } }, runtimeConfig: { mac: '0a58.0000.0003' } },
      'MAC=0a:58:00:00:00:01',
    ).mac,
    '0a:58:00:00:00:03',
  );
});

test('MACs that cannot work are code 7 naming their source', (t) => {
  const e = t.throws(() => load({ runtimeConfig: { mac: 'not-a-mac' } }), { instanceOf: CniError });
  t.is(e?.message, 'invalid MAC address "not-a-mac" in runtimeConfig.mac');
  t.regex(t.throws(() => parseMac('01:00:5e:00:00:01', 'x'))!.message, /must be a unicast address/);
  t.regex(t.throws(() => parseMac('00:00:00:00:00:00', 'x'))!.message, /must be a unicast address/);
});

test('unknown CNI_ARGS fail ADD/CHECK unless IgnoreUnknown, and never DEL', (t) => {
  t.is(t.throws(() => load({}, 'FOO=bar'), { instanceOf: CniError })?.code, 4);
  t.is(load({}, 'IgnoreUnknown=1;FOO=bar;MAC=0a:58:00:00:00:01').mac, '0a:58:00:00:00:01');
  t.is(load({}, 'FOO=bar', false).mac, undefined);
});

test('config dns replaces IPAM dns only when something is set', (t) => {
  t.deepEqual(load({ dns: { nameservers: ['10.0.0.10'], search: ['svc'] } }).dns, {
    nameservers: ['10.0.0.10'],
    search: ['svc'],
  });
  t.is(load({ dns: {} }).dns, undefined);
  t.is(load({ dns: { domain: '' } }).dns, undefined);
});

test('vlanTrunk: sorted ids, and even an empty trunk asks for vlan_filtering (as upstream)', (t) => {
  const c = load({ vlanTrunk: [{ id: 30 }, { minID: 10, maxID: 11 }] });
  t.deepEqual(c.vlans, [10, 11, 30]);
  t.true(c.vlanFiltering);
  t.true(load({ vlanTrunk: [] }).vlanFiltering);
  t.false(load({ vlanTrunk: null }).vlanFiltering);
});

const BAD: Array<[string, Record<string, unknown>, RegExp, RegExp?]> = [
  [
    'hairpin and promiscuous together',
    { hairpinMode: true, promiscMode: true },
    /^cannot set hairpin mode and promiscuous mode at the same time$/,
    /not both/,
  ],
  ['vlan below range', { vlan: -1 }, /^invalid VLAN ID -1 \(must be between 0 and 4094\)$/],
  ['vlan above range', { vlan: 4095 }, /^invalid VLAN ID 4095/],
  [
    'IPAM with disableContainerInterface',
    { disableContainerInterface: true, ipam: { type: 'host-local' } },
    /^cannot use IPAM when DisableContainerInterface flag is set$/,
  ],
  [
    'unknown ipMasqBackend',
    { ipMasq: true, ipMasqBackend: 'ebtables' },
    /^unknown ipmasq backend "ebtables"$/,
    /"iptables" or "nftables"/,
  ],
  ['bridge name too long', { bridge: 'a-very-long-bridge-name' }, /^invalid bridge name "a-very-long-bridge-name"$/],
  ['bridge name with a slash', { bridge: 'br/0' }, /^invalid bridge name/],
  ['mtu too small', { mtu: 20 }, /^invalid mtu 20$/],
  [
    'VLAN gateway name too long',
    { bridge: 'br-pods-main', vlan: 4000, isGateway: true, ipam: { type: 'host-local' } },
    /"br-pods-main\.4000" is longer than 15 bytes/,
  ],
  [
    'a string where a bool belongs',
    { portIsolation: 'true' },
    /^invalid bridge network configuration: portIsolation: /,
  ],
  ['a bad trunk', { vlanTrunk: [{ minID: 3 }] }, /maxID is missing/],
];
for (const [what, config, msg, details] of BAD) {
  test(`config error: ${what} is code 7`, (t) => {
    const e = t.throws(() => load(config), { instanceOf: CniError });
    t.is(e?.code, 7);
    t.regex(e!.message, msg);
    if (details) t.regex(e!.details, details);
  });
}

// The schema is built from the keys a config holds (presentFields): every key must still be
// checked when present, in any case.
test('every key the bridge reads is type-checked when present, in any case (code 7 naming it)', (t) => {
  const wrong: Record<string, unknown> = {
    bridge: 7,
    isGateway: 'yes',
    isDefaultGateway: 'yes',
    forceAddress: 1,
    ipMasq: 'true',
    ipMasqBackend: false,
    mtu: '1500',
    hairpinMode: 'on',
    promiscMode: 0,
    vlan: 1.5,
    vlanTrunk: { id: 5 },
    preserveDefaultVlan: 'no',
    macspoofchk: 'x',
    enabledad: [],
    disableContainerInterface: {},
    portIsolation: 'x',
    ipam: 'host-local',
    dns: ['1.1.1.1'],
    args: 'x',
    runtimeConfig: [],
  };
  for (const [key, value] of Object.entries(wrong)) {
    for (const spelled of [key, key.toUpperCase()]) {
      const e = t.throws(() => load({ [spelled]: value }), { instanceOf: CniError }, spelled);
      t.is(e?.code, 7, spelled);
      t.true(e?.message.includes(key), `${spelled}: ${e?.message}`);
    }
  }
});
