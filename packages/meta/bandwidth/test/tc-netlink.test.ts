// The plugin's tc batches through rtnetlink (Bun, bun:ffi) against the same batches through
// `tc -batch` (CNI_TS_NETLINK=0), on the real kernel: each scenario runs twice, once per path,
// each time in a fresh user+network namespace (`unshare -rn`, no root) holding a veth pair and an
// ifb as a node holds a pod's. The batches are the ones the plugin emits (tcCommands of a plan,
// planTeardown, undoCommands, showTc's listing). The documents (the fields netlink/tc-docs.ts
// carries, and what parseQdiscs/parseFilters make of them), the errors (kind, missing object,
// failing command, message) and the namespace's tc state afterwards (`tc -s -d qdisc show`,
// `tc -d filter show`, `tc -j -s -d qdisc show`, counters aside) must be equal, and the netlink
// run must have started no process.
import anyTest, { type ExecutionContext } from 'ava';
import { runInUserNetns, userNetnsTest } from '@cni-ts/testutils';
import type { BandwidthConf } from '../src/config.js';
import { parseFilters, parseQdiscs } from '../src/observe.js';
import { planShaping, redirectCommand, tbfCommand, tcCommands } from '../src/plan-shaping.js';
import { delIngress, delRootTbf, planTeardown, undoCommands } from '../src/plan-teardown.js';
import { CRI_NO_BURST, tbfFor } from '../src/tbf.js';
import { ifbName } from '../src/names.js';

const processLib = new URL('../../../../process/dist/src/index.js', import.meta.url).href;
const test = userNetnsTest(anyTest, import.meta.url, ['tc', 'qdisc', 'show']);

const VETH = 'veth0a1b2c3d';
const IFB = ifbName('bwnet', 'ctr1');

/** One tcBatch call: commands and tc's global options. */
interface Call {
  batch: string[][];
  options?: string[];
}

interface Scenario {
  /** tc commands (through `tc`) that make the starting state. */
  setup?: string[][];
  /** Calls that fail on both paths (by index); every other call must succeed. */
  failing?: number[];
  /** No ifb in the namespace. */
  noIfb?: boolean;
  calls: Call[];
}

// Runs inside `unshare -rn`: makes the veth pair and the ifb, runs the setup through tc, then
// each call through tcBatch, and prints the outcomes, the processes started and the tc state.
const DRIVER = `import { spawnSync } from 'node:child_process';
import { tcBatch, systemExecutor } from ${JSON.stringify(processLib)};
const sc = JSON.parse(process.argv[2]);
const sh = (f, args) => { const r = spawnSync(f, args, { encoding: 'utf8' }); if (r.status !== 0) throw new Error(f + ' ' + args.join(' ') + ': ' + r.stderr); return r.stdout; };
sh('ip', ['link', 'add', ${JSON.stringify(VETH)}, 'mtu', '1450', 'type', 'veth', 'peer', 'name', 'pod0']);
sh('ip', ['link', 'set', ${JSON.stringify(VETH)}, 'up']);
if (!sc.noIfb) sh('ip', ['link', 'add', 'name', ${JSON.stringify(IFB)}, 'mtu', '1450', 'txqueuelen', '0', 'type', 'ifb']);
for (const c of sc.setup ?? []) sh('tc', c);
let spawned = 0;
const exec = { ...systemExecutor, run(f, a, o) { spawned++; return systemExecutor.run(f, a, o); } };
const outcomes = [];
for (const c of sc.calls) {
  try {
    outcomes.push({ docs: tcBatch(exec, c.batch, { options: c.options }) });
  } catch (e) {
    outcomes.push({ error: { name: e.name, kind: e.kind, object: e.object, failed: e.failed, command: e.command, message: e.message, status: e.status } });
  }
}
const devs = [${JSON.stringify(VETH)}, ...(sc.noIfb ? [] : [${JSON.stringify(IFB)}])];
const state = {
  text: sh('tc', ['-s', '-d', 'qdisc', 'show']),
  filters: devs.map((d) => sh('tc', ['-d', 'filter', 'show', 'dev', d, 'parent', 'ffff:'])),
  json: JSON.parse(sh('tc', ['-j', '-s', '-d', 'qdisc', 'show'])),
};
process.stdout.write(JSON.stringify({ outcomes, spawned, state }));
`;

interface Run {
  outcomes: Array<{ docs?: unknown[]; error?: Record<string, unknown> }>;
  spawned: number;
  state: { text: string; filters: string[]; json: Array<Record<string, unknown>> };
}

function runPath(t: ExecutionContext, sc: Scenario, netlink: boolean): Run {
  return runInUserNetns<Run>(t, DRIVER, { input: sc, env: netlink ? {} : { CNI_TS_NETLINK: '0' } });
}

// The state without counters (packets, bytes, drops, backlog): equal kernels may count differently.
function withoutCounters(s: Run['state']): unknown {
  const STATS = new Set(['bytes', 'packets', 'drops', 'overlimits', 'requeues', 'backlog', 'qlen']);
  return {
    text: s.text
      .split('\n')
      .filter((l) => !/^\s*(Sent|backlog)\b/.test(l))
      .join('\n'),
    filters: s.filters,
    json: s.json.map((q) => Object.fromEntries(Object.entries(q).filter(([k]) => !STATS.has(k)))),
  };
}

// What netlink/tc-docs.ts carries of a `tc -j` document.
const QDISC = ['kind', 'handle', 'root', 'parent'];
const FILTER = ['protocol', 'pref', 'kind', 'chain'];
const pick = (o: Record<string, unknown> | undefined, keys: string[]) =>
  Object.fromEntries(keys.filter((k) => o?.[k] !== undefined).map((k) => [k, o![k]]));
function carried(doc: unknown): unknown {
  return (doc as Array<Record<string, unknown>>).map((e) => {
    const o = e.options as Record<string, unknown> | undefined;
    if ('handle' in e) return { ...pick(e, QDISC), options: pick(o, ['rate', 'limit', 'burst_raw']) };
    return {
      ...pick(e, FILTER),
      options: {
        ...pick(o, ['fh', 'flowid']),
        actions: ((o?.actions as Array<Record<string, unknown>> | undefined) ?? []).map((a) =>
          pick(a, ['order', 'kind', 'mirred_action', 'direction', 'to_dev']),
        ),
      },
    };
  });
}

const conf = (c: Partial<BandwidthConf>): BandwidthConf => ({ name: 'bwnet', ...c }) as BandwidthConf;
const both = conf({ ingress: { rate: 100_000_000 }, egress: { rate: 20_000_000, burst: 1_000_000 } } as never);
const shaped = tcCommands(planShaping(both, 'ctr1', VETH, 1450));
const SHOW = {
  batch: [
    ['qdisc', 'show', 'dev', VETH],
    ['filter', 'show', 'dev', VETH, 'parent', 'ffff:'],
    ['qdisc', 'show', 'dev', IFB],
  ],
  options: ['-j', '-raw'],
};
const fullTeardown = planTeardown(
  {
    veth: [
      { kind: 'tbf', handle: '1:', root: true },
      { kind: 'ingress', handle: 'ffff:', root: false },
    ],
    filters: [],
  },
  VETH,
  IFB,
  new Set([VETH, IFB]),
);

const SCENARIOS: Record<string, Scenario> = {
  'ADD with ingress and egress limits, then the listing': { calls: [{ batch: shaped }, SHOW] },
  'ADD with the default burst, ingress only': {
    calls: [
      { batch: tcCommands(planShaping(conf({ ingress: { rate: 1_000_000 } } as never), 'ctr1', VETH, 1450)) },
      SHOW,
    ],
  },
  "ADD with containerd's 4294967295-bit bursts (none chosen) and a large one": {
    calls: [
      {
        batch: tcCommands(
          planShaping(
            conf({
              ingress: { rate: 5_000_000, criNoBurst: true },
              egress: { rate: 1_000_000_000, burst: CRI_NO_BURST },
            } as never),
            'ctr1',
            VETH,
            1450,
          ),
        ),
      },
      SHOW,
    ],
  },
  'a rate above 2^32 bytes per second (TCA_TBF_RATE64)': {
    calls: [{ batch: [tbfCommand(VETH, tbfFor(5_000_000_000, 50_000_000))] }, SHOW],
  },
  'the listing of an unshaped veth and ifb': { calls: [SHOW] },
  'DEL: the teardown of a shaped veth': { calls: [{ batch: shaped }, { batch: fullTeardown }, SHOW] },
  'DEL of one filter among others on the ingress qdisc': {
    setup: [
      ['qdisc', 'add', 'dev', VETH, 'handle', 'ffff:', 'ingress'],
      redirectCommand(VETH, IFB).map((a, i) => (i === 9 ? '2' : a)),
    ],
    calls: [{ batch: [['filter', 'del', 'dev', VETH, 'parent', 'ffff:', 'prio', '2']] }, SHOW],
  },
  'a failed ADD undone with -force, some of its qdiscs never made': {
    calls: [{ batch: shaped.slice(0, 2) }, { batch: undoCommands(shaped), options: ['-force'] }, SHOW],
    failing: [1],
  },
  'error: the veth does not exist': {
    calls: [{ batch: [tbfCommand('nosuchveth0', tbfFor(125_000, 3028))] }],
    failing: [0],
  },
  'error: the ifb a redirect names does not exist': {
    noIfb: true,
    calls: [{ batch: [['qdisc', 'add', 'dev', VETH, 'handle', 'ffff:', 'ingress'], redirectCommand(VETH, IFB)] }],
    failing: [0],
  },
  'error: a root tbf is there already (stopped half-way, the first command applied)': {
    setup: [tbfCommand(VETH, tbfFor(125_000, 3028))],
    calls: [{ batch: [tbfCommand(IFB, tbfFor(125_000, 3028)), tbfCommand(VETH, tbfFor(250_000, 3028))] }, SHOW],
    failing: [0],
  },
  'error: the ingress qdisc is there already': {
    setup: [['qdisc', 'add', 'dev', VETH, 'handle', 'ffff:', 'ingress']],
    calls: [{ batch: [['qdisc', 'add', 'dev', VETH, 'handle', 'ffff:', 'ingress']] }],
    failing: [0],
  },
  'error: deleting qdiscs and a filter that are not there': {
    calls: [
      { batch: [delRootTbf(VETH)] },
      { batch: [delIngress(VETH)] },
      { batch: [['filter', 'del', 'dev', VETH, 'parent', 'ffff:', 'prio', '1']] },
    ],
    failing: [0, 1, 2],
  },
  'error: listing a device that does not exist': {
    calls: [{ batch: [['qdisc', 'show', 'dev', 'nosuchdev']], options: ['-j'] }],
    failing: [0],
  },
};

for (const [name, sc] of Object.entries(SCENARIOS)) {
  test(`tc through rtnetlink = tc -batch: ${name}`, (t) => {
    const viaTc = runPath(t, sc, false);
    const viaNl = runPath(t, sc, true);
    t.is(viaNl.spawned, 0, 'the rtnetlink run starts no process');
    t.true(viaTc.spawned > 0, 'the fallback run spawns tc');
    t.deepEqual(withoutCounters(viaNl.state), withoutCounters(viaTc.state), 'the kernel state');
    t.is(viaNl.outcomes.length, viaTc.outcomes.length);
    const failed = viaTc.outcomes.flatMap((o, i) => (o.error ? [i] : []));
    t.deepEqual(failed, sc.failing ?? [], 'the calls that fail');
    for (const [i, o] of viaTc.outcomes.entries()) {
      const n = viaNl.outcomes[i]!;
      t.deepEqual(n.error, o.error, `call ${i + 1}: the error`);
      t.deepEqual(n.docs?.map(carried), o.docs?.map(carried), `call ${i + 1}: the documents`);
      if (o.docs?.length === 3 && sc.calls[i] === SHOW) {
        t.deepEqual(parseQdiscs(n.docs![0]), parseQdiscs(o.docs[0]));
        t.deepEqual(parseFilters(n.docs![1]), parseFilters(o.docs[1]));
        t.deepEqual(parseQdiscs(n.docs![2]), parseQdiscs(o.docs[2]));
      }
    }
  });
}

test('the scenarios can fail: the shaped listing shows the plugin qdiscs, the errors are errors', (t) => {
  const r = runPath(t, SCENARIOS['ADD with ingress and egress limits, then the listing']!, true);
  const [veth, filters, ifb] = r.outcomes[1]!.docs!;
  t.deepEqual(
    parseQdiscs(veth).map((q) => q.kind),
    ['tbf', 'ingress'],
  );
  t.deepEqual(
    parseFilters(filters).map((f) => f.redirects),
    [[IFB]],
  );
  t.is(parseQdiscs(ifb)[0]?.rate, 2_500_000);
  const e = runPath(t, SCENARIOS['error: the veth does not exist']!, true).outcomes[0]!.error!;
  t.is(e.kind, 'missing');
  t.is(e.object, 'nosuchveth0');
});
