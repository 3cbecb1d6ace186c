// Golden tests of ADD: the exact ip and tc text, the processes it takes, what it refuses before
// anything is created, and what a failure takes back.
import test from 'ava';
import type { Call } from '@cni-ts/testutils';
import { type CniError, type Result, parseResult } from '@cni-ts/types';
import { ifbName, makeBandwidth } from '../src/index.js';
import { hostSideNames, rawHostSideNames } from '../src/observe.js';
import { FakeHost, NETNS, type Scenario, ScriptedExec, context } from './helpers.js';

const IFB = ifbName('bwnet', 'c1'); // bwp459546d14214
const PREV = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: NETNS }],
  ips: [{ address: '10.22.0.2/24', interface: 2 }],
};
const NODE: Scenario = {
  pod: { eth0: { ifindex: 2, kind: 'veth', peer: 9 } },
  node: { cni0: { ifindex: 3, kind: 'bridge' }, veth1: { ifindex: 9, kind: 'veth', peer: 2 } },
};
const CRI = { IngressRate: 1_000_000, IngressBurst: 4294967295, EgressRate: 1_000_000, EgressBurst: 4294967295 };

// what /sys/class/net shows of the node's links (the real plugin reads it without a process)
const SYSFS = { cni0: { ifindex: '3', iflink: '3', mtu: '1500' }, veth1: { ifindex: '9', iflink: '2', mtu: '1500' } };

async function add(config: Record<string, unknown>, s: Scenario = NODE, links = ['lo', 'cni0', 'veth1'], sysfs = {}) {
  const exec = new ScriptedExec(s);
  const host = new FakeHost(links, sysfs);
  let result: Result | undefined;
  let error: CniError | undefined;
  try {
    result = await makeBandwidth(host).add(context(exec, config));
  } catch (e) {
    error = e as CniError;
  }
  return { exec, result, error, lines: exec.lines(), listed: host.listed };
}

const TBF_1M = 'tbf rate 125000Bps burst 3028 limit 9084'; // 1 Mbit/s, our burst (2 × 1514 B) and queue (4 × 1514 B)

test("ADD from containerd's capability (CRI keys, MaxUint32 bursts): three processes, the exact ip and tc text", async (t) => {
  const { lines, result, error, listed } = await add(
    { runtimeConfig: { bandwidth: CRI }, prevResult: PREV },
    NODE,
    undefined,
    SYSFS,
  );
  t.is(error, undefined);
  t.deepEqual(lines, [
    `nsenter --net=${NETNS} -- ip -d -j -batch - << link show dev eth0`,
    `ip -j -batch - << link add name ${IFB} mtu 1500 txqueuelen 0 type ifb ; link set dev ${IFB} alias cni-ts/bandwidth:bwnet:c1 up ; link show dev ${IFB}`,
    `tc -batch - << qdisc add dev ${IFB} root handle 1: ${TBF_1M} ; qdisc add dev veth1 handle ffff: ingress ; filter add dev veth1 parent ffff: protocol all prio 1 u32 match u32 0 0 flowid 1:1 action mirred egress redirect dev ${IFB} ; qdisc add dev veth1 root handle 1: ${TBF_1M}`,
  ]);
  // prevResult, with the ifb appended (as upstream)
  t.deepEqual(
    result?.interfaces?.map((i) => i.name),
    ['cni0', 'veth1', 'eth0', IFB],
  );
  t.deepEqual(result?.ips, PREV.ips);
  t.is(listed, 0, "the node's list of links (it grows with the pods) is never read");
});

test('ADD of an ingress limit alone: two processes, no ifb', async (t) => {
  const { lines, result } = await add(
    { ingressRate: 8000, ingressBurst: 80, prevResult: PREV },
    NODE,
    undefined,
    SYSFS,
  );
  t.deepEqual(lines.slice(1), ['tc -batch - << qdisc add dev veth1 root handle 1: tbf rate 1000Bps burst 10 limit 35']);
  t.deepEqual(
    result?.interfaces?.map((i) => i.name),
    ['cni0', 'veth1', 'eth0'],
  );
});

test("ADD reads the host interfaces with one ip process when sysfs does not show the veth peer (another netns's sysfs)", async (t) => {
  const elsewhere = { veth1: { ifindex: '4', iflink: '17', mtu: '1500' } };
  const { lines, error } = await add(
    { ingressRate: 8000, ingressBurst: 80, prevResult: PREV },
    NODE,
    undefined,
    elsewhere,
  );
  t.is(error, undefined);
  // the host interface listed right before the pod's alone (each link shown costs requests), not the bridge
  t.deepEqual(lines.slice(1), [
    'ip -d -j -batch - << link show dev veth1',
    'tc -batch - << qdisc add dev veth1 root handle 1: tbf rate 1000Bps burst 10 limit 35',
  ]);
});

test("ADD when prevResult names a host interface that is gone: the node's links are read then, and the veth is found among those left; names no link can have are never looked up", async (t) => {
  const prevResult = {
    ...PREV,
    interfaces: [
      { name: 'veth1' },
      { name: '../../../etc' },
      { name: 'x#y' },
      { name: `"x'` },
      { name: 'v"' }, // ip's "Device "v"" does not exist." is not read as missing
      { name: 'gone0' },
      { name: 'eth0', sandbox: NETNS },
    ],
  };
  const host = new FakeHost(['lo', 'cni0', 'veth1']);
  const read: string[] = [];
  const readLinkAttr = host.readLinkAttr.bind(host);
  host.readLinkAttr = (name, attr) => {
    read.push(name);
    return readLinkAttr(name, attr);
  };
  let listed = 0;
  const linkNames = host.linkNames.bind(host);
  host.linkNames = () => {
    listed++;
    return linkNames();
  };
  const exec = new ScriptedExec(NODE);
  await makeBandwidth(host).add(context(exec, { ingressRate: 8000, ingressBurst: 80, prevResult }));
  // gone0, listed right before the pod's interface, is asked for first, alone
  t.deepEqual(exec.lines().slice(1), [
    'ip -d -j -batch - << link show dev gone0',
    'ip -d -j -batch - << link show dev veth1 ; link show dev v"',
    'ip -d -j -batch - << link show dev veth1',
    'tc -batch - << qdisc add dev veth1 root handle 1: tbf rate 1000Bps burst 10 limit 35',
  ]);
  t.deepEqual([...new Set(read)], ['gone0', 'veth1', 'v"']);
  // after each refused batch (gone0; v"), and for an ifb of an earlier ADD (an ingress-only plan creates none)
  t.is(listed, 3);
});

test('a prevResult naming only host interfaces no batch can name is refused as naming no veth peer (code 7), nothing run', async (t) => {
  const prevResult = { ...PREV, interfaces: [{ name: 'x#y' }, { name: `"x'` }, { name: 'eth0', sandbox: NETNS }] };
  const { error, lines } = await add({ ingressRate: 8000, ingressBurst: 80, prevResult });
  t.is(error?.code, 7);
  t.regex(error!.message, /no veth peer of container interface found in host ns/);
  t.is(lines.length, 1); // the pod's interface
});

test('the host veth is looked for first among the host interfaces where bridge and ptp list it: right before the pod interface', (t) => {
  const ifs = (...l: Array<string | [string, string]>) => ({
    cniVersion: '1.0.0',
    interfaces: l.map((i) => (typeof i === 'string' ? { name: i } : { name: i[0], sandbox: i[1] })),
  });
  const cases: Array<[ReturnType<typeof ifs>, string[]]> = [
    [ifs('cni0', 'veth1', ['eth0', NETNS]), ['veth1', 'cni0']], // bridge
    [ifs('veth1', ['eth0', NETNS]), ['veth1']], // ptp
    [ifs('cni0', 'veth1', ['eth0', NETNS], IFB), ['veth1', 'cni0', IFB]], // bandwidth's own result (DEL)
    [ifs(['eth0', NETNS], 'cni0'), ['cni0']],
    [ifs('a', 'b'), ['a', 'b']],
  ];
  for (const [prev, want] of cases) {
    t.deepEqual(hostSideNames(parseResult(prev, '1.0.0')), want);
    t.deepEqual(rawHostSideNames(prev), want);
  }
  t.deepEqual(rawHostSideNames({ interfaces: [7, { name: 5 }, { name: 'v' }, { name: 'e', sandbox: 'x' }] }), ['v']);
});

test("ADD with an explicit burst hands tc the burst whose kernel buffer is the Go plugin's (10 Mbit/s, 100 kbit)", async (t) => {
  const { lines } = await add({ egressRate: 10_000_000, egressBurst: 100_000, prevResult: PREV });
  t.regex(lines[3]!, new RegExp(`qdisc add dev ${IFB} root handle 1: tbf rate 1250000Bps burst 12500 limit 43750 ;`));
});

test("ADD from the pod annotations (the seed's 1M example)", async (t) => {
  const ann = { 'kubernetes.io/ingress-bandwidth': '1M', 'kubernetes.io/egress-bandwidth': '1M' };
  const { lines } = await add({ runtimeConfig: { 'io.kubernetes.cri.pod-annotations': ann }, prevResult: PREV });
  t.true(lines[3]!.endsWith(`qdisc add dev veth1 root handle 1: ${TBF_1M}`), lines[3]);
});

test('ADD without limits passes prevResult through and runs nothing', async (t) => {
  const { lines, result } = await add({
    runtimeConfig: { bandwidth: { IngressRate: 0, EgressRate: 0 } },
    prevResult: PREV,
  });
  t.deepEqual(lines, []);
  t.deepEqual(result?.interfaces?.length, 3);
});

test('ADD refuses, before creating anything: no prevResult, a non-veth pod interface, a peer prevResult does not name', async (t) => {
  const none = await add({ ingressRate: 8000, ingressBurst: 80 });
  t.is(none.error?.code, 7);
  t.regex(none.error!.message, /must be called as chained plugin/);
  t.deepEqual(none.lines, []);

  const macvlan = await add(
    { ingressRate: 8000, ingressBurst: 80, prevResult: PREV },
    { ...NODE, pod: { eth0: { ifindex: 2, kind: 'macvlan', peer: 4 } } },
  );
  t.is(macvlan.error?.code, 7);
  t.regex(macvlan.error!.message, /eth0 is not a veth \(it is macvlan\): bandwidth shapes veth pairs only/);
  t.is(macvlan.lines.length, 1);

  const other = await add({
    ingressRate: 8000,
    ingressBurst: 80,
    prevResult: { ...PREV, interfaces: [{ name: 'cni0' }, { name: 'eth0', sandbox: NETNS }] },
  });
  t.is(other.error?.code, 7);
  t.regex(other.error!.message, /no veth peer of container interface found in host ns/);
  t.false(other.lines.some((l) => / add /.test(l)));
});

test('ADD refuses limits tc cannot hold, before creating anything', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [
      { ingressRate: 1000, ingressBurst: 4_000_000 },
      /ingressBurst of 4000000 bits lasts 4000.0 s at 1000 bit\/s, more than tc can hold/,
    ],
    [{ egressRate: 1e6, egressBurst: 8 * 4294967295 }, /burst cannot be more than 4GB/],
    [{ egressRate: 7, egressBurst: 8 }, /egressRate of 7 bit\/s is below tc's smallest rate/],
    [{ ingressRate: 8000, ingressBurst: 7 }, /ingressBurst of 7 bits is below one byte/],
    [{ ingressRate: 2e12, ingressBurst: 8000 }, /ingressRate of 2000000000000 bit\/s is too large for tc/],
  ];
  for (const [limits, re] of cases) {
    const r = await add({ ...limits, prevResult: PREV });
    t.is(r.error?.code, 7, JSON.stringify(limits));
    t.regex(r.error!.message, re);
    t.false(
      r.lines.some((l) => / add /.test(l)),
      `nothing created for ${JSON.stringify(limits)}`,
    );
  }
});

test('ADD whose tc batch fails takes back what it made: the ifb (its tbf goes with it), then the veth qdiscs before the failing line', async (t) => {
  const fail = (c: Call) =>
    c.file === 'tc' && !c.args.includes('-force')
      ? {
          stderr:
            'RTNETLINK answers: Operation not supported\nWe have an error talking to the kernel\nCommand failed -:3\n',
        }
      : undefined;
  const { lines, error } = await add({ runtimeConfig: { bandwidth: CRI }, prevResult: PREV }, { ...NODE, fail });
  t.is(error?.code, 999);
  t.regex(
    error!.message,
    /failed to set up traffic shaping on veth1: tc filter add dev veth1 .*Operation not supported/,
  );
  t.deepEqual(lines.slice(4), [
    `ip -j -batch - << link del dev ${IFB}`,
    'tc -force -batch - << qdisc del dev veth1 handle ffff: ingress',
  ]);
});

test('ADD over the leftovers of an earlier ADD of the same attachment finds its ifb by creating it, removes them, and adds again', async (t) => {
  const s: Scenario = {
    ...NODE,
    node: { ...NODE.node, [IFB]: { ifindex: 20, kind: 'ifb' } },
    tc: {
      'qdisc show dev veth1': [
        { kind: 'tbf', handle: '1:', root: true, options: { rate: 125000, burst_raw: '5c684', limit: 6153 } },
        { kind: 'ingress', handle: 'ffff:', parent: 'ffff:fff1', options: {} },
      ],
      'filter show dev veth1 parent ffff:': [
        {
          kind: 'u32',
          pref: 1,
          protocol: 'all',
          options: { fh: '800::800', actions: [{ kind: 'mirred', mirred_action: 'redirect', to_dev: IFB }] },
        },
      ],
    },
  };
  const { lines, error } = await add({ runtimeConfig: { bandwidth: CRI }, prevResult: PREV }, s, [
    'cni0',
    'veth1',
    IFB,
  ]);
  t.is(error, undefined);
  const create = `ip -j -batch - << link add name ${IFB} mtu 1500 txqueuelen 0 type ifb ; link set dev ${IFB} alias cni-ts/bandwidth:bwnet:c1 up ; link show dev ${IFB}`;
  t.deepEqual(lines.slice(2, 7), [
    create, // File exists: nothing was made
    'tc -j -raw -batch - << qdisc show dev veth1 ; filter show dev veth1 parent ffff:',
    'tc -batch - << qdisc del dev veth1 root handle 1: ; qdisc del dev veth1 handle ffff: ingress',
    `ip -j -batch - << link del dev ${IFB}`,
    create,
  ]);
  t.regex(lines[7]!, /^tc -batch - << qdisc add dev bwp459546d14214 root handle 1: tbf/);
  t.is(lines.length, 8);
});

test('ADD of an ingress limit over an earlier ADD that shaped egress too: its ifb is looked for, found and removed', async (t) => {
  const s: Scenario = {
    ...NODE,
    node: { ...NODE.node, [IFB]: { ifindex: 20, kind: 'ifb' } },
    tc: { 'qdisc show dev veth1': [{ kind: 'tbf', handle: '1:', root: true, options: {} }] },
  };
  const { lines, error } = await add({ ingressRate: 8000, ingressBurst: 80, prevResult: PREV }, s, [
    'cni0',
    'veth1',
    IFB,
  ]);
  t.is(error, undefined);
  t.deepEqual(lines.slice(2), [
    'tc -j -raw -batch - << qdisc show dev veth1 ; filter show dev veth1 parent ffff:',
    'tc -batch - << qdisc del dev veth1 root handle 1:',
    `ip -j -batch - << link del dev ${IFB}`,
    'tc -batch - << qdisc add dev veth1 root handle 1: tbf rate 1000Bps burst 10 limit 35',
  ]);
});

test('ADD next to a root qdisc someone else made says so, and leaves it', async (t) => {
  const s: Scenario = {
    ...NODE,
    tc: { 'qdisc show dev veth1': [{ kind: 'htb', handle: '1:', root: true, options: {} }] },
    fail: (c) =>
      c.file === 'tc' && c.input.startsWith('qdisc add dev veth1 root')
        ? { stderr: 'Error: Exclusivity flag on, cannot modify.\nCommand failed -:1\n' }
        : undefined,
  };
  const { lines, error } = await add({ ingressRate: 8000, ingressBurst: 80, prevResult: PREV }, s);
  t.is(error?.code, 999);
  t.regex(error!.message, /veth1: it already has qdiscs that bandwidth did not create/);
  t.false(lines.some((l) => / del /.test(l)));
});

test("a chosen burst gets a queue of at least 4 packets besides it; above ~1.9 Mbit/s that is upstream's 25 ms", async (t) => {
  const line = async (rate: number) =>
    (await add({ ingressRate: rate, prevResult: PREV }, NODE, undefined, SYSFS)).lines[1]!.replace(
      /^tc -batch - << /,
      '',
    );
  // 1 Mbit/s: 25 ms would be 3125 B, fewer than two packets
  t.is(await line(1e6), 'qdisc add dev veth1 root handle 1: tbf rate 125000Bps burst 3028 limit 9084');
  // 10 Mbit/s: 10 ms burst (12500 B), 25 ms queue (31250 B) as upstream
  t.is(await line(1e7), 'qdisc add dev veth1 root handle 1: tbf rate 1250000Bps burst 12500 limit 43750');
  // an explicit burst keeps upstream's limit at any rate (so the qdisc is the Go plugin's)
  const explicit = await add({ ingressRate: 1e6, ingressBurst: 24224, prevResult: PREV }, NODE, undefined, SYSFS);
  t.is(explicit.lines[1], 'tc -batch - << qdisc add dev veth1 root handle 1: tbf rate 125000Bps burst 3028 limit 6153');
});
