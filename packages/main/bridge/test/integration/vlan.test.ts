// VLANs. This project's CI kernel has no bridge VLAN filtering (docs/kernel.md): there the
// tests expect a clear CNI error and nothing left behind, and the traffic tests skip naming the
// missing support. On a kernel with VLAN filtering the traffic tests run for real.
import anyTest, { type TestFn } from 'ava';
import { isRoot } from '@cni-ts/testutils';
import {
  type World,
  worldTest,
  kernelHasVlanFiltering,
  linkNames,
  links,
  mustAdd,
  natRules,
  netConf,
  pings,
  reservations,
  run,
} from './kit.js';

// probing needs a netns, so only root probes (non-root skips every test anyway); ava wants
// tests and hooks declared after this await, not before it
const vlanOk = isRoot() && (await kernelHasVlanFiltering());
const test = worldTest(anyTest as TestFn<{ w: World }>, 'bl', 'bridge VLAN integration');
const MISSING =
  'this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING): VLAN traffic is tested where the kernel has it';
if (isRoot() && !vlanOk) process.stderr.write(`# SKIP VLAN traffic tests: ${MISSING}\n`);
const withVlans = vlanOk ? test : test.skip;
const withoutVlans = vlanOk ? test.skip : test;

/** A port's VLAN entries as [vid, flags], ranges expanded (`bridge -j vlan show` may print "vlanEnd"). */
async function portVlans(w: World, dev: string): Promise<Array<[number, string]>> {
  const doc = JSON.parse(await w.node.node.exec('bridge', ['-j', 'vlan', 'show', 'dev', dev])) as Array<{
    vlans?: Array<{ vlan: number; vlanEnd?: number; flags?: string[] }>;
  }>;
  const out: Array<[number, string]> = [];
  for (const v of doc[0]?.vlans ?? [])
    for (let id = v.vlan; id <= (v.vlanEnd ?? v.vlan); id++) out.push([id, (v.flags ?? []).join(',')]);
  return out.sort((x, y) => x[0] - y[0]);
}

withoutVlans(
  'no VLAN filtering in the kernel: vlan on a new bridge is a clear code-7 error, nothing created, reservation released',
  async (t) => {
    const { w } = t.context;
    const a = await w.node.addPod('a');
    const r = await run(w, 'ADD', a, netConf(w, { isGateway: true, ipMasq: true, vlan: 100 }));
    t.is(r.exitCode, 1);
    t.is(r.json.code, 7);
    t.is(
      r.json.msg,
      'failed to create bridge "cni0": this kernel does not support bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)',
    );
    t.regex(r.json.details, /remove "vlan"\/"vlanTrunk"/);
    t.notRegex(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
    t.deepEqual(await linkNames(w.node.node), ['lo']);
    t.deepEqual(await linkNames(a), ['lo']);
    t.deepEqual(reservations(w), []);
  },
);

withoutVlans(
  'no VLAN filtering in the kernel: a trunk on an existing bridge fails at the port; the veth is removed',
  async (t) => {
    const { w } = t.context;
    await w.node.node.exec('ip', ['link', 'add', 'cni0', 'type', 'bridge']);
    const a = await w.node.addPod('a');
    const r = await run(w, 'ADD', a, netConf(w, { ipMasq: true, vlanTrunk: [{ minID: 10, maxID: 20 }] }));
    t.deepEqual([r.exitCode, r.json.code], [1, 7]);
    t.regex(
      r.json.msg,
      /^failed to set the VLANs of veth[0-9a-f]{8}: this kernel does not support bridge VLAN filtering \(CONFIG_BRIDGE_VLAN_FILTERING\)$/,
    );
    t.deepEqual(await linkNames(w.node.node), ['lo', 'cni0']);
    t.deepEqual(await linkNames(a), ['lo']);
    t.deepEqual(await natRules(w.node.node), []);
    t.deepEqual(reservations(w), []);
  },
);

withVlans(
  'vlan: pods in the same VLAN talk, pods in different VLANs do not; the port carries the VLAN as PVID untagged',
  async (t) => {
    const { w } = t.context;
    const [a, b, c] = [await w.node.addPod('a'), await w.node.addPod('b'), await w.node.addPod('c')];
    const ra = await mustAdd(t, w, a, netConf(w, { vlan: 10 }), { containerId: 'a' });
    await mustAdd(t, w, b, netConf(w, { vlan: 10 }), { containerId: 'b' });
    await mustAdd(t, w, c, netConf(w, { vlan: 20 }), { containerId: 'c' });
    t.deepEqual(await portVlans(w, ra.interfaces[1].name), [[10, 'PVID,Egress Untagged']]);
    t.true(await pings(a, '10.22.0.3'));
    t.false(await pings(a, '10.22.0.4'));
  },
);

withVlans('vlanTrunk: tagged VLANs plus VLAN 1 native', async (t) => {
  const { w } = t.context;
  const a = await w.node.addPod('a');
  const r = await mustAdd(t, w, a, netConf(w, { vlanTrunk: [{ minID: 100, maxID: 102 }, { id: 200 }] }));
  t.deepEqual(await portVlans(w, r.interfaces[1].name), [
    [1, 'PVID,Egress Untagged'],
    [100, ''],
    [101, ''],
    [102, ''],
    [200, ''],
  ]);
});

withVlans('vlan with isGateway: the gateway lives on <bridge>.<vlan>, reachable from the pod', async (t) => {
  const { w } = t.context;
  const a = await w.node.addPod('a');
  const r = await mustAdd(t, w, a, netConf(w, { vlan: 30, isGateway: true }));
  t.is(r.interfaces[3].name, 'cni0.30');
  const gw = (await links(w.node.node)).find((l) => l.ifname === 'cni0.30');
  t.true(gw.addr_info.some((x: any) => x.local === '10.22.0.1'));
  t.true(await pings(a, '10.22.0.1'));
});
