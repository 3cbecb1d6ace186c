// The built bandwidth plugin in a node netns, chained after our bridge: the tc state for
// runtimeConfig, containerd's capitalised keys and MaxUint32 bursts, and the pod annotations; CHECK;
// DEL leaving no ifb or qdisc (also without the netns, without prevResult, twice, and with a
// second ADD on the same veth); CHECK failing on changed shaping; the ifb and the chosen burst
// following the veth's MTU; refusals (code 7) that create nothing; GC and STATUS.
import anyTest, { type TestFn } from 'ava';
import { CniRuntime, binDir } from '@cni-ts/testutils';
import { ifbAlias, ifbName } from '../../src/index.js';
import {
  NETWORK,
  type World,
  addPod,
  bandwidth,
  bridgeConf,
  filters,
  ifbs,
  qdiscs,
  rootQdisc,
  tbfParams,
  vethOf,
  worldTest,
} from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'bw', 'bandwidth');

/** Nothing of bandwidth is left on the veth (its default root again) and no ifb exists. */
async function assertClean(t: import('ava').ExecutionContext, w: World, veth: string) {
  t.deepEqual(await ifbs(w), [], 'no ifb is left');
  const q = await qdiscs(w, veth);
  t.false(
    q.some((x) => x.kind === 'tbf' || x.kind === 'ingress'),
    `no tbf or ingress qdisc on ${veth}: ${JSON.stringify(q)}`,
  );
}

test('runtimeConfig limits: tbf on the veth, ingress qdisc and redirect to an ifb with its own tbf; CHECK; DEL cleans', async (t) => {
  const { w } = t.context;
  const pod = await addPod(w, 'a');
  const veth = vethOf(pod);
  // 10 Mbit/s with 100 kbit towards the pod, 5 Mbit/s with 50 kbit from it
  const conf = {
    runtimeConfig: { bandwidth: { ingressRate: 10e6, ingressBurst: 100e3, egressRate: 5e6, egressBurst: 50e3 } },
  };
  const r = await bandwidth(w, 'ADD', pod, conf);
  t.is(r.exitCode, 0, r.stdout + r.stderr);
  const ifb = ifbName(NETWORK, pod.id);
  // upstream's arithmetic by hand: rate = bits/8, limit = rate·25 ms + burst, buffer = µs of burst · 15.625
  t.deepEqual(tbfParams(await rootQdisc(w, veth)), { rate: 1_250_000, limit: 31_250 + 12_500, buffer: 156_250 });
  t.deepEqual(tbfParams(await rootQdisc(w, ifb)), { rate: 625_000, limit: 15_625 + 6_250, buffer: 156_250 });
  t.true((await qdiscs(w, veth)).some((q) => q.kind === 'ingress' && q.handle === 'ffff:' && q.parent === 'ffff:fff1'));
  const [f, ...more] = await filters(w, veth);
  t.deepEqual(more, []);
  t.like(f, { protocol: 'all', pref: 1, kind: 'u32', options: { flowid: '1:1', match: { value: '0', mask: '0' } } });
  t.like(f.options.actions[0], {
    kind: 'mirred',
    mirred_action: 'redirect',
    direction: 'egress',
    to_dev: ifb,
    control_action: { type: 'stolen' },
  });
  const [link] = await ifbs(w);
  t.like(link, { ifname: ifb, mtu: 1500, ifalias: ifbAlias(NETWORK, pod.id), operstate: 'UNKNOWN' });
  t.is(link.txqlen ?? 0, 0, 'no transmit queue (ip -j omits txqlen when it is 0)');
  t.true(link.flags.includes('UP'));
  // the result is prevResult with the ifb appended
  t.deepEqual(r.json.interfaces.at(-1), { mac: link.address, name: ifb });
  t.deepEqual(r.json.interfaces.slice(0, -1), pod.result.interfaces);

  const check = await bandwidth(w, 'CHECK', pod, conf, { prevResult: r.json });
  t.is(check.exitCode, 0, check.stdout);
  const del = await bandwidth(w, 'DEL', pod, conf, { prevResult: r.json });
  t.is(del.exitCode, 0, del.stdout);
  await assertClean(t, w, veth);
});

test("the seed's conflist at 0.4.0 with containerd's capability (IngressRate…, 4294967295 bursts): our burst, not a 171-second bucket", async (t) => {
  const { w } = t.context;
  const ns = await w.node.addPod('web');
  const list = {
    cniVersion: '0.4.0',
    name: NETWORK,
    plugins: [
      { type: 'bridge', bridge: 'cni0', isGateway: true, ipam: bridgeConf(w).ipam as Record<string, unknown> },
      { type: 'bandwidth', capabilities: { bandwidth: true } },
    ],
  };
  const rt = new CniRuntime({ cniPath: [binDir], inNetns: w.node.node.name });
  const bw = { IngressRate: 1e6, IngressBurst: 4294967295, EgressRate: 1e6, EgressBurst: 4294967295 };
  const a = { containerId: 'web', netns: ns.path, ifname: 'eth0', capabilityArgs: { bandwidth: bw } };
  const result = await rt.add(list, a);
  t.is(result.cniVersion, '0.4.0');
  const veth = result.interfaces.find((i: any) => i.name.startsWith('veth')).name;
  // 1 Mbit/s: burst 2 packets of 1514 B (24224 µs); queue 4 packets besides it (25 ms would be 3125 B)
  const want = { rate: 125_000, limit: 3028 + 4 * 1514, buffer: 378_500 };
  t.deepEqual(tbfParams(await rootQdisc(w, veth)), want);
  t.deepEqual(tbfParams(await rootQdisc(w, ifbName(NETWORK, 'web'))), want);
  await rt.check(list, a);
  await rt.del(list, a);
  t.deepEqual(await ifbs(w), []);
});

test("the pod annotations through the runtime (the seed's kubernetes.io/{ingress,egress}-bandwidth: 1M), as containerd passes them", async (t) => {
  const { w } = t.context;
  const ns = await w.node.addPod('web');
  const list = {
    cniVersion: '1.0.0',
    name: NETWORK,
    plugins: [
      { type: 'bridge', bridge: 'cni0', isGateway: true, ipam: bridgeConf(w).ipam as Record<string, unknown> },
      { type: 'bandwidth', capabilities: { bandwidth: true, 'io.kubernetes.cri.pod-annotations': true } },
    ],
  };
  const rt = new CniRuntime({ cniPath: [binDir], inNetns: w.node.node.name });
  const annotations = { 'kubernetes.io/ingress-bandwidth': '1M', 'kubernetes.io/egress-bandwidth': '1M', other: 'a b' };
  const a = {
    containerId: 'web',
    netns: ns.path,
    ifname: 'eth0',
    capabilityArgs: { 'io.kubernetes.cri.pod-annotations': annotations },
  };
  const result = await rt.add(list, a);
  const veth = result.interfaces.find((i: any) => i.name.startsWith('veth')).name;
  const want = { rate: 125_000, limit: 9084, buffer: 378_500 };
  t.deepEqual(tbfParams(await rootQdisc(w, veth)), want);
  t.deepEqual(tbfParams(await rootQdisc(w, ifbName(NETWORK, 'web'))), want);
  await rt.check(list, a);
  await rt.del(list, a);
  t.deepEqual(await ifbs(w), []);
});

test('ADD, DEL, ADD on a surviving veth works; DEL twice, without prevResult and after the netns is gone all succeed', async (t) => {
  const { w } = t.context;
  const pod = await addPod(w, 'a');
  const veth = vethOf(pod);
  const conf = { ingressRate: 8e6, ingressBurst: 80e3, egressRate: 8e6, egressBurst: 80e3 };
  for (let round = 0; round < 2; round++) {
    const r = await bandwidth(w, 'ADD', pod, conf);
    t.is(r.exitCode, 0, `ADD #${round + 1}: ${r.stdout}`);
    t.is((await bandwidth(w, 'DEL', pod, conf)).exitCode, 0);
    await assertClean(t, w, veth);
  }
  t.is((await bandwidth(w, 'DEL', pod, conf)).exitCode, 0, 'a second DEL');
  // DEL without prevResult finds the veth from the kernel
  t.is((await bandwidth(w, 'ADD', pod, conf)).exitCode, 0);
  const noPrev = await bandwidth(w, 'DEL', pod, conf, { prevResult: undefined });
  t.is(noPrev.exitCode, 0, noPrev.stdout);
  await assertClean(t, w, veth);
  // DEL after the sandbox is gone: the veth went with it, the ifb is removed
  t.is((await bandwidth(w, 'ADD', pod, conf)).exitCode, 0);
  await w.node.removePod(pod.ns);
  const gone = await bandwidth(w, 'DEL', pod, { egressRate: 'changed since' });
  t.is(gone.exitCode, 0, gone.stdout);
  t.deepEqual(await ifbs(w), []);
});

test("a second ADD of the same attachment replaces the first one's shaping", async (t) => {
  const { w } = t.context;
  const pod = await addPod(w, 'a');
  t.is(
    (await bandwidth(w, 'ADD', pod, { ingressRate: 8e6, ingressBurst: 80e3, egressRate: 8e6, egressBurst: 80e3 }))
      .exitCode,
    0,
  );
  const again = await bandwidth(w, 'ADD', pod, {
    ingressRate: 16e6,
    ingressBurst: 80e3,
    egressRate: 16e6,
    egressBurst: 80e3,
  });
  t.is(again.exitCode, 0, again.stdout);
  t.is(tbfParams(await rootQdisc(w, vethOf(pod)))?.rate, 2e6);
  t.is(tbfParams(await rootQdisc(w, ifbName(NETWORK, pod.id)))?.rate, 2e6);
  t.is((await filters(w, vethOf(pod))).length, 1);
});

test('refusals create nothing: values out of range or malformed (code 7, each with its message), a malformed annotation, a burst without a rate, a non-veth container interface', async (t) => {
  const { w } = t.context;
  const pod = await addPod(w, 'a');
  const veth = vethOf(pod);
  const bad = await bandwidth(w, 'ADD', pod, {
    runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { 'kubernetes.io/egress-bandwidth': '1Mbit' } },
  });
  t.is(bad.exitCode, 1);
  t.is(bad.json.code, 7);
  t.regex(bad.json.msg, /kubernetes\.io\/egress-bandwidth="1Mbit"/);
  const burst = await bandwidth(w, 'ADD', pod, { runtimeConfig: { bandwidth: { EgressBurst: 8000 } } });
  t.is(burst.json.code, 7);
  t.regex(burst.json.msg, /egressBurst is set \(8000 bits\) but runtimeConfig\.bandwidth\.egressRate is not/);
  // values the plugin refuses with code 7 before it creates anything, through the built executable
  const refused: Array<[Record<string, unknown>, RegExp]> = [
    [{ ingressRate: -1, ingressBurst: 8000 }, /^invalid ingressRate: -1 is negative$/],
    [{ ingressRate: 1.5e6, ingressBurst: 1.5 }, /^invalid ingressBurst: 1\.5 is not a whole number$/],
    [{ egressRate: '1M', egressBurst: 8000 }, /^invalid egressRate: expected a number, got "1M"$/],
    [{ egressRate: 1e6, egressBurst: 2 ** 53 }, /^invalid egressBurst: 9007199254740992 is too large$/],
    [{ egressRate: 7, egressBurst: 8000 }, /^egressRate of 7 bit\/s is below tc's smallest rate$/],
    [{ ingressRate: 8000, ingressBurst: 7 }, /^ingressBurst of 7 bits is below one byte$/],
    [{ ingressRate: 1e9, ingressBurst: 8 * 2 ** 32 }, /^burst cannot be more than 4GB$/],
    [
      { ingressRate: 1000, ingressBurst: 4e6 },
      /^ingressBurst of 4000000 bits lasts 4000\.0 s at 1000 bit\/s, more than tc can hold$/,
    ],
    [{ ingressRate: 2e12, ingressBurst: 8000 }, /^ingressRate of 2000000000000 bit\/s is too large for tc$/],
    [
      { runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { 'kubernetes.io/ingress-bandwidth': '999' } } },
      /^invalid pod annotation kubernetes\.io\/ingress-bandwidth="999": resource is unreasonably small \(< 1kbit\)$/,
    ],
  ];
  for (const [conf, msg] of refused) {
    const r = await bandwidth(w, 'ADD', pod, conf);
    t.is(r.exitCode, 1, JSON.stringify(conf));
    t.is(r.json?.code, 7, `${JSON.stringify(conf)}: ${r.stdout}`);
    t.regex(r.json.msg, msg);
  }
  await assertClean(t, w, veth);

  // a pod whose eth0 is not a veth (an ifb stands in: this kernel has neither macvlan nor dummy)
  const odd = await w.node.addPod('odd');
  await odd.exec('ip', ['link', 'add', 'name', 'eth0', 'type', 'ifb']);
  const prev = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: odd.path }] };
  const r = await bandwidth(
    w,
    'ADD',
    { ns: odd, id: 'odd', ip: '', result: prev },
    { ingressRate: 8e6, ingressBurst: 8e4 },
  );
  t.is(r.json.code, 7, r.stdout);
  t.regex(r.json.msg, /container interface eth0 is not a veth \(it is ifb\): bandwidth shapes veth pairs only/);
  await assertClean(t, w, veth);
});

test("CHECK on the kernel's state fails with code 100 once the shaping was changed behind the plugin's back; DEL still cleans", async (t) => {
  const { w } = t.context;
  const pod = await addPod(w, 'a');
  const veth = vethOf(pod);
  const conf = { ingressRate: 8e6, ingressBurst: 80e3, egressRate: 8e6, egressBurst: 80e3 };
  const r = await bandwidth(w, 'ADD', pod, conf);
  t.is(r.exitCode, 0, r.stdout);
  const ifb = ifbName(NETWORK, pod.id);
  const check = () => bandwidth(w, 'CHECK', pod, conf, { prevResult: r.json });
  t.is((await check()).exitCode, 0);
  // an operator doubles the rate towards the pod
  await w.node.node.exec('tc', [
    'qdisc',
    'replace',
    'dev',
    veth,
    'root',
    'handle',
    '1:',
    'tbf',
    'rate',
    '2000000Bps',
    'burst',
    '10000',
    'limit',
    '35000',
  ]);
  const rate = await check();
  t.is(rate.json?.code, 100, rate.stdout);
  t.is(rate.json.msg, `the tbf on host veth ${veth} does not match the configured limit`);
  t.regex(
    rate.json.details,
    /found tbf 1: rate 2000000 B\/s .*; expected rate 1000000 B\/s limit 35000 B buffer 156250 ticks/,
  );
  // … the redirect to the ifb goes (ADD again first: ADD replaces its own shaping)
  t.is((await bandwidth(w, 'ADD', pod, conf)).exitCode, 0);
  t.is((await check()).exitCode, 0);
  await w.node.node.exec('tc', ['filter', 'del', 'dev', veth, 'parent', 'ffff:']);
  const redirect = await check();
  t.is(redirect.json?.code, 100, redirect.stdout);
  t.is(redirect.json.msg, `no filter on ${veth} redirects to ${ifb}`);
  // … the ifb goes
  await w.node.node.exec('ip', ['link', 'del', ifb]);
  const gone = await check();
  t.is(gone.json?.code, 100, gone.stdout);
  t.is(gone.json.msg, `ifb device ${ifb} is missing`);
  // DEL takes off what is left (the tbf, the ingress qdisc without its filter), so ADD works again
  t.is((await bandwidth(w, 'DEL', pod, conf, { prevResult: r.json })).exitCode, 0);
  await assertClean(t, w, veth);
  const again = await bandwidth(w, 'ADD', pod, conf);
  t.is(again.exitCode, 0, again.stdout);
  t.is((await bandwidth(w, 'DEL', pod, conf, { prevResult: again.json })).exitCode, 0);
  await assertClean(t, w, veth);
});

test("the ifb takes the host veth's MTU, and the chosen burst and queue follow it (a bridge with MTU 1400)", async (t) => {
  const { w } = t.context;
  const pod = await addPod(w, 'a', '1.0.0', { mtu: 1400 });
  const veth = vethOf(pod);
  const r = await bandwidth(w, 'ADD', pod, { runtimeConfig: { bandwidth: { ingressRate: 1e6, egressRate: 1e6 } } });
  t.is(r.exitCode, 0, r.stdout);
  const [link] = await ifbs(w);
  t.is(link.mtu, 1400);
  // 1 Mbit/s: burst 2 packets of 1400 + 14 B = 2828 B (22 624 µs = 353 500 ticks); queue 4 packets besides it
  const want = { rate: 125_000, limit: 2828 + 4 * 1414, buffer: 353_500 };
  t.deepEqual(tbfParams(await rootQdisc(w, veth)), want);
  t.deepEqual(tbfParams(await rootQdisc(w, link.ifname)), want);
  t.is((await bandwidth(w, 'DEL', pod, {}, { prevResult: r.json })).exitCode, 0);
  await assertClean(t, w, veth);
});

test('GC removes the ifb of an attachment the runtime no longer has; STATUS says the node can shape', async (t) => {
  const { w } = t.context;
  const a = await addPod(w, 'a');
  const b = await addPod(w, 'b');
  const conf = { cniVersion: '1.1.0', egressRate: 8e6, egressBurst: 80e3 };
  t.is((await bandwidth(w, 'ADD', a, conf, { cniVersion: '1.1.0' })).exitCode, 0);
  t.is((await bandwidth(w, 'ADD', b, conf, { cniVersion: '1.1.0' })).exitCode, 0);
  const valid = [{ containerID: b.id, ifname: 'eth0' }];
  const gc = await bandwidth(
    w,
    'GC',
    a,
    { ...conf, 'cni.dev/valid-attachments': valid },
    { cniVersion: '1.1.0', prevResult: undefined, netns: '' },
  );
  t.is(gc.exitCode, 0, gc.stdout);
  t.deepEqual(
    (await ifbs(w)).map((l) => l.ifname),
    [ifbName(NETWORK, b.id)],
  );
  const status = await bandwidth(w, 'STATUS', a, conf, { cniVersion: '1.1.0', prevResult: undefined, netns: '' });
  t.is(status.exitCode, 0, status.stdout);
});
