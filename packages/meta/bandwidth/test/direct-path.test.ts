// The plugin's typed rtnetlink path (Executor.typedNetlink: the pod link, the ifb, the tc commands and
// listings without batch text or documents) against its batch paths: the same batches through
// rtnetlink (an executor without typedNetlink) and through `ip` and `tc` processes (an executor with only
// `run`, what Node and CNI_TS_NETLINK=0 get). On the real kernel, each path in a fresh `unshare
// -rn` namespace playing the node, with a pod in a nested namespace and a veth into it, each
// scenario runs the plugin's own verbs in order; every outcome (the result, or the CNI error's
// code, message and details) and the node's state after each verb (`tc -j -d qdisc show`, the
// veth's filters with their actions, `ip -j -d link show type ifb`; counters and random MACs
// aside) must be the same on the three paths, and the typed path must start no process.
import anyTest, { type ExecutionContext } from 'ava';
import { runInUserNetns, userNetnsTest } from '@cni-ts/testutils';

const lib = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
const test = userNetnsTest(anyTest, import.meta.url, ['tc', 'qdisc', 'show']);

/** One verb: its config (limits, prevResult: true for the bridge-like one), and what runs before it. */
interface Step {
  verb: 'ADD' | 'DEL' | 'CHECK';
  conf?: Record<string, unknown>;
  prev?: boolean;
  ifname?: string;
  /** Commands (ip, tc) run in the node before the verb. */
  before?: string[][];
}

const DRIVER = `import { spawn, spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { systemExecutor } from ${lib('../../../../process/dist/src/index.js')};
import { makeBandwidth } from ${lib('../src/index.js')};
import { systemHost } from ${lib('../src/host.js')};
import { context } from ${lib('./helpers.js')};
const { path, steps } = JSON.parse(process.argv[2]);
const own = readlinkSync('/proc/self/ns/net');
const holder = spawn('unshare', ['-n', '--', 'sleep', '60'], { stdio: 'ignore' });
const ns = '/proc/' + holder.pid + '/ns/net';
const entered = () => { try { return readlinkSync(ns) !== own; } catch { return false; } };
for (let i = 0; !entered(); i++) { if (i > 5000) throw new Error('no pod netns'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); }
const sh = (args) => { const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' }); if (r.status !== 0) throw new Error(args.join(' ') + ': ' + r.stderr); return r.stdout; };
const json = (args) => JSON.parse(sh(args) || '[]');
const STATS = new Set(['bytes', 'packets', 'drops', 'overlimits', 'requeues', 'backlog', 'qlen', 'stats', 'stats64']);
const noStats = (o) => Object.fromEntries(Object.entries(o).filter(([k]) => !STATS.has(k)));
try {
  sh(['ip', 'link', 'add', 'vethB', 'mtu', '1450', 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', '1450', 'netns', ns]);
  sh(['ip', 'link', 'set', 'vethB', 'up']);
  let spawned = 0;
  const counting = (e) => ({ ...e, run(f, a, o) { spawned++; return e.run(f, a, o); } });
  const exec = counting(path === 'direct' ? systemExecutor : path === 'batch' ? { ...systemExecutor, typedNetlink: undefined } : { run: systemExecutor.run });
  const plugin = makeBandwidth(systemHost);
  const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'cni0' }, { name: 'vethB' }, { name: 'eth0', sandbox: ns }] };
  const out = [];
  for (const s of steps) {
    for (const c of s.before ?? []) sh(c);
    const ctx = context(exec, { ...(s.conf ?? {}), ...(s.prev ? { prevResult } : {}) }, { command: s.verb, netns: ns });
    if (s.ifname) ctx.args.ifname = s.ifname;
    const before = spawned;
    let outcome;
    try {
      const verb = s.verb === 'ADD' ? plugin.add : s.verb === 'DEL' ? plugin.del : plugin.check;
      outcome = { result: (await verb(ctx)) ?? null };
    } catch (e) {
      outcome = { error: { name: e.constructor.name, code: e.code, msg: e.message, details: e.details } };
    }
    const noActionIndex = (f) =>
      f.options?.actions
        ? { ...f, options: { ...f.options, actions: f.options.actions.map((a) => ({ ...a, index: a.index === undefined ? undefined : '<index>' })) } }
        : f;
    const ifbs = json(['ip', '-j', '-d', 'link', 'show', 'type', 'ifb']);
    const macs = Object.fromEntries(ifbs.map((l) => [l.address, '<mac of ' + l.ifname + '>']));
    const state = {
      qdiscs: json(['tc', '-j', '-d', 'qdisc', 'show']).map(noStats),
      // an action's index is the kernel's allocation (a re-ADD's new mirred may get 1 or 2, by
      // whether the replaced one was freed yet), not the plugin's behaviour: set aside
      filters: json(['tc', '-j', 'filter', 'show', 'dev', 'vethB', 'parent', 'ffff:']).map(noActionIndex),
      ifbs: ifbs.map((l) => ({ ...l, address: '<mac>' })),
    };
    out.push({ outcome, spawned: spawned - before, state, macs });
  }
  process.stdout.write(JSON.stringify(out).replaceAll(ns, 'PODNS'));
} finally {
  holder.kill();
}
`;

interface Verb {
  outcome: { result?: { interfaces?: Array<{ name: string; mac?: string }> } | null; error?: Record<string, unknown> };
  spawned: number;
  state: unknown;
  macs: Record<string, string>;
}

function runPath(t: ExecutionContext, path: 'direct' | 'batch' | 'processes', steps: Step[]): Verb[] {
  const verbs = runInUserNetns<Verb[]>(t, DRIVER, { input: { path, steps } });
  // a result's ifb MAC is the ifb's own (checked), then neutral
  for (const v of verbs)
    for (const i of v.outcome.result?.interfaces ?? [])
      if (i.mac !== undefined && i.name.startsWith('bwp')) {
        if (v.macs[i.mac] !== `<mac of ${i.name}>`)
          throw new Error(`${path}: ${i.name}'s MAC ${i.mac} is not the ifb's`);
        i.mac = '<mac>';
      }
  return verbs;
}

const BOTH = {
  runtimeConfig: { bandwidth: { ingressRate: 1e6, ingressBurst: 8e4, egressRate: 2e6, egressBurst: 16e4 } },
};
const INGRESS = { ingressRate: 5e6, ingressBurst: 4e5 };
const EGRESS = { egressRate: 2e6, egressBurst: 16e4 };
const TBF_5 = [
  'tc',
  'qdisc',
  'add',
  'dev',
  'vethB',
  'root',
  'handle',
  '5:',
  'tbf',
  'rate',
  '1mbit',
  'burst',
  '10k',
  'latency',
  '10ms',
];
const SCENARIOS: Record<string, { steps: Step[]; errors: number }> = {
  'ADD both ways, CHECK, ADD again (replaces), DEL, DEL again': {
    steps: [
      { verb: 'ADD', conf: BOTH, prev: true },
      { verb: 'CHECK', conf: BOTH, prev: true },
      { verb: 'ADD', conf: BOTH, prev: true },
      { verb: 'DEL', conf: BOTH, prev: true },
      { verb: 'DEL', conf: BOTH, prev: true },
    ],
    errors: 0,
  },
  'ADD ingress only, then DEL without prevResult': {
    steps: [
      { verb: 'ADD', conf: INGRESS, prev: true },
      { verb: 'DEL', conf: INGRESS },
    ],
    errors: 0,
  },
  'refusals: no pod interface, a root qdisc someone else made, a left ingress qdisc taken over': {
    steps: [
      { verb: 'ADD', conf: BOTH, prev: true, ifname: 'eth9' },
      { verb: 'ADD', conf: BOTH, prev: true, before: [TBF_5] },
      { verb: 'ADD', conf: INGRESS, prev: true, before: [['tc', 'qdisc', 'del', 'dev', 'vethB', 'root']] },
      {
        verb: 'ADD',
        conf: BOTH,
        prev: true,
        before: [
          ['tc', 'qdisc', 'del', 'dev', 'vethB', 'root'],
          ['tc', 'qdisc', 'add', 'dev', 'vethB', 'handle', 'ffff:', 'ingress'],
        ],
      },
      { verb: 'DEL', conf: {}, prev: true },
    ],
    errors: 2,
  },
  "someone else's root qdisc on the veth stays (pfifo 1:, tbf 5:): DEL takes only our ingress and ifb": {
    steps: [
      { verb: 'ADD', conf: EGRESS, prev: true },
      {
        verb: 'DEL',
        conf: {},
        prev: true,
        before: [['tc', 'qdisc', 'add', 'dev', 'vethB', 'root', 'handle', '1:', 'pfifo']],
      },
      { verb: 'ADD', conf: EGRESS, prev: true },
      { verb: 'DEL', conf: {}, prev: true, before: [['tc', 'qdisc', 'del', 'dev', 'vethB', 'root'], TBF_5] },
    ],
    errors: 0,
  },
  "a filter someone else put on the veth's ingress stays; ours goes": {
    steps: [
      { verb: 'ADD', conf: BOTH, prev: true },
      {
        verb: 'DEL',
        conf: {},
        prev: true,
        before: [
          ['ip', 'link', 'add', 'other0', 'type', 'ifb'],
          [
            ...['tc', 'filter', 'add', 'dev', 'vethB', 'parent', 'ffff:', 'protocol', 'ip', 'prio', '7', 'u32'],
            ...['match', 'u32', '0', '0', 'flowid', '1:7', 'action', 'mirred', 'egress', 'redirect', 'dev', 'other0'],
          ],
        ],
      },
      { verb: 'ADD', conf: INGRESS, prev: true },
    ],
    errors: 0,
  },
};

for (const [name, { steps, errors }] of Object.entries(SCENARIOS)) {
  test(`typed rtnetlink = batches through rtnetlink = ip and tc processes: ${name}`, (t) => {
    const direct = runPath(t, 'direct', steps);
    const batch = runPath(t, 'batch', steps);
    const processes = runPath(t, 'processes', steps);
    const strip = (v: Verb[]) => v.map(({ outcome, state }) => ({ outcome, state }));
    t.deepEqual(strip(direct), strip(batch));
    t.deepEqual(strip(direct), strip(processes));
    t.deepEqual(
      direct.map((v) => v.spawned),
      steps.map(() => 0),
      'the typed path starts no process',
    );
    t.true(
      processes.some((v) => v.spawned > 0),
      'the process path does (the paths differ)',
    );
    // the scenario is what it says: its refusals are refusals, the rest succeeded
    t.is(direct.filter((v) => v.outcome.error).length, errors, JSON.stringify(direct.map((v) => v.outcome)));
    // what stays is what the scenario says (so equal states are not three that deleted it)
    if (name.startsWith("someone else's root qdisc")) {
      const roots = direct.map((v) =>
        (v.state as { qdiscs: Array<{ kind: string; handle: string; root?: boolean; dev: string }> }).qdiscs
          .filter((q) => q.root && q.dev === 'vethB')
          .map((q) => `${q.kind} ${q.handle}`),
      );
      t.deepEqual(roots, [['noqueue 0:'], ['pfifo 1:'], ['pfifo 1:'], ['tbf 5:']]);
    }
    for (const [i, s] of steps.entries())
      if (s.before?.some((c) => c.join(' ') === TBF_5.join(' ')) && s.verb === 'ADD')
        t.like(direct[i]!.outcome.error, {
          code: 999,
          msg: 'failed to set up traffic shaping on vethB: it already has qdiscs that bandwidth did not create',
        });
  });
}
