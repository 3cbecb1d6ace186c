#!/usr/bin/env node
// The bench: our plugins against Debian's Go reference plugins (/usr/lib/cni), measured in the
// same run and interleaved (ours, Go, Go, ours, …), through one runtime on upstream libcni
// (tools/bench/runtime), inside throwaway namespaces only. Needs root, Go + libcni's source
// (tools/setup-debian.sh). Builds what it needs, then prints one table: medians, ratios and the
// issue's goals. It reports times and never fails on one; it exits 1 when an operation failed.
// Both sides run from copies read back from disk (setup.mjs installCopies: page cache alike); ours
// then warmed as the node agent warms the executables at its start (--cold: not, as on a node
// running them without the agent).
//   npm run bench -- [--quick] [--reps N] [--pods N] [--parallel N] [--rounds N] [--no-build] [--json FILE]
//                    [--cold]                (ours not warmed by the agent's warm-up: exec reads it back)
//                    [--variant exec-ipam]   (also measure ours with host-local exec'd instead of in-process)
//                    [--variant ip-batch]    (also measure ours with every ip batch spawned, no rtnetlink)
//                    [--variant bin=<dir>]   (also measure another build of ours, "base": a copy of dist/bin from before a change)
//                    [--variant tc-batch]    (also measure ours with tc batches spawned, ip batches through rtnetlink)
//                    [--variant unwarmed]    (also measure ours not warmed: the agent's warm-up A/B)
//                    [--variant setns-only]  (also measure ours with the node entered by setns alone: the root's /sys)
//                    [--variant go-setns-only] (the same for Go's plugins, against Go's)
// --quick (CI): 5 repetitions, a 20-pod slope, 5 pods in parallel once.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { root, scratch } from './lib.mjs';
import { podCycles, parallelRuns, peakMemory, sizes, slopeRun, versionRuns } from './scenarios.mjs';
import { IMPLS, Namespaces, addVariant, has, installCopies, writeConfigs } from './setup.mjs';
import { buildRuntime } from './runtime.mjs';
import { printReport } from './report.mjs';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const num = (name, full, short) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : quick ? short : full;
};
const opts = {
  reps: num('reps', 30, 5),
  pods: num('pods', 250, 20),
  parallel: num('parallel', 20, 5),
  rounds: num('rounds', 3, 1),
};
const jsonOut = argv.includes('--json') ? argv[argv.indexOf('--json') + 1] : undefined;

if (process.getuid?.() !== 0) {
  console.error('bench: needs root (it makes network namespaces); nothing was run');
  process.exit(1);
}
if (!argv.includes('--no-build')) {
  const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (b.status !== 0) throw new Error('npm run build failed');
}

const { dir, cleanup } = scratch();
const ns = new Namespaces(`pf${process.pid.toString(36)}`);
const load = [loadavg()];
const started = Date.now();
try {
  const runtime = buildRuntime(dir);
  installCopies(dir, { warm: !argv.includes('--cold') });
  for (const [i, a] of argv.entries()) if (a === '--variant') addVariant(argv[i + 1], dir);
  const bandwidth = has('ours', 'bandwidth') && has('go', 'bandwidth');
  const conf = writeConfigs(dir, { bandwidth });
  const nodes = Object.fromEntries(Object.keys(IMPLS).map((impl, i) => [impl, ns.add([`n${i}`])[0]]));
  const ctx = { runtime, conf, nodes, ns, opts };
  const results = {
    version: versionRuns(ctx),
    cycles: podCycles(ctx),
    slope: slopeRun(ctx),
    parallel: parallelRuns(ctx),
  };
  results.memory = peakMemory(ctx);
  results.sizes = sizes(bandwidth);
  load.push(loadavg());
  const machine = describeMachine(load, Date.now() - started);
  machine.pageCache = argv.includes('--cold')
    ? 'both read back from disk by exec (--cold)'
    : 'both read back from disk; ours then warmed as the node agent does at its start';
  // an operation that failed is a bug (the exit code says so); a time never is
  if (printReport({ machine, opts, bandwidth, results }) > 0) process.exitCode = 1;
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ machine, opts, bandwidth, results }, null, 1));
} finally {
  ns.drop();
  cleanup();
}

function describeMachine(loads, ms) {
  const q = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' }).stdout?.trim() ?? '?';
  return {
    date: new Date().toISOString().slice(0, 16).replace('T', ' '),
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    kernel: q('uname', ['-r']),
    bun: q(`${root}/node_modules/.bin/bun`, ['--version']),
    goPlugins: q('dpkg-query', ['-W', '-f', `$\{Version}`, 'containernetworking-plugins']),
    load: loads.map((l) => l.map((x) => x.toFixed(1)).join(' ')),
    seconds: Math.round(ms / 1000),
  };
}
