// Injection, checked in the kernel rather than in the output: a newline, quote, '#' or backslash
// in any value that reaches `ip -batch`, `iptables-restore` or `nft -f` (interface and bridge
// names, the netns path, container ids, network names, hostIP, protocol, conditions, the
// external mark chain) is refused with a coded error or reaches the kernel as exactly that
// value; it never adds a link, a rule or a command, and never changes anything when refused.
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
  worldState,
} from '../../src/index.js';

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

rt.serial('bridge names with newline, quote, # or backslash never add a link', async (t) => {
  baseline = await worldState(w);
  for (const bridge of [...PAYLOADS, 'hd"0', 'hd#0', 'hd\\0', "hd'0", 'hd 0', 'a'.repeat(16)]) {
    const how = await refusedOrExact(t, 'bridge', bridgeConf({ bridge }), {}, async () => {
      const names = (await worldState(w)).links!.map((l) => l.split(' ')[0]);
      t.true(names.includes(bridge), `bridge "${bridge}" is not in the node as given: ${names.join(', ')}`);
    });
    t.log(`bridge ${JSON.stringify(bridge)}: ${how}`);
  }
});

rt.serial('interface names (CNI_IFNAME) with quote, # or backslash are refused or made exactly', async (t) => {
  baseline = await worldState(w);
  for (const ifname of [...PAYLOADS, 'e"0', 'e#0', 'e\\0', "e'0", 'e;0', 'e$(id)']) {
    const how = await refusedOrExact(t, 'bridge', bridgeConf(), { CNI_IFNAME: ifname }, async () => {
      const pod = (await worldState(w)).podLinks!.map((l) => l.split(' ')[0]);
      t.true(pod.includes(ifname), `"${ifname}" is not in the pod as given: ${pod.join(', ')}`);
    });
    t.log(`ifname ${JSON.stringify(ifname)}: ${how}`);
  }
});

rt.serial('a netns path with quote, newline and # (a bind mount of the pod) never adds a command', async (t) => {
  baseline = await worldState(w);
  for (const name of ['ns"\nlink add hdevil0 type bridge\n#', "ns'#x", 'ns\\"x', 'ns x']) {
    const path = join(w.dir, name);
    writeFileSync(path, '');
    await sh('mount', ['--bind', w.pod.path, path]);
    try {
      const how = await refusedOrExact(t, 'bridge', bridgeConf(), { CNI_NETNS: path }, async (res) => {
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
});

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
