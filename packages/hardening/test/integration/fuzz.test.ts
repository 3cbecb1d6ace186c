// Property-based fuzzing of every plugin in FUZZ_SUBJECTS through its built executable, inside a
// throwaway node: damaged configs (hostile strings, wrong types, edge numbers at every key the
// plugin reads, runtimeConfig and prevResult included), damaged CNI_* variables and raw stdin.
// Every run must exit 0 with a valid result or exit 1 with a CNI error object (never a stack
// trace, a JavaScript error or a hang); a run that fails, and every verb but a successful ADD,
// leaves the node, the pod and the store exactly as they were; a successful ADD is undone by its
// DEL, leaving at most shared objects (a bridge, shared chains), never a per-pod one.
// HD_SEED replays a run (fast-check prints the counterexample and its path); HD_TRIALS sets the
// number of runs per plugin.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { ourPlugin, rootTest } from '@cni-ts/testutils';
import {
  FUZZ_SUBJECTS,
  type FuzzCase,
  type FuzzSubject,
  type Snapshot,
  type World,
  chainAdd,
  chainDel,
  conflist,
  contractProblems,
  diffState,
  dropWorld,
  fuzzCases,
  invoke,
  makeWorld,
  runSeed,
  trials,
  validEnv,
  wirePod,
  worldState,
} from '../../src/index.js';

const rt = rootTest(test, 'hardening/fuzz');
const worlds: World[] = [];
rt.after.always(async () => {
  for (const w of worlds) await dropWorld(w);
});

// Per-attachment traces: a veth or ifb, a per-container chain (CNI-<hash>, CNI-DN-<hash>), a
// rule commented with a container id, a reservation, a held lock, anything in the pod, a tbf or
// ingress qdisc (bandwidth's, on a veth or an ifb).
const PER_POD =
  /kind=(veth|ifb)|CNI-(DN-)?[0-9a-f]{16,}|id: \\?"|^\+ (reservations|heldLocks|podLinks|podAddrs):|qdiscs: qdisc (tbf|ingress) /;

for (const [index, subject] of FUZZ_SUBJECTS.entries()) {
  rt.serial(
    `fuzzed stdin, env and runtimeConfig of ${subject.label ?? subject.type}: a valid result or a CNI error, nothing left`,
    async (t) => {
      const seed = runSeed();
      const numRuns = trials(20);
      // a second subject of the same plugin gets its own sequence (the first keeps the run's seed)
      const twin = FUZZ_SUBJECTS.slice(0, index).filter((s) => s.type === subject.type).length;
      const fcSeed = (seed + 7919 * twin) | 0;
      t.log(`seed ${seed}, ${numRuns} runs (fast-check seed ${fcSeed}; replay: HD_SEED=${seed} HD_TRIALS=${numRuns})`);
      const w = await makeWorld('hdfz');
      worlds.push(w);
      writeFileSync(join(w.dir, 'plain-file'), 'not a namespace\n');
      mkdirSync(join(w.dir, 'elsewhere'));
      mkdirSync(join(w.dir, 'empty'));
      symlinkSync(join(w.dir, 'elsewhere'), join(w.dir, 'link-to-elsewhere'));
      // a node that has run pods: the bridge and the shared chains of both backends exist
      for (const b of ['iptables', 'nftables'] as const) {
        const list = conflist(w, b);
        const add = await chainAdd(w, list);
        t.true(add.ok, `warm-up ADD failed: ${add.runs.at(-1)?.stdout}`);
        await chainDel(w, list, add.lastResult);
      }
      if (subject.wired) await wirePod(w);
      let baseline: Snapshot = await worldState(w);
      const stats: Stats = { ok: 0, error: 0, codes: new Map(), internal: [] };
      await fc.assert(
        fc.asyncProperty(fuzzCases(subject, w), async (c) => {
          const problems = await runCase(w, subject.type, c, baseline, stats);
          if (problems.length) throw new Error(`${problems.join('\n')}\ncase: ${describe(c)}`);
          if (c.command === 'ADD') baseline = await worldState(w);
        }),
        { seed: fcSeed, numRuns, endOnFailure: true, includeErrorInReport: true },
      );
      t.log(`exit 0: ${stats.ok}, exit 1: ${stats.error}, codes ${JSON.stringify(Object.fromEntries(stats.codes))}`);
      // code 999 keeps the contract but says "we did not foresee this": each is worth a look
      for (const m of stats.internal) t.log(`code 999: ${m}`);
      for (const r of REGRESSIONS.filter((x) => x.subject === (subject.label ?? subject.type))) {
        const c = r.make(w, subject);
        const problems = await runCase(w, subject.type, c, baseline, stats);
        t.deepEqual(problems, [], `regression: ${r.what}`);
        if (c.command === 'ADD') baseline = await worldState(w);
      }
      t.pass();
    },
  );
}

// Cases the fuzzing found, replayed on every run with the same judge (after the random ones).
const REGRESSIONS: Array<{ what: string; subject: string; make: (w: World, s: FuzzSubject) => FuzzCase }> = [
  {
    what: 'bandwidth ADD with a prevResult naming no interface, DEL with its result (the veth kept its qdiscs; seed 424243)',
    subject: 'bandwidth (runtimeConfig.bandwidth)',
    make: (w, s) => ({
      command: 'ADD',
      config: { ...s.base(w), prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.77.0.4/24' }] } },
      env: validEnv(s, w, 'ADD'),
      damage: ['prevResult without interfaces'],
    }),
  },
  {
    what: 'bandwidth ADD with a prevResult of unknown keys only, DEL with its result',
    subject: 'bandwidth (pod annotations)',
    make: (w, s) => ({
      command: 'ADD',
      config: { ...s.base(w), prevResult: { L3IuZC$rlR: null, g: 'DK!tE/aIn' } },
      env: validEnv(s, w, 'ADD'),
      damage: ['prevResult of unknown keys'],
    }),
  },
];

interface Stats {
  ok: number;
  error: number;
  codes: Map<number, number>;
  /** The messages of code-999 errors, with their case. */
  internal: string[];
}

async function runCase(w: World, type: string, c: FuzzCase, baseline: Snapshot, stats: Stats): Promise<string[]> {
  const plugin = ourPlugin(type);
  const version =
    typeof c.config === 'object' && typeof c.config.cniVersion === 'string' ? c.config.cniVersion : undefined;
  const r = await invoke({ plugin, inNetns: w.node.node.name, env: c.env, config: c.config, hangMs: 20_000 });
  const problems = contractProblems(c.command, r, version).map((p) => `${type} ${c.command}: ${p}`);
  if (r.exitCode === 0) stats.ok++;
  else {
    stats.error++;
    const code = Number(r.json?.code);
    stats.codes.set(code, (stats.codes.get(code) ?? 0) + 1);
    if (code === 999) stats.internal.push(`${JSON.stringify(r.json?.msg)} (case: ${describe(c).slice(0, 600)})`);
  }
  if (problems.length) return problems;
  if (c.command === 'ADD' && r.exitCode === 0) {
    const delConf = typeof c.config === 'object' ? { ...c.config } : c.config;
    if (typeof delConf === 'object' && type !== 'portmap' && type !== 'host-local') delConf.prevResult = r.json;
    const d = await invoke({
      plugin,
      inNetns: w.node.node.name,
      env: { ...c.env, CNI_COMMAND: 'DEL' },
      config: delConf,
      hangMs: 20_000,
    });
    if (d.exitCode !== 0) return [`${type} DEL after a successful ADD failed: ${d.stdout}${d.stderr}`];
    const left = diffState(baseline, await worldState(w)).filter((l) => l.startsWith('-') || PER_POD.test(l));
    return left.length ? [`left after ADD and DEL: ${left.join(' | ')}`] : [];
  }
  const left = diffState(baseline, await worldState(w));
  return left.length ? [`${type} ${c.command} exit ${r.exitCode} changed the node: ${left.join(' | ')}`] : [];
}

function describe(c: FuzzCase): string {
  return JSON.stringify({ command: c.command, damage: c.damage, env: c.env }).slice(0, 1500);
}
