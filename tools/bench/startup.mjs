#!/usr/bin/env node
// What each import and spawn costs at start-up in a bun-compiled executable (the packaging we
// ship). Compiles small probe programs with the same bun flags as tools/build/compile.mjs and
// times them with hyperfine -N. Figures go to docs/startup.md.
//   node tools/bench/startup.mjs [--runs N] [--compare DIR]
// --compare DIR: only time our loopback's VERSION and (as root, in a throwaway netns) ADD from
// DIR (an earlier build of dist/bin, e.g. copied before a change) against the current dist/bin,
// alternating between the two, and print after/before.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { BUN_COMPILE_FLAGS } from '../build/bun-flags.mjs';
import { go, hyperfine, namespaces, ours, root, scratch } from './lib.mjs';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 40;
const compareDir = process.argv.includes('--compare') ? process.argv[process.argv.indexOf('--compare') + 1] : undefined;
if (compareDir) {
  await compare(compareDir);
  process.exit(0);
}
const work = join(root, 'tools', 'bench', '.work'); // inside the repo so imports resolve
mkdirSync(work, { recursive: true });
const { dir, cleanup } = scratch();

// a probe whose code imports ./lazy.mjs only when asked to (never, here)
const LAZY = "if (process.env.NEVER_SET) { const m = await import('./lazy.mjs'); await m.run(); }";

const probes = {
  'empty program': 'process.exitCode = 0;',
  'import zod/mini (no schema)': "import * as z from 'zod/mini'; if (!z) process.exitCode = 1;",
  'import zod (full, no schema)': "import * as z from 'zod'; if (!z) process.exitCode = 1;",
  '@cni-ts/types: build result schemas + parse one result':
    "import { parseResult } from '@cni-ts/types'; parseResult({cniVersion:'1.0.0', ips:[{address:'10.0.0.2/24'}]}, '1.0.0');",
  'one spawnSync(ip -V)': "import { spawnSync } from 'node:child_process'; spawnSync('ip', ['-V']);",
  'one spawnSync(nsenter --net=… ip -V)':
    "import { spawnSync } from 'node:child_process'; spawnSync('nsenter', ['--net=/proc/self/ns/net', '--', 'ip', '-V']);",
  // Bun's node:* modules are JavaScript evaluated at load (docs/startup.md)
  'import node:fs': "import { writeSync } from 'node:fs'; if (!writeSync) process.exitCode = 1;",
  'import node:child_process': "import { spawnSync } from 'node:child_process'; if (!spawnSync) process.exitCode = 1;",
  'import node:fs + node:child_process + node:path':
    "import { writeSync } from 'node:fs'; import { spawnSync } from 'node:child_process'; import { join } from 'node:path'; if (!writeSync || !spawnSync || !join) process.exitCode = 1;",
  // @cni-ts/process loads node:child_process at the first spawn with a literal require()
  "require('node:child_process') in a function, not called":
    "const cp = () => require('node:child_process'); if (process.env.NEVER_SET) cp();",
  'Bun.write(Bun.stdout) of a VERSION answer': "await Bun.write(Bun.stdout, '{}\\n');",
  'bun:ffi: dlopen of 4 libc symbols (the rtnetlink socket)':
    "const { dlopen, FFIType: { i32, ptr } } = require('bun:ffi'); dlopen('libc.so.6', { socket: { args: [i32, i32, i32], returns: i32 }, setns: { args: [i32, i32], returns: i32 }, setsockopt: { args: [i32, i32, i32, ptr, i32], returns: i32 }, __errno_location: { args: [], returns: ptr } });",
  'import execa (no call)': "import { execa } from 'execa'; if (!execa) process.exitCode = 1;",
  'import execa + one execa(ip -V)': "import { execa } from 'execa'; await execa('ip', ['-V']);",
  // the multi-call executable's CLI: execa behind an import() a plugin run never takes
  'lazy import() of execa, not taken, without --splitting': LAZY,
  'lazy import() of execa, not taken, --splitting (as shipped)': LAZY,
};
const LAZY_SIDE = "import { execa } from 'execa'; export const run = () => execa('ip', ['-V']);";

try {
  const bun = join(root, 'node_modules', '.bin', 'bun');
  const cmds = [];
  let i = 0;
  for (const [name, code] of Object.entries(probes)) {
    const src = join(work, `probe${i}.mjs`);
    const exe = join(dir, `probe${i}`);
    writeFileSync(src, `${code}\n`);
    writeFileSync(join(work, 'lazy.mjs'), `${LAZY_SIDE}\n`);
    // as shipped (BUN_COMPILE_FLAGS), except the one probe that shows what --splitting does
    const flags = name.includes('without --splitting')
      ? BUN_COMPILE_FLAGS.filter((f) => f !== '--splitting')
      : BUN_COMPILE_FLAGS;
    execFileSync(bun, ['build', ...flags, src, '--outfile', exe], { stdio: 'ignore' });
    cmds.push([name, exe]);
    i += 1;
  }
  cmds.push(['cni-ts loopback VERSION (whole plugin)', `env CNI_COMMAND=VERSION ${ours('loopback')}`]);
  cmds.push(['Go loopback VERSION', `env CNI_COMMAND=VERSION ${go('loopback')}`]);
  cmds.push(['env alone (what the two VERSION rows above include)', 'env CNI_COMMAND=VERSION true']);
  cmds.push(['node -e 0 (for scale)', 'node -e 0']);
  const res = await hyperfine(
    cmds.map(([n, c]) => [n, c]),
    { runs, dir, shell: false },
  );
  const base = res['empty program'].mean;
  console.log(`\nstart-up costs in a bun-compiled executable (${runs} runs, hyperfine -N)`);
  const baseCpu = res['empty program'].cpu;
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log('| program | mean (ms) | over empty (ms) | CPU, user + system (ms) | CPU over empty (ms) |');
  console.log('|---|---|---|---|---|');
  for (const [name] of cmds) {
    const r = res[name];
    console.log(
      `| ${name} | ${r.mean.toFixed(2)} ± ${r.stddev.toFixed(2)} | ${(r.mean - base).toFixed(2)} | ${r.cpu.toFixed(2)} | ${(r.cpu - baseCpu).toFixed(2)} |`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
  cleanup();
}

// Our loopback from an earlier build against the current one: VERSION, and ADD as root. The two
// builds run alternately (before, after, before, …) so a change in machine load hits both alike;
// medians and 10th percentiles are reported, which a loaded machine's outliers do not move.
async function compare(before) {
  const { dir: tmp, cleanup: done } = scratch();
  const ns = `ctsbench${process.pid.toString(36)}`;
  const asRoot = process.getuid?.() === 0;
  const removeNs = asRoot ? await namespaces([ns]) : async () => {};
  try {
    const conf = JSON.stringify({ cniVersion: '1.1.0', name: 'bench', type: 'loopback' });
    const builds = { before: join(before, 'loopback'), after: ours('loopback') };
    const verbs = asRoot ? ['VERSION', 'ADD'] : ['VERSION'];
    const env = (verb) => ({
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: verb,
      CNI_CONTAINERID: 'bench',
      CNI_NETNS: `/run/netns/${ns}`,
      CNI_IFNAME: 'lo',
      CNI_PATH: before,
    });
    const times = {};
    for (const verb of verbs) for (const label of Object.keys(builds)) times[`${verb} ${label}`] = [];
    for (let i = 0; i < runs + 5; i++)
      for (const verb of verbs)
        for (const [label, exe] of Object.entries(builds)) {
          const t0 = process.hrtime.bigint();
          const r = spawnSync(exe, [], { input: conf, env: env(verb), stdio: ['pipe', 'ignore', 'ignore'] });
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          if (r.status !== 0) throw new Error(`${exe} ${verb} exited ${r.status}`);
          if (i >= 5) times[`${verb} ${label}`].push(ms); // the first 5 rounds warm up
        }
    const stat = (xs) => {
      const s = [...xs].sort((a, b) => a - b);
      return { median: s[Math.floor(s.length / 2)], p10: s[Math.floor(s.length / 10)] };
    };
    console.log(`\nloopback start-up, ${before} (before) against dist/bin (after), ${runs} alternating runs`);
    console.log('| what | before: median (p10) ms | after: median (p10) ms | after/before (medians) |');
    console.log('|---|---|---|---|');
    for (const verb of verbs) {
      const b = stat(times[`${verb} before`]);
      const a = stat(times[`${verb} after`]);
      const f = (x) => `${x.median.toFixed(2)} (${x.p10.toFixed(2)})`;
      console.log(`| ${verb} | ${f(b)} | ${f(a)} | ${(a.median / b.median).toFixed(2)} |`);
    }
  } finally {
    await removeNs();
    done();
  }
}
