// Validate before mutate: on a fresh node (no bridge, no chains yet; for bandwidth, a node whose
// only pod was just wired by the bridge), an ADD that will be refused is refused before it changes
// anything — no bridge, no veth, no shared chain or nft table, no ifb, no qdisc, no reservation —
// whatever makes it fail: the config, the environment, the netns, the prevResult, the IPAM plugin,
// the limits or the pod's interface.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { binDir, ourPlugin, rootTest, sh } from '@cni-ts/testutils';
import {
  type World,
  contractProblems,
  diffState,
  dropWorld,
  invoke,
  makeWorld,
  wirePod,
  worldState,
} from '../../src/index.js';

const rt = rootTest(test, 'hardening/validate-first');
const worlds: World[] = [];
rt.after.always(async () => {
  for (const w of worlds) await dropWorld(w);
});

interface Case {
  what: string;
  type: string;
  conf: (w: World) => Record<string, unknown>;
  env?: (w: World) => Record<string, string | undefined>;
  /** Wire the pod with the bridge first (bandwidth needs a real veth), then take the snapshot. */
  wired?: boolean;
  /** Something else on the node before the snapshot (a qdisc someone else made). */
  prepare?: (w: World) => Promise<void>;
  code: number;
}

const ipam = (w: World, extra: Record<string, unknown> = {}) => ({
  type: 'host-local',
  ranges: [[{ subnet: '10.77.0.0/24' }]],
  dataDir: w.dataDir,
  ...extra,
});
const bridge = (w: World, extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0',
  name: 'hdnet',
  type: 'bridge',
  bridge: 'hd0',
  isGateway: true,
  ipMasq: true,
  ipam: ipam(w),
  ...extra,
});
const prev = (w: World) => ({
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: w.pod.path }],
  ips: [{ address: '10.77.0.9/24', interface: 0 }],
});
const portmap = (w: World, mapping: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0',
  name: 'hdnet',
  type: 'portmap',
  snat: true,
  runtimeConfig: {
    portMappings: [
      { hostPort: 18080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 18081, containerPort: 81, protocol: 'udp', ...mapping },
    ],
  },
  prevResult: prev(w),
  ...extra,
});

// bandwidth on the wired pod, with limits in runtimeConfig.bandwidth (ingress valid unless said)
const shaping = (w: World, bw: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0',
  name: 'hdnet',
  type: 'bandwidth',
  runtimeConfig: { bandwidth: { ingressRate: 1_000_000, ingressBurst: 80_000, ...bw } },
  prevResult: w.podResult,
  ...extra,
});
const annotated = (w: World, value: unknown) => ({
  ...shaping(w, {}),
  runtimeConfig: {
    'io.kubernetes.cri.pod-annotations': {
      'kubernetes.io/ingress-bandwidth': '1M',
      'kubernetes.io/egress-bandwidth': value,
    },
  },
});
/** The host side of the wired pod's veth. */
const hostVeth = (w: World) => (w.podResult!.interfaces as Array<{ name: string; sandbox?: string }>)[1]!.name;

const BANDWIDTH: Case[] = (
  [
    {
      what: 'bandwidth: an egress burst without an egress rate (ingress valid)',
      conf: (w) => shaping(w, { egressBurst: 80_000 }),
      code: 7,
    },
    { what: 'bandwidth: a rate that is a string', conf: (w) => shaping(w, { egressRate: '1M' }), code: 7 },
    { what: 'bandwidth: a negative rate', conf: (w) => shaping(w, { egressRate: -1, egressBurst: 8000 }), code: 7 },
    {
      what: 'bandwidth: a rate too large for tc (2 Tbit/s)',
      conf: (w) => shaping(w, { egressRate: 2_000_000_000_000, egressBurst: 80_000 }),
      code: 7,
    },
    {
      what: 'bandwidth: a burst the bucket cannot hold (4000 s at 1 kbit/s; Go wraps it around)',
      conf: (w) => shaping(w, { egressRate: 1000, egressBurst: 4_000_000 }),
      code: 7,
    },
    { what: 'bandwidth: a malformed annotation (1Mbit)', conf: (w) => annotated(w, '1Mbit'), code: 7 },
    { what: 'bandwidth: an annotation under 1k', conf: (w) => annotated(w, '999'), code: 7 },
    { what: 'bandwidth: an annotation that is a number', conf: (w) => annotated(w, 1_000_000), code: 7 },
    { what: 'bandwidth: not chained (no prevResult)', conf: (w) => shaping(w, {}, { prevResult: undefined }), code: 7 },
    {
      what: 'bandwidth: a prevResult that is not a result',
      conf: (w) => shaping(w, {}, { prevResult: { interfaces: 'x' } }),
      code: 6,
    },
    {
      what: 'bandwidth: a netns that is a regular file (Go prints a stack trace)',
      conf: (w) => shaping(w, {}),
      env: (w) => ({ CNI_NETNS: join(w.dir, 'plain-file') }),
      code: 4,
    },
    {
      what: 'bandwidth: a pod interface that is not a veth (lo)',
      conf: (w) => shaping(w, {}),
      env: () => ({ CNI_IFNAME: 'lo' }),
      code: 7,
    },
    {
      what: "bandwidth: a host interface in prevResult that is not the pod's peer",
      conf: (w) => ({
        ...shaping(w, {}),
        prevResult: { ...w.podResult, interfaces: [{ name: 'lo' }, { name: 'eth0', sandbox: w.pod.path }] },
      }),
      code: 7,
    },
    {
      what: 'bandwidth: CNI_IFNAME names no interface in the pod (was code 999; fuzzing, seed 424247)',
      conf: (w) => shaping(w, {}),
      env: () => ({ CNI_IFNAME: 'eth9' }),
      code: 7,
    },
    { what: 'bandwidth: cniVersion 0.2.0', conf: (w) => ({ ...shaping(w, {}), cniVersion: '0.2.0' }), code: 1 },
    {
      what: 'bandwidth: the veth has a root qdisc someone else made (taken back after the ifb)',
      conf: (w) => shaping(w, { egressRate: 1_000_000, egressBurst: 80_000 }),
      prepare: async (w) => {
        await sh('ip', ['netns', 'exec', w.node.node.name, 'tc', 'qdisc', 'add', 'dev', hostVeth(w), 'root', 'pfifo']);
      },
      code: 999,
    },
  ] satisfies Array<Omit<Case, 'type'>>
).map((c) => ({ ...c, type: 'bandwidth', wired: true }));

const CASES: Case[] = [
  {
    what: 'bridge: a netns that is a regular file',
    type: 'bridge',
    conf: bridge,
    env: (w) => ({ CNI_NETNS: join(w.dir, 'plain-file') }),
    code: 4,
  },
  {
    what: 'bridge: a netns that does not exist',
    type: 'bridge',
    conf: bridge,
    env: (w) => ({ CNI_NETNS: join(w.dir, 'gone') }),
    code: 4,
  },
  {
    what: 'bridge: an unknown ipMasqBackend',
    type: 'bridge',
    conf: (w) => bridge(w, { ipMasqBackend: 'ebtables' }),
    code: 7,
  },
  {
    what: 'bridge: an invalid MAC in runtimeConfig',
    type: 'bridge',
    conf: (w) => bridge(w, { runtimeConfig: { mac: 'zz:zz' } }),
    code: 7,
  },
  {
    what: 'bridge: an IPAM plugin that is not installed',
    type: 'bridge',
    conf: (w) => bridge(w, { ipam: { type: 'hd-missing' } }),
    code: 7,
  },
  {
    what: 'bridge: an IPAM loop (ipam.type bridge)',
    type: 'bridge',
    conf: (w) => bridge(w, { ipam: { type: 'bridge' } }),
    code: 7,
  },
  {
    what: 'bridge: IPAM refuses (bad subnet)',
    type: 'bridge',
    conf: (w) => bridge(w, { ipam: ipam(w, { ranges: [[{ subnet: '10.77.0.0/33' }]] }) }),
    code: 7,
  },
  {
    what: 'bridge: IPAM exhausted (/32)',
    type: 'bridge',
    conf: (w) => bridge(w, { ipam: ipam(w, { ranges: [[{ subnet: '10.77.0.1/32' }]] }) }),
    code: 7,
  },
  {
    what: 'bridge: L2-only at cniVersion 0.2.0',
    type: 'bridge',
    conf: (w) => ({ ...bridge(w), ipam: undefined, cniVersion: '0.2.0' }),
    code: 1,
  },
  {
    what: 'bridge: a bridge name of 16 bytes',
    type: 'bridge',
    conf: (w) => bridge(w, { bridge: 'a'.repeat(16) }),
    code: 7,
  },
  {
    what: 'portmap: a protocol with an embedded newline (Go creates shared chains first)',
    type: 'portmap',
    conf: (w) => portmap(w, { protocol: 'udp\n' }),
    code: 7,
  },
  {
    what: 'portmap: a garbage hostIP (Go maps the port on every address)',
    type: 'portmap',
    conf: (w) => portmap(w, { hostIP: 'garbage' }),
    code: 7,
  },
  {
    what: 'portmap: a hostPort out of range in the second mapping',
    type: 'portmap',
    conf: (w) => portmap(w, { hostPort: 70000 }),
    code: 7,
  },
  { what: 'portmap: an unknown backend', type: 'portmap', conf: (w) => portmap(w, {}, { backend: 'ipvs' }), code: 7 },
  {
    what: 'portmap: a markMasqBit out of range',
    type: 'portmap',
    conf: (w) => portmap(w, {}, { markMasqBit: 32 }),
    code: 7,
  },
  { what: 'portmap: no prevResult', type: 'portmap', conf: (w) => ({ ...portmap(w), prevResult: undefined }), code: 7 },
  {
    what: 'portmap: a prevResult that is not a result',
    type: 'portmap',
    conf: (w) => portmap(w, {}, { prevResult: { ips: 'x' } }),
    code: 6,
  },
  {
    what: 'loopback: a netns that is a directory',
    type: 'loopback',
    conf: () => ({ cniVersion: '1.0.0', name: 'hdnet', type: 'loopback' }),
    env: (w) => ({ CNI_NETNS: w.dir }),
    code: 4,
  },
  {
    what: 'host-local: a range that does not parse',
    type: 'host-local',
    conf: (w) => ({
      cniVersion: '1.0.0',
      name: 'hdnet',
      type: 'bridge',
      ipam: ipam(w, { ranges: [[{ subnet: '10.77.0.0/24', rangeStart: '10.78.0.1' }]] }),
    }),
    code: 7,
  },
  ...BANDWIDTH,
];

for (const c of CASES) {
  rt.serial(`refused before anything changes: ${c.what}`, async (t) => {
    const w = await makeWorld('hdvf');
    worlds.push(w);
    writeFileSync(join(w.dir, 'plain-file'), '');
    if (c.wired) await wirePod(w);
    await c.prepare?.(w);
    const before = await worldState(w);
    const r = await invoke({
      plugin: ourPlugin(c.type),
      inNetns: w.node.node.name,
      env: {
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: 'hd-ctr',
        CNI_NETNS: w.pod.path,
        CNI_IFNAME: 'eth0',
        CNI_PATH: binDir,
        ...c.env?.(w),
      },
      config: c.conf(w),
    });
    const left = diffState(before, await worldState(w));
    t.deepEqual(
      { code: r.json?.code, left, problems: contractProblems('ADD', r, '1.0.0') },
      { code: c.code, left: [], problems: [] },
      `the ADD must be refused with code ${c.code} and change nothing: ${r.stdout}`,
    );
    await dropWorld(w);
  });
}
