// VLANs: trunk parsing, the `bridge vlan` commands per port, the VLAN gateway interface, and the
// clear error on a kernel without bridge VLAN filtering (which is what our CI kernel is).
import test from 'ava';
import { CniError } from '@cni-ts/types';
import { makeBridge } from '../src/index.js';
import { collectVlanTrunk, portVlanCommands, vidRanges } from '../src/vlan.js';
import { FakeHost, NETNS, ScriptedExec, context } from './helpers.js';

const VETH = 'vetha0a1a2a3';
const PEER = 'vetha4a5a6a7';
const POD = { eth0: { ifindex: 2, mac: '0a:58:0a:16:00:02', peer: 9 } };
const NODE = {
  cni0: { ifindex: 3, kind: 'bridge', mac: '02:a0:a1:a2:a3:a4', info: { vlan_filtering: 1, vlan_default_pvid: 1 } },
  [VETH]: { ifindex: 9, master: 'cni0' },
  'cni0.100': { ifindex: 11, mac: '02:00:00:00:01:00' },
};

test('trunk entries: single ids and ranges, sorted and de-duplicated', (t) => {
  t.deepEqual(
    collectVlanTrunk([{ id: 20 }, { minID: 10, maxID: 12 }, { id: 11 }, { minID: 100, maxID: 100 }]),
    [10, 11, 12, 20, 100],
  );
  t.deepEqual(collectVlanTrunk(undefined), []);
  t.deepEqual(collectVlanTrunk([]), []);
});

const BAD_TRUNKS: Array<[object, RegExp]> = [
  [{ minID: 5 }, /maxID is missing/],
  [{ maxID: 5 }, /minID is missing/],
  [{ minID: 0, maxID: 5 }, /incorrect trunk minID parameter 0/],
  [{ minID: 5, maxID: 4095 }, /incorrect trunk maxID parameter 4095/],
  [{ minID: 9, maxID: 5 }, /minID is greater than maxID/],
  [{ id: 4095 }, /incorrect trunk id parameter 4095/],
  [{ id: 0 }, /incorrect trunk id parameter 0/],
];
for (const [entry, re] of BAD_TRUNKS) {
  test(`trunk entry ${JSON.stringify(entry)} is a code-7 error`, (t) => {
    const e = t.throws(() => collectVlanTrunk([entry]), { instanceOf: CniError });
    t.is(e?.code, 7);
    t.regex(e!.message, re);
  });
}

test('VLAN ID ranges fold consecutive ids', (t) => {
  t.deepEqual(vidRanges([1, 2, 3, 5, 7, 8]), ['1-3', '5', '7-8']);
  t.deepEqual(vidRanges([]), []);
});

test('port VLAN commands: default entry dropped, native VLAN PVID untagged, trunk tagged', (t) => {
  t.deepEqual(portVlanCommands('v', { vlan: 100, vlans: [], preserveDefaultVlan: false, defaultPvid: 1 }), [
    ['vlan', 'del', 'dev', 'v', 'vid', '1'],
    ['vlan', 'add', 'dev', 'v', 'vid', '100', 'pvid', 'untagged'],
  ]);
  t.deepEqual(
    portVlanCommands('v', { vlan: 0, vlans: [1, 10, 11, 12], preserveDefaultVlan: true, defaultPvid: 1 }),
    [
      ['vlan', 'add', 'dev', 'v', 'vid', '1', 'pvid', 'untagged'],
      ['vlan', 'add', 'dev', 'v', 'vid', '10-12'],
    ],
    'a trunk without a vlan gets VLAN 1 native (upstream v1.8.0)',
  );
  t.deepEqual(
    portVlanCommands('v', { vlan: 10, vlans: [10, 20], preserveDefaultVlan: false, defaultPvid: 0 }),
    [
      ['vlan', 'add', 'dev', 'v', 'vid', '10', 'pvid', 'untagged'],
      ['vlan', 'add', 'dev', 'v', 'vid', '20'],
    ],
    'the native VLAN stays untagged even when also listed in the trunk; no default entry to drop',
  );
  t.deepEqual(portVlanCommands('v', { vlan: 0, vlans: [], preserveDefaultVlan: false, defaultPvid: 1 }), []);
});

test('ADD with vlan: a new bridge gets vlan_filtering, the port its VLAN in one bridge -batch', async (t) => {
  const exec = new ScriptedExec({ node: NODE, pod: POD });
  await makeBridge(new FakeHost()).add(context(exec, { vlan: 100 }));
  const s = exec.script();
  t.is(s[0], 'ip -j -batch - << link add name cni0 type bridge vlan_filtering 1');
  t.is(s[2], `bridge -batch - << vlan del dev ${VETH} vid 1 ; vlan add dev ${VETH} vid 100 pvid untagged`);
});

test('ADD with vlanTrunk and preserveDefaultVlan on an existing bridge', async (t) => {
  const exec = new ScriptedExec({ node: NODE, pod: POD });
  await makeBridge(new FakeHost(['cni0'])).add(
    context(exec, { vlanTrunk: [{ minID: 200, maxID: 210 }, { id: 300 }], preserveDefaultVlan: true }),
  );
  t.is(
    exec.script()[2],
    `bridge -batch - << vlan add dev ${VETH} vid 1 pvid untagged ; vlan add dev ${VETH} vid 200-210 ; vlan add dev ${VETH} vid 300`,
  );
});

test('ADD with vlan and isGateway: the gateway goes on <bridge>.<vlan>, a veth whose peer is a port in that VLAN', async (t) => {
  const exec = new ScriptedExec({
    node: { ...NODE, 'cni0.100': NODE['cni0.100'] },
    pod: POD,
    ipam: { cniVersion: '1.0.0', ips: [{ address: '10.1.0.2/24' }] },
  });
  const host = new FakeHost();
  const r = await makeBridge(host).add(context(exec, { vlan: 100, isGateway: true, ipam: { type: 'host-local' } }));
  const s = exec.script();
  t.deepEqual(s.slice(2, 7), [
    `ip -j -batch - << link set dev cni0 up ; link add name ${VETH} up master cni0 type veth peer name eth0 netns ${NETNS}`,
    `bridge -batch - << vlan del dev ${VETH} vid 1 ; vlan add dev ${VETH} vid 100 pvid untagged`,
    `ip -j -batch - << link add name cni0.100 type veth peer name ${PEER} ; link set dev ${PEER} master cni0 ; link set dev ${PEER} up ; link set dev cni0.100 up`,
    `bridge -batch - << vlan del dev ${PEER} vid 1 ; vlan add dev ${PEER} vid 100 pvid untagged`,
    'ip -j -batch - << addr add 10.1.0.1/24 broadcast + dev cni0.100',
  ]);
  t.is(s.at(-1), `ip -d -j -batch - << addr show dev ${VETH} ; addr show dev cni0 ; addr show dev cni0.100`);
  t.deepEqual(r.interfaces?.[3], { name: 'cni0.100', mac: '02:00:00:00:01:00' });
  t.true(
    host.sysctls.some(([k]) => k === `!net/ipv6/conf/${PEER}/accept_ra`),
    'new: written without a read',
  );
});

test('a VLAN gateway a concurrent ADD created first is left to that ADD to finish', async (t) => {
  const exec = new ScriptedExec({
    node: NODE,
    pod: POD,
    ipam: { cniVersion: '1.0.0', ips: [{ address: '10.1.0.2/24' }] },
    fail: (c) =>
      c.input.startsWith('link add name cni0.100')
        ? { status: 2, stderr: 'RTNETLINK answers: File exists\nCommand failed -:1\n' }
        : undefined,
  });
  await makeBridge(new FakeHost()).add(context(exec, { vlan: 100, isGateway: true, ipam: { type: 'host-local' } }));
  t.false(exec.script().some((l) => l.includes(`vlan add dev ${PEER}`)));
  t.true(exec.script().includes('ip -j -batch - << addr add 10.1.0.1/24 broadcast + dev cni0.100'));
});

test('an existing VLAN gateway interface is reused, its address kept', async (t) => {
  const node = { ...NODE, 'cni0.100': { ...NODE['cni0.100'], addrs: [['10.1.0.1', 24]] as Array<[string, number]> } };
  const exec = new ScriptedExec({ node, pod: POD, ipam: { cniVersion: '1.0.0', ips: [{ address: '10.1.0.3/24' }] } });
  await makeBridge(new FakeHost(['cni0', 'cni0.100'])).add(
    context(exec, { vlan: 100, isGateway: true, ipam: { type: 'host-local' } }),
  );
  t.is(exec.script()[0], 'ip -d -j -batch - << addr show dev cni0 ; addr show dev cni0.100');
  t.false(exec.script()[2]!.includes('cni0.100'));
});

test('a kernel without VLAN filtering: code 7 naming CONFIG_BRIDGE_VLAN_FILTERING; veth and reservation undone', async (t) => {
  const exec = new ScriptedExec({
    node: NODE,
    pod: POD,
    ipam: { cniVersion: '1.0.0', ips: [{ address: '10.1.0.2/24' }] },
    fail: (c) =>
      c.file === 'bridge'
        ? { status: 1, stderr: 'RTNETLINK answers: Operation not supported\nCommand failed -:1\n' }
        : undefined,
  });
  const e = await t.throwsAsync(
    async () => makeBridge(new FakeHost(['cni0'])).add(context(exec, { vlan: 5, ipam: { type: 'host-local' } })),
    { instanceOf: CniError },
  );
  t.is(e?.code, 7);
  t.is(
    e?.message,
    `failed to set the VLANs of ${VETH}: this kernel does not support bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)`,
  );
  t.deepEqual(exec.script().slice(-2), [`ip -j -batch - << link del dev ${VETH}`, 'IPAM DEL']);
});

test('a kernel refusing vlan_filtering on a new bridge fails before any veth exists', async (t) => {
  const exec = new ScriptedExec({
    node: NODE,
    pod: POD,
    fail: (c) =>
      c.input.includes('vlan_filtering')
        ? { status: 2, stderr: 'RTNETLINK answers: Operation not supported\nCommand failed -:1\n' }
        : undefined,
  });
  const e = await t.throwsAsync(async () => makeBridge(new FakeHost()).add(context(exec, { vlanTrunk: [{ id: 7 }] })), {
    instanceOf: CniError,
  });
  t.is(e?.code, 7);
  t.regex(e!.message, /^failed to create bridge "cni0": this kernel does not support bridge VLAN filtering/);
  t.is(exec.calls.length, 1);
});
