// The bench's scenarios, each measured for both implementations in one runtime job, interleaved
// (even repetitions ours first, odd ones Go first) so a change of machine load hits both alike.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { runJob } from './runtime.mjs';
import { IMPLS, implNames, op } from './setup.mjs';
import { median, slopes } from './stats.mjs';

const order = (r, names = implNames()) => (r % 2 ? [...names].reverse() : names);
// the node-filling scenarios compare ours with Go only (a variant measures a means per pod cycle)
const PAIR = ['ours', 'go'];
const tagOf = (impl) => implNames().indexOf(impl);
const POD_LISTS = ['lo', 'net'];

/** Milliseconds (wall, or `field` 'cpuMs') of a sample's plugin executions matching plugin/cmd (undefined: any). */
export function execMs(sample, plugin, cmd, field = 'ms') {
  return sample.execs
    .filter((e) => (!plugin || e.plugin === plugin) && (!cmd || e.cmd === cmd))
    .reduce((a, e) => a + e[field], 0);
}

function failures(samples) {
  return samples.filter((s) => !s.ok).map((s) => `${s.id}: ${s.error}`);
}

/** VERSION of loopback: the cost of starting a plugin process. */
export function versionRuns({ runtime, conf, nodes, opts }) {
  const groups = [];
  for (let r = 0; r < opts.reps * 2; r++)
    for (const impl of order(r)) groups.push([op(conf, impl, 'VERSION', ['lo'], { id: impl, node: nodes[impl] })]);
  const samples = runJob(runtime, groups);
  return {
    ...byImpl(samples, (s) => execMs(s, 'loopback')),
    cpu: byImpl(samples, (s) => execMs(s, 'loopback', undefined, 'cpuMs')),
  };
}

/**
 * One pod added and deleted again, reps times: every plugin's ADD and DEL on a node with no other
 * pod, and the whole chain (lo list, then bridge + host-local, portmap, bandwidth) ADD + DEL.
 */
export function podCycles({ runtime, conf, nodes, ns, opts }) {
  const pods = Object.fromEntries(implNames().map((impl) => [impl, ns.add([`c${tagOf(impl)}`])[0]]));
  const groups = [];
  for (let r = 0; r < opts.reps; r++) {
    for (const cmd of ['ADD', 'DEL'])
      for (const impl of order(r))
        groups.push([op(conf, impl, cmd, POD_LISTS, { id: `${impl} ${cmd}`, node: nodes[impl], pod: pods[impl] })]);
  }
  const samples = runJob(runtime, groups);
  ns.drop(Object.values(pods));
  const add = (impl) => samples.filter((s) => s.id === `${impl} ADD`);
  const del = (impl) => samples.filter((s) => s.id === `${impl} DEL`);
  const rows = {};
  const cpu = {};
  const row = (name, f) => {
    for (const [out, field] of [
      [rows, 'ms'],
      [cpu, 'cpuMs'],
    ])
      out[name] = Object.fromEntries(
        implNames().map((impl) => [impl, median(add(impl).map((s, i) => f(s, del(impl)[i], field)))]),
      );
  };
  const both = (a, d, plugin, f) => execMs(a, plugin, undefined, f) + execMs(d, plugin, undefined, f);
  row('loopback ADD', (a, _, f) => execMs(a, 'loopback', 'ADD', f));
  row('bridge + host-local ADD', (a, _, f) => execMs(a, 'bridge', 'ADD', f));
  row('bridge + host-local DEL', (_, d, f) => execMs(d, 'bridge', 'DEL', f));
  row('portmap ADD + DEL', (a, d, f) => both(a, d, 'portmap', f));
  row('bandwidth ADD + DEL', (a, d, f) => both(a, d, 'bandwidth', f));
  row('whole chain ADD + DEL (plugin executions)', (a, d, f) => both(a, d, undefined, f));
  rows['whole chain ADD + DEL (runtime wall, libcni included)'] = Object.fromEntries(
    implNames().map((impl) => [impl, median(add(impl).map((s, i) => s.wallMs + del(impl)[i].wallMs))]),
  );
  return { rows, cpu, failures: failures(samples), samples };
}

/**
 * `pods` pods added one after another to one node (ours and Go alternating, each on its own
 * node), then deleted: the per-pod chain ADD cost against the number of pods already there.
 */
export function slopeRun({ runtime, conf, nodes, ns, opts }) {
  const n = opts.pods;
  const pods = Object.fromEntries(
    PAIR.map((impl) => [impl, ns.add(Array.from({ length: n }, (_, i) => `s${tagOf(impl)}-${i}`))]),
  );
  const groups = [];
  for (const cmd of ['ADD', 'DEL'])
    for (let i = 0; i < n; i++)
      for (const impl of order(i, PAIR))
        groups.push([
          op(conf, impl, cmd, POD_LISTS, { id: `${impl} ${cmd}`, node: nodes[impl], pod: pods[impl][i], podIndex: i }),
        ]);
  const samples = runJob(runtime, groups);
  for (const impl of PAIR) ns.drop(pods[impl]);
  const out = { pods: n, failures: failures(samples), samples, impl: {} };
  for (const impl of PAIR) {
    const adds = samples.filter((s) => s.id === `${impl} ADD`);
    const series = (plugin, field = 'ms') => adds.map((s) => execMs(s, plugin, 'ADD', field));
    const chain = series();
    const k = Math.min(10, Math.floor(n / 2));
    // per plugin, wall and CPU: loopback works in the pod only, so its slope is the machine's drift
    const plugins = [...new Set(adds.flatMap((s) => s.execs.map((e) => e.plugin)))];
    out.impl[impl] = {
      first: median(chain.slice(0, k)),
      last: median(chain.slice(-k)),
      chain: slopes(chain),
      chainCpu: slopes(series(undefined, 'cpuMs')),
      bridge: slopes(series('bridge')),
      portmap: slopes(series('portmap')),
      byPlugin: Object.fromEntries(
        plugins.map((p) => [p, { wall: slopes(series(p)), cpu: slopes(series(p, 'cpuMs')) }]),
      ),
      delMedian: median(samples.filter((s) => s.id === `${impl} DEL`).map((s) => execMs(s, undefined, 'DEL'))),
    };
  }
  return out;
}

/** `parallel` pods ADDed at once, then DELed at once, `rounds` times per implementation. */
export function parallelRuns({ runtime, conf, nodes, ns, opts }) {
  const k = opts.parallel;
  const pods = Object.fromEntries(
    PAIR.map((impl) => [impl, ns.add(Array.from({ length: k }, (_, i) => `q${tagOf(impl)}-${i}`))]),
  );
  const groups = [];
  for (let r = 0; r < opts.rounds; r++)
    for (const impl of order(r, PAIR))
      for (const cmd of ['ADD', 'DEL'])
        groups.push(
          pods[impl].map((pod, i) =>
            op(conf, impl, cmd, POD_LISTS, { id: `${impl} ${cmd} ${r}`, node: nodes[impl], pod, podIndex: 1000 + i }),
          ),
        );
  const samples = runJob(runtime, groups);
  for (const impl of PAIR) ns.drop(pods[impl]);
  const wall = (id) => {
    const g = samples.filter((s) => s.id === id);
    return Math.max(...g.map((s) => s.startMs + s.wallMs)) - Math.min(...g.map((s) => s.startMs));
  };
  const impl = {};
  for (const name of PAIR) {
    const rounds = Array.from({ length: opts.rounds }, (_, r) => ({
      add: wall(`${name} ADD ${r}`),
      del: wall(`${name} DEL ${r}`),
    }));
    impl[name] = {
      add: median(rounds.map((x) => x.add)),
      del: median(rounds.map((x) => x.del)),
      total: median(rounds.map((x) => x.add + x.del)),
      failed: samples.filter((s) => s.id.startsWith(`${name} `) && !s.ok).length,
    };
  }
  return { pods: k, rounds: opts.rounds, impl, failures: failures(samples) };
}

/**
 * Peak resident memory per plugin run (KiB, the highest seen and the median): pod cycles with
 * every plugin run under GNU time (see tools/bench/runtime), three per implementation.
 */
export function peakMemory({ runtime, conf, nodes, ns }) {
  const pods = Object.fromEntries(PAIR.map((impl) => [impl, ns.add([`m${tagOf(impl)}`])[0]]));
  const groups = [];
  for (let r = 0; r < 3; r++)
    for (const cmd of ['ADD', 'DEL'])
      for (const impl of order(r, PAIR))
        groups.push([op(conf, impl, cmd, POD_LISTS, { id: impl, node: nodes[impl], pod: pods[impl], memory: true })]);
  const samples = runJob(runtime, groups);
  ns.drop(Object.values(pods));
  const out = {};
  for (const s of samples) {
    const impl = s.id.split(' ')[0];
    for (const e of s.execs) {
      const key = `${e.plugin} ${e.cmd}`;
      out[key] ??= {};
      out[key][impl] ??= [];
      out[key][impl].push(e.maxRssKiB);
    }
  }
  const byPlugin = Object.fromEntries(
    Object.entries(out).map(([key, v]) => [
      key,
      Object.fromEntries(Object.entries(v).map(([impl, xs]) => [impl, { max: Math.max(...xs), median: median(xs) }])),
    ]),
  );
  return { byPlugin, failures: failures(samples) };
}

/** Bytes on disk: ours is one executable (the plugins are hard links to it); Go's are one per plugin. */
export function sizes(bandwidth) {
  const types = ['loopback', 'bridge', 'host-local', 'portmap', ...(bandwidth ? ['bandwidth'] : [])];
  const go = Object.fromEntries(types.map((t) => [t, statSync(join(IMPLS.go, t)).size]));
  return {
    ours: statSync(join(IMPLS.ours, 'cni-ts')).size,
    go,
    goChain: Object.values(go).reduce((a, b) => a + b, 0),
    types,
  };
}

function byImpl(samples, f) {
  return {
    ...Object.fromEntries(implNames().map((impl) => [impl, median(samples.filter((s) => s.id === impl).map(f))])),
    failures: failures(samples),
  };
}
