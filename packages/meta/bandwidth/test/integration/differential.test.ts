// Differential tests: our dist/bin/bandwidth against Debian's Go bandwidth v1.1.1
// (/usr/lib/cni/bandwidth), each on its own pod of one node (both pods wired by our bridge), with
// the same runtimeConfig. The tc parameters must be identical (rate, limit, buffer of both tbfs;
// the ingress qdisc; the redirect filter), the ifbs alike, and each plugin's CHECK must pass on the
// other's state; each DEL removes the other's ifb. Where we differ on purpose the test asserts both
// sides: Go's filter carries a second, unreachable mirred action; its tbfs say "linklayer unspec";
// our ifb has an alias; a buffer tc cannot express (docs/bandwidth.md) is off by under a byte.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { existsSync } from 'node:fs';
import { ifbName } from '../../src/index.js';
import {
  GO,
  OURS,
  NETWORK,
  type Pod,
  type World,
  addPod,
  bandwidth,
  filters,
  ifbs,
  qdiscs,
  tbfParams,
  vethOf,
  worldTest,
} from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'bwd', 'bandwidth differential');
test.before((t) => {
  if (!existsSync(GO)) t.fail(`${GO} is missing: install Debian's containernetworking-plugins (.ci/run does)`);
});

/** The shaping of a pod, with names and random values made neutral. */
async function shaping(w: World, pod: Pod) {
  const veth = vethOf(pod);
  const ifb = ifbName(NETWORK, pod.id);
  const onVeth = await qdiscs(w, veth);
  const [link] = (await ifbs(w)).filter((l) => l.ifname === ifb);
  const [f] = await filters(w, veth);
  return {
    vethTbf: tbfParams(onVeth.find((q) => q.root && q.kind === 'tbf' && q.handle === '1:')),
    ingress: onVeth.filter((q) => q.kind === 'ingress').map((q) => `${q.handle} parent ${q.parent}`),
    ifbTbf: link ? tbfParams((await qdiscs(w, ifb)).find((q) => q.root && q.handle === '1:')) : undefined,
    ifb: link && {
      mtu: link.mtu,
      txqlen: link.txqlen ?? 0,
      flags: [...link.flags].sort(),
      operstate: link.operstate,
      queues: [link.num_tx_queues, link.num_rx_queues],
    },
    filter: f && {
      pref: f.pref,
      protocol: f.protocol,
      kind: f.kind,
      flowid: f.options.flowid,
      match: f.options.match,
      redirect: f.options.actions[0] && {
        ...f.options.actions[0],
        to_dev: f.options.actions[0].to_dev === ifb ? '<ifb>' : f.options.actions[0].to_dev,
        index: undefined,
      },
    },
  };
}

async function pair(w: World, conf: Record<string, unknown>) {
  const go = await addPod(w, 'g');
  const ours = await addPod(w, 'o');
  const rg = await bandwidth(w, 'ADD', go, conf, { plugin: GO });
  const ro = await bandwidth(w, 'ADD', ours, conf);
  if (rg.exitCode !== 0 || ro.exitCode !== 0) throw new Error(`ADD failed: Go ${rg.stdout} ours ${ro.stdout}`);
  return { go, ours, rg: rg.json, ro: ro.json };
}

const EXACT: Array<[string, Record<string, unknown>]> = [
  ['1 and 2 Mbit/s, 80 and 160 kbit', { ingressRate: 1e6, ingressBurst: 80e3, egressRate: 2e6, egressBurst: 160e3 }],
  ['1 Gbit/s, 100 Mbit/s with 1 Mbit', { ingressRate: 1e9, ingressBurst: 1e6, egressRate: 1e8, egressBurst: 1e6 }],
  [
    "containerd's keys, 10 Mbit/s and 500 Mbit/s with an odd burst",
    { IngressRate: 10e6, IngressBurst: 100_000, EgressRate: 500e6, EgressBurst: 12_345_678 },
  ],
];

for (const [what, bw] of EXACT) {
  test(`identical tc state for ${what}; each CHECK passes on the other's; each DEL removes the other's`, async (t) => {
    const { w } = t.context;
    const conf = { runtimeConfig: { bandwidth: bw } };
    const { go, ours, rg, ro } = await pair(w, conf);
    const [sg, so] = [await shaping(w, go), await shaping(w, ours)];
    t.truthy(so.vethTbf);
    t.truthy(so.ifbTbf);
    t.deepEqual(so, sg);
    // Go's filter has two mirred actions (RedirIndex and Actions in netlink's U32); ours has the one that acts
    t.is((await filters(w, vethOf(go)))[0].options.actions.length, 2);
    t.is((await filters(w, vethOf(ours)))[0].options.actions.length, 1);
    // results: each plugin's prevResult with its ifb appended, as {name, mac}
    for (const [r, pod] of [
      [rg, go],
      [ro, ours],
    ] as const) {
      t.deepEqual(r.interfaces.slice(0, -1), pod.result.interfaces);
      t.deepEqual(Object.keys(r.interfaces.at(-1)).sort(), ['mac', 'name']);
      t.is(r.interfaces.at(-1).name, ifbName(NETWORK, pod.id));
    }
    // our batch path (ip and tc processes: Node, CNI_TS_NETLINK=0) makes what the typed rtnetlink path makes
    const batch = await addPod(w, 'b');
    const rb = await bandwidth(w, 'ADD', batch, conf, { env: { CNI_TS_NETLINK: '0' } });
    t.is(rb.exitCode, 0, rb.stdout);
    t.deepEqual(await shaping(w, batch), so);
    t.deepEqual(await rawState(w, batch), await rawState(w, ours));
    t.is((await bandwidth(w, 'DEL', batch, conf, { prevResult: rb.json })).exitCode, 0);
    await crossCheck(t, w, conf, go, ours, rg, ro, true);
  });
}

// The kernel's whole account of a pod's shaping (tc -j -d qdisc show of the veth and the ifb, the
// veth's filters, ip -j -d link show of the ifb), its names, indices, MACs, alias and counters made neutral.
async function rawState(w: World, pod: Pod) {
  const veth = vethOf(pod);
  const ifb = ifbName(NETWORK, pod.id);
  const STATS = new Set(['bytes', 'packets', 'drops', 'overlimits', 'requeues', 'backlog', 'qlen']);
  const tcJson = async (args: string[]) =>
    JSON.parse(await w.node.node.exec('tc', ['-j', ...args])).map((o: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(o).filter(([k]) => !STATS.has(k))),
    );
  const [link] = (await ifbs(w)).filter((l) => l.ifname === ifb);
  const neutral = (x: unknown) =>
    JSON.parse(JSON.stringify(x).replaceAll(veth, '<veth>').replaceAll(ifb, '<ifb>').replaceAll(pod.id, '<id>'));
  return neutral({
    veth: await tcJson(['-d', 'qdisc', 'show', 'dev', veth]),
    ifb: await tcJson(['-d', 'qdisc', 'show', 'dev', ifb]),
    filters: (await tcJson(['filter', 'show', 'dev', veth, 'parent', 'ffff:'])).map((f: any) => ({
      ...f,
      options: f.options && {
        ...f.options,
        actions: f.options.actions?.map((a: any) => ({ ...a, index: undefined, ref: undefined, bind: undefined })),
      },
    })),
    link: link && { ...link, ifindex: undefined, address: undefined },
  });
}

async function crossCheck(
  t: ExecutionContext,
  w: World,
  conf: Record<string, unknown>,
  go: Pod,
  ours: Pod,
  rg: unknown,
  ro: unknown,
  goAcceptsOurs: boolean,
) {
  const oursOnGo = await bandwidth(w, 'CHECK', go, conf, { prevResult: rg });
  t.is(oursOnGo.exitCode, 0, `our CHECK on Go's state: ${oursOnGo.stdout}`);
  const goOnOurs = await bandwidth(w, 'CHECK', ours, conf, { plugin: GO, prevResult: ro });
  if (goAcceptsOurs) t.is(goOnOurs.exitCode, 0, `Go's CHECK on our state: ${goOnOurs.stdout}`);
  else t.regex(goOnOurs.json?.msg ?? '', /doesn't match/, "Go's CHECK refuses what it would not have made");
  // our DEL on Go's pod takes off everything; Go's DEL on ours removes the ifb (and leaves the veth's qdiscs
  // for the veth's own deletion, as upstream always does)
  t.is((await bandwidth(w, 'DEL', go, conf, { prevResult: rg })).exitCode, 0);
  t.deepEqual(await shaping(w, go), {
    vethTbf: undefined,
    ingress: [],
    ifbTbf: undefined,
    ifb: undefined,
    filter: undefined,
  });
  t.is((await bandwidth(w, 'DEL', ours, conf, { plugin: GO, prevResult: ro })).exitCode, 0);
  t.deepEqual(await ifbs(w), []);
}

test('a burst tc cannot express exactly (3 Mbit/s, 8000 bits): rate and limit identical, buffer within one byte', async (t) => {
  const { w } = t.context;
  const conf = { ingressRate: 3e6, ingressBurst: 8000, egressRate: 3e6, egressBurst: 8000 };
  const { go, ours, rg, ro } = await pair(w, conf);
  const [sg, so] = [await shaping(w, go), await shaping(w, ours)];
  t.deepEqual(sg.vethTbf, { rate: 375_000, limit: 10_375, buffer: 41_656 }); // 2666 whole µs
  t.deepEqual(so.vethTbf, { rate: 375_000, limit: 10_375, buffer: 41_666 }); // 2666.67 µs, in the kernel's ns
  t.deepEqual(so.ifbTbf, so.vethTbf);
  await crossCheck(t, w, conf, go, ours, rg, ro, false);
});

test("containerd's MaxUint32 bursts: Go keeps a wrapped 171-second bucket, we our burst; our CHECK accepts Go's", async (t) => {
  const { w } = t.context;
  const conf = {
    runtimeConfig: {
      bandwidth: { IngressRate: 1e6, IngressBurst: 4294967295, EgressRate: 1e6, EgressBurst: 4294967295 },
    },
  };
  const { go, ours, rg, ro } = await pair(w, conf);
  t.deepEqual((await shaping(w, go)).vethTbf, { rate: 125_000, limit: 536_874_036, buffer: 0x9fffff83 });
  t.deepEqual((await shaping(w, ours)).vethTbf, { rate: 125_000, limit: 9084, buffer: 378_500 });
  await crossCheck(t, w, conf, go, ours, rg, ro, false);
});

test('rate without a burst: Go refuses (code 999, kubernetes#70014); we shape with our burst', async (t) => {
  const { w } = t.context;
  const conf = { runtimeConfig: { bandwidth: { ingressRate: 1e6, egressRate: 1e6 } } };
  const go = await addPod(w, 'g');
  const ours = await addPod(w, 'o');
  const rg = await bandwidth(w, 'ADD', go, conf, { plugin: GO });
  t.is(rg.exitCode, 1);
  t.like(rg.json, { code: 999, msg: 'if rate is set, burst must also be set' });
  t.is((await bandwidth(w, 'ADD', ours, conf)).exitCode, 0);
  t.deepEqual((await shaping(w, ours)).ifbTbf, { rate: 125_000, limit: 9084, buffer: 378_500 });
});

// DEL where a root qdisc on the veth is someone else's (not our tbf 1:): Go's DEL never touches the
// veth, ours takes only our ingress side off (its root delete names tbf 1:, which the kernel
// checks). Where we mean to agree: the foreign root qdisc is left exactly as it was and the ifb goes,
// on Go's pod and ours, with either plugin's DEL; our DEL on Go's pod also takes Go's ingress side off.
for (const foreign of [
  ['handle', '1:', 'pfifo', 'limit', '77'],
  ['handle', '5:', 'tbf', 'rate', '1mbit', 'burst', '10k', 'latency', '10ms'],
]) {
  test(`DEL leaves someone else's root qdisc (${foreign.slice(1, 3).join(' ')}) as Go's does; the ifb goes either way`, async (t) => {
    const { w } = t.context;
    const conf = { runtimeConfig: { bandwidth: { egressRate: 2e6, egressBurst: 16e4 } } };
    const { go, ours, rg, ro } = await pair(w, conf);
    const goAgain = await addPod(w, 'h');
    const rh = await bandwidth(w, 'ADD', goAgain, conf, { plugin: GO });
    t.is(rh.exitCode, 0, rh.stdout);
    const pods: Array<[Pod, unknown, string]> = [
      [go, rg, GO], // Go's DEL on Go's pod
      [ours, ro, OURS], // ours on ours
      [goAgain, rh.json, OURS], // ours on Go's
    ];
    for (const [pod] of pods) await w.node.node.exec('tc', ['qdisc', 'add', 'dev', vethOf(pod), 'root', ...foreign]);
    const root = async (pod: Pod) => {
      const q = (await qdiscs(w, vethOf(pod))).find((x) => x.root);
      return q && { kind: q.kind, handle: q.handle, options: q.options };
    };
    const before = await Promise.all(pods.map(([p]) => root(p)));
    t.is(before[0]?.kind, foreign[2], 'the foreign root qdisc is there');
    t.deepEqual(before[1], before[0]);
    for (const [pod, prev, plugin] of pods) {
      const r = await bandwidth(w, 'DEL', pod, conf, { plugin, prevResult: prev });
      t.is(r.exitCode, 0, `${plugin === GO ? 'Go' : 'our'} DEL: ${r.stdout}`);
    }
    t.deepEqual(await Promise.all(pods.map(([p]) => root(p))), before, 'every root qdisc as it was');
    t.deepEqual(await ifbs(w), [], 'every ifb gone');
    const ingress = async (pod: Pod) => (await qdiscs(w, vethOf(pod))).filter((q) => q.kind === 'ingress').length;
    t.is(await ingress(go), 1, "Go's DEL leaves its ingress qdisc for the veth's deletion");
    t.is(await ingress(ours), 0, 'ours takes it off');
    t.is(await ingress(goAgain), 0, "and Go's too");
  });
}
