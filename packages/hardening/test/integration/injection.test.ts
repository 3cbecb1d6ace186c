// Injection, checked in the kernel rather than in the output: a newline, quote, '#' or backslash
// in any value that reaches `ip -batch`, `iptables-restore`, `nft -f` or `tc -batch` (interface
// and bridge names, the netns path, container ids, network names, hostIP, protocol, conditions,
// the external mark chain, bandwidth's rates and annotations and the veth names of prevResult)
// is refused with a coded error or reaches the kernel as exactly that value; it never adds a
// link, a rule, a qdisc or a command, and never changes anything when refused.
// Names that would lead the IPAM store out of its directory are refused.
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { binDir, ourPlugin, rootTest, sh } from '@cni-ts/testutils';
import {
  type Snapshot,
  type World,
  contractProblems,
  diffState,
  dropWorld,
  invoke,
  makeWorld,
  reservations,
  storeFiles,
  wirePod,
  worldState,
} from '../../src/index.js';

const POD_ANNOTATIONS = 'io.kubernetes.cri.pod-annotations';

const rt = rootTest(test, 'hardening/injection');
let w: World;
let baseline: Snapshot;
rt.before(async () => {
  w = await makeWorld('hdin');
  baseline = await worldState(w);
});
rt.after.always(async () => dropWorld(w));

// The injected commands all name this, so one look finds any that ran.
const EVIL = 'hdevil0';
const PAYLOADS = [
  `x\nlink add ${EVIL} type bridge`,
  `x"\nlink add ${EVIL} type bridge\n#`,
  `x" ; link add ${EVIL} type bridge #`,
  `x#\nlink add ${EVIL} type bridge`,
  `x\\\nlink add ${EVIL} type bridge`,
  `x'\nlink add ${EVIL} type bridge`,
];

const ipam = () => ({ type: 'host-local', ranges: [[{ subnet: '10.77.0.0/24' }]], dataDir: w.dataDir });
const bridgeConf = (extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0',
  name: 'hdnet',
  type: 'bridge',
  bridge: 'hd0',
  isGateway: true,
  ipMasq: true,
  ipam: ipam(),
  ...extra,
});

function env(command: string, over: Record<string, string | undefined> = {}) {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: 'hd-ctr',
    CNI_NETNS: w.pod.path,
    CNI_IFNAME: 'eth0',
    CNI_PATH: binDir,
    ...over,
  };
}

async function run(type: string, command: string, config: unknown, over: Record<string, string | undefined> = {}) {
  return invoke({ plugin: ourPlugin(type), inNetns: w.node.node.name, env: env(command, over), config });
}

/** Links named EVIL anywhere we can see: the node, the pod. */
async function evilLinks(): Promise<string[]> {
  const all = [...(await worldState(w)).links!, ...(await worldState(w)).podLinks!];
  return all.filter((l) => l.includes(EVIL));
}

// A refused ADD: coded error, nothing changed; an accepted one: exactly the value, then DEL.
async function refusedOrExact(
  t: import('ava').ExecutionContext,
  type: string,
  config: Record<string, unknown>,
  over: Record<string, string | undefined>,
  exact: (result: any) => Promise<void>,
): Promise<'refused' | 'accepted'> {
  const r = await run(type, 'ADD', config, over);
  t.deepEqual(contractProblems('ADD', r, '1.0.0'), [], r.stdout);
  t.deepEqual(await evilLinks(), [], `an injected command ran: ${JSON.stringify(over)} ${JSON.stringify(config)}`);
  if (r.exitCode !== 0) {
    t.true([4, 7].includes(r.json?.code), `refused with code ${r.json?.code}: ${r.stdout}`);
    t.deepEqual(diffState(baseline, await worldState(w)), [], 'a refused ADD changed the node');
    return 'refused';
  }
  await exact(r.json);
  const d = await run(type, 'DEL', { ...config, prevResult: r.json }, over);
  t.is(d.exitCode, 0, d.stdout);
  baseline = await worldState(w);
  return 'accepted';
}

// The executables change links through rtnetlink; with CNI_TS_NETLINK=0 every link change is ip
// -batch input. The tests of names run both ways.
for (const [links, over] of [
  ['rtnetlink', {}],
  ['the ip fallback', { CNI_TS_NETLINK: '0' }],
] as const) {
  rt.serial(`bridge names with newline, quote, # or backslash never add a link (${links})`, async (t) => {
    baseline = await worldState(w);
    for (const bridge of [...PAYLOADS, 'hd"0', 'hd#0', 'hd\\0', "hd'0", 'hd 0', 'a'.repeat(16)]) {
      const how = await refusedOrExact(t, 'bridge', bridgeConf({ bridge }), over, async () => {
        const names = (await worldState(w)).links!.map((l) => l.split(' ')[0]);
        t.true(names.includes(bridge), `bridge "${bridge}" is not in the node as given: ${names.join(', ')}`);
      });
      t.log(`bridge ${JSON.stringify(bridge)}: ${how}`);
    }
  });

  rt.serial(
    `interface names (CNI_IFNAME) with quote, # or backslash are refused or made exactly (${links})`,
    async (t) => {
      baseline = await worldState(w);
      for (const ifname of [...PAYLOADS, 'e"0', 'e#0', 'e\\0', "e'0", 'e;0', 'e$(id)']) {
        const how = await refusedOrExact(t, 'bridge', bridgeConf(), { ...over, CNI_IFNAME: ifname }, async () => {
          const pod = (await worldState(w)).podLinks!.map((l) => l.split(' ')[0]);
          t.true(pod.includes(ifname), `"${ifname}" is not in the pod as given: ${pod.join(', ')}`);
        });
        t.log(`ifname ${JSON.stringify(ifname)}: ${how}`);
      }
    },
  );

  rt.serial(
    `a netns path with quote, newline and # (a bind mount of the pod) never adds a command (${links})`,
    async (t) => {
      baseline = await worldState(w);
      for (const name of ['ns"\nlink add hdevil0 type bridge\n#', "ns'#x", 'ns\\"x', 'ns x']) {
        const path = join(w.dir, name);
        writeFileSync(path, '');
        await sh('mount', ['--bind', w.pod.path, path]);
        try {
          const how = await refusedOrExact(t, 'bridge', bridgeConf(), { ...over, CNI_NETNS: path }, async (res) => {
            const pod = (await worldState(w)).podLinks!.map((l) => l.split(' ')[0]);
            t.true(pod.includes('eth0'), `eth0 did not reach the pod through ${JSON.stringify(path)}`);
            t.is(res.interfaces?.[2]?.sandbox, path);
          });
          t.log(`netns ${JSON.stringify(name)}: ${how}`);
        } finally {
          await execa('umount', [path], { reject: false });
          rmSync(path, { force: true });
        }
      }
    },
  );
}

rt.serial(
  'container ids and network names outside [A-Za-z0-9_.-] are refused by every plugin before anything runs',
  async (t) => {
    baseline = await worldState(w);
    const confs: Record<string, Record<string, unknown>> = {
      loopback: { cniVersion: '1.0.0', name: 'hdnet', type: 'loopback' },
      bridge: bridgeConf(),
      'host-local': { cniVersion: '1.0.0', name: 'hdnet', type: 'bridge', ipam: ipam() },
      portmap: {
        cniVersion: '1.0.0',
        name: 'hdnet',
        type: 'portmap',
        runtimeConfig: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] },
        prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.77.0.9/24' }] },
      },
      // the network name and container id reach the ifb's alias in ip -batch input
      bandwidth: {
        cniVersion: '1.0.0',
        name: 'hdnet',
        type: 'bandwidth',
        runtimeConfig: { bandwidth: { ingressRate: 1_000_000, ingressBurst: 80_000 } },
        prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: w.pod.path }] },
      },
    };
    for (const [type, conf] of Object.entries(confs)) {
      for (const id of PAYLOADS.concat(['../../etc', 'a/b', '-x', '.x'])) {
        const r = await run(type, 'ADD', conf, { CNI_CONTAINERID: id });
        t.is(r.json?.code, 4, `${type} took container id ${JSON.stringify(id)}: ${r.stdout}`);
      }
      for (const name of PAYLOADS.concat(['..', '../x', 'a/b', '.hidden', 'x y'])) {
        const r = await run(type, 'ADD', { ...conf, name });
        t.is(r.json?.code, 7, `${type} took network name ${JSON.stringify(name)}: ${r.stdout}`);
      }
    }
    t.deepEqual(diffState(baseline, await worldState(w)), []);
    t.deepEqual(reservations(w.dataDir), [], 'nothing was reserved');
  },
);

rt.serial(
  'portmap: hostIP, protocol, conditions and the external mark chain with injected text are refused (code 7), no rule added',
  async (t) => {
    baseline = await worldState(w);
    const base = {
      cniVersion: '1.0.0',
      name: 'hdnet',
      type: 'portmap',
      prevResult: {
        cniVersion: '1.0.0',
        interfaces: [{ name: 'eth0', sandbox: w.pod.path }],
        ips: [{ address: '10.77.0.9/24', interface: 0 }],
      },
    };
    const mapping = (m: Record<string, unknown>) => ({
      runtimeConfig: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp', ...m }] },
    });
    const cases: Array<Record<string, unknown>> = [];
    for (const p of PAYLOADS.concat(['tcp\n', 'tcp #', 'tcp"'])) cases.push(mapping({ protocol: p }));
    for (const p of PAYLOADS.concat(['10.0.0.1\n', '10.0.0.1 #', 'garbage', '10.0.0.1/24']))
      cases.push(mapping({ hostIP: p }));
    for (const backend of ['iptables', 'nftables']) {
      for (const p of PAYLOADS) {
        cases.push({ backend, ...mapping({}), conditionsV4: ['-d', p] });
        cases.push({ backend, ...mapping({}), conditionsV4: [p] });
        cases.push({ backend, ...mapping({}), externalSetMarkChain: p });
      }
      cases.push({ backend, ...mapping({}), conditionsV4: ['-j', 'ACCEPT'] });
      cases.push({ backend, ...mapping({}), conditionsV4: ['--jump', 'ACCEPT'] });
      cases.push({ backend, ...mapping({}), conditionsV4: ['accept'] });
      cases.push({ backend, ...mapping({}), conditionsV4: ['ip', 'daddr', '1.2.3.4', ';', 'drop'] });
    }
    for (const c of cases) {
      const r = await run('portmap', 'ADD', { ...base, ...c });
      t.is(r.json?.code, 7, `portmap took ${JSON.stringify(c)}: ${r.stdout}`);
    }
    t.deepEqual(diffState(baseline, await worldState(w)), [], 'a refused portmap ADD changed the node');
  },
);

rt.serial(
  'the IPAM store cannot be led outside its directory (symlinked dataDir or store, traversal in requested IPs)',
  async (t) => {
    baseline = await worldState(w);
    const outside = join(w.dir, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, join(w.dir, 'linked-data'));
    mkdirSync(join(w.dir, 'data2'));
    symlinkSync(outside, join(w.dir, 'data2', 'hdnet'));
    const hl = (dataDir: string) => ({
      cniVersion: '1.0.0',
      name: 'hdnet',
      type: 'bridge',
      ipam: { ...ipam(), dataDir },
    });
    for (const dataDir of [join(w.dir, 'linked-data'), join(w.dir, 'data2')]) {
      const r = await run('host-local', 'ADD', hl(dataDir));
      t.is(r.json?.code, 7, `host-local used ${dataDir}: ${r.stdout}`);
    }
    for (const args of ['IP=../../x', 'IP=10.77.0.9/../../x', 'IP=10.77.0.9\n10.77.0.10']) {
      const r = await run('host-local', 'ADD', hl(w.dataDir), { CNI_ARGS: args });
      t.not(r.exitCode, 0, `host-local took ${args}`);
      t.deepEqual(contractProblems('ADD', r), []);
    }
    t.deepEqual(storeFiles(outside), [], 'host-local wrote outside its store');
    t.deepEqual(reservations(w.dataDir), [], 'nothing was reserved');
  },
);

// bandwidth on a pod wired by the bridge as container `id` with CNI_IFNAME `ifname`
const shaping = (prevResult: unknown, extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0',
  name: 'hdnet',
  type: 'bandwidth',
  runtimeConfig: {
    bandwidth: { ingressRate: 1_000_000, ingressBurst: 80_000, egressRate: 1_000_000, egressBurst: 80_000 },
  },
  prevResult,
  ...extra,
});
const TC_PAYLOADS = [
  ...PAYLOADS,
  '1M\nqdisc add dev lo root pfifo',
  '1M #',
  '1M"',
  "1M'",
  '1M;',
  '1M\\',
  '$(id)',
  '1M\n',
];

rt.serial(
  'bandwidth: rates and annotations with injected text are refused (code 7), no ifb, qdisc or link added',
  async (t) => {
    const over = { CNI_CONTAINERID: 'hd-bw', CNI_IFNAME: 'eth1' };
    const wired = await wirePod(w, { containerId: 'hd-bw', ifname: 'eth1' });
    try {
      baseline = await worldState(w);
      const annotations = (a: Record<string, unknown>) => ({ runtimeConfig: { [POD_ANNOTATIONS]: a } });
      const cases: Array<Record<string, unknown>> = [];
      for (const p of TC_PAYLOADS) {
        cases.push(annotations({ 'kubernetes.io/ingress-bandwidth': p }));
        cases.push(annotations({ 'kubernetes.io/ingress-bandwidth': '1M', 'kubernetes.io/egress-bandwidth': p }));
        cases.push({ runtimeConfig: { bandwidth: { ingressRate: p, ingressBurst: 80_000 } } });
        cases.push({ runtimeConfig: { bandwidth: { IngressRate: 1_000_000, EgressRate: 1_000_000, EgressBurst: p } } });
        cases.push({ egressRate: p, egressBurst: 80_000 });
      }
      for (const c of cases) {
        const r = await run('bandwidth', 'ADD', shaping(wired, c), over);
        t.deepEqual(contractProblems('ADD', r, '1.0.0'), [], r.stdout);
        t.is(r.json?.code, 7, `bandwidth took ${JSON.stringify(c)}: ${r.stdout}`);
      }
      t.deepEqual(await evilLinks(), []);
      t.deepEqual(diffState(baseline, await worldState(w)), [], 'a refused bandwidth ADD changed the node');
    } finally {
      await run('bridge', 'DEL', { ...bridgeConf(), prevResult: wired }, over);
    }
  },
);

rt.serial(
  'bandwidth: veth names from prevResult with injected text never reach tc or ip as commands: refused (code 7), nothing changed',
  async (t) => {
    const over = { CNI_CONTAINERID: 'hd-bw', CNI_IFNAME: 'eth1' };
    const wired: any = await wirePod(w, { containerId: 'hd-bw', ifname: 'eth1' });
    try {
      baseline = await worldState(w);
      const veth = wired.interfaces[1].name as string;
      for (const p of [...PAYLOADS, `${veth}\n`, `${veth}"`, `${veth} #`, `${veth}\nqdisc add dev lo root pfifo`]) {
        const prev = { ...wired, interfaces: [wired.interfaces[0], { name: p }, wired.interfaces[2]] };
        const r = await run('bandwidth', 'ADD', shaping(prev), over);
        t.deepEqual(contractProblems('ADD', r, '1.0.0'), [], r.stdout);
        t.is(r.json?.code, 7, `bandwidth took host interface ${JSON.stringify(p)}: ${r.stdout}`);
      }
      t.deepEqual(await evilLinks(), []);
      t.deepEqual(diffState(baseline, await worldState(w)), [], 'a refused bandwidth ADD changed the node');
    } finally {
      await run('bridge', 'DEL', { ...bridgeConf(), prevResult: wired }, over);
    }
  },
);

rt.serial(
  'bandwidth: pod interface names with quotes or backslash are shaped exactly; with newline or # refused (code 4)',
  async (t) => {
    baseline = await worldState(w);
    for (const p of PAYLOADS) {
      const r = await run('bandwidth', 'ADD', shaping(undefined), { CNI_IFNAME: p });
      t.is(r.json?.code, 4, `bandwidth took CNI_IFNAME ${JSON.stringify(p)}: ${r.stdout}`);
    }
    t.deepEqual(diffState(baseline, await worldState(w)), []);
    // the bridge and its shared chains exist from here on, so what remains at the end is per pod
    const warm = await run('bridge', 'ADD', bridgeConf(), { CNI_CONTAINERID: 'hd-bww' });
    await run('bridge', 'DEL', { ...bridgeConf(), prevResult: warm.json }, { CNI_CONTAINERID: 'hd-bww' });
    baseline = await worldState(w);
    let shaped = 0;
    for (const [i, ifname] of ['e"0', "e'0", 'e\\0', 'e;0', 'e$(id)'].entries()) {
      const over = { CNI_CONTAINERID: `hd-bw${i}`, CNI_IFNAME: ifname };
      const wire = await run('bridge', 'ADD', bridgeConf(), over);
      if (wire.exitCode !== 0) {
        t.log(`the bridge refused ifname ${JSON.stringify(ifname)} (${wire.json?.code}): nothing to shape`);
        continue;
      }
      try {
        const add = await run('bandwidth', 'ADD', shaping(wire.json), over);
        t.is(add.exitCode, 0, `bandwidth on ${JSON.stringify(ifname)}: ${add.stdout}`);
        const veth = wire.json.interfaces[1].name as string;
        const qdiscs = (await worldState(w)).qdiscs!.filter((l) => l.includes(`dev ${veth} `));
        t.true(
          qdiscs.some((l) => l.startsWith('qdisc tbf')),
          `no tbf on ${veth}, the peer of ${JSON.stringify(ifname)}: ${qdiscs.join(' | ')}`,
        );
        const del = await run('bandwidth', 'DEL', shaping(add.json), over);
        t.is(del.exitCode, 0, del.stdout);
        shaped++;
      } finally {
        await run('bridge', 'DEL', { ...bridgeConf(), prevResult: wire.json }, over);
      }
    }
    t.true(shaped >= 3, `quotes and backslash reach the kernel (bridge carried ${shaped} of 5)`);
    t.deepEqual(await evilLinks(), []);
    t.deepEqual(diffState(baseline, await worldState(w)), [], 'nothing of the shaped pods is left');
  },
);
