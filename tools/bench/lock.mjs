#!/usr/bin/env node
// The host-local store lock (see docs/host-local.md), in bun-compiled executables like the plugins:
//  1. what taking a free lock costs, per mechanism (hyperfine);
//  2. how fair waiting is: many processes contending for one lock file, each taking it once and
//     holding it a few milliseconds (a host-local ADD), for our lockFile, the LOCK_NB polling it
//     replaced, LOCK_NB then a Worker thread blocking in flock(2), and a blocking flock(2) as Go's
//     host-local (go-filemutex) waits — alone and mixed with it.
// Needs hyperfine, util-linux flock and a built packages/process.
//   node tools/bench/lock.mjs [--runs N] [--hold MS] [--parallel N] [--rounds N] [--repeat N]
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hyperfine, root, scratch } from './lib.mjs';
import { BUN_COMPILE_FLAGS } from '../build/bun-flags.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const runs = arg('runs', 60);
const holdMs = arg('hold', 2);
const parallel = arg('parallel', 50);
const rounds = arg('rounds', 6);
const repeat = arg('repeat', 3);
const { dir, cleanup } = scratch();
const lockModule = join(root, 'packages', 'process', 'dist', 'src', 'lock.js');
const bun = join(root, 'node_modules', '.bin', 'bun');
const lockPath = join(dir, 'lock');

function compile(name, code) {
  const src = join(dir, `${name}.mjs`);
  const exe = join(dir, name);
  writeFileSync(src, code);
  execFileSync(bun, ['build', ...BUN_COMPILE_FLAGS, src, '--outfile', exe], { stdio: 'ignore' });
  return exe;
}

// --- 1. the cost of a free lock -------------------------------------------------------------

const programs = {
  // the floor: open the lock file and exit
  'open only': `import { openSync, constants } from 'node:fs'; openSync(${JSON.stringify(lockPath)}, constants.O_CREAT | constants.O_RDONLY, 0o750);`,
  // what the plugins do: flock(2) LOCK_NB through bun:ffi, which takes a free lock
  'flock(2) via bun:ffi': `import { lockFile } from ${JSON.stringify(lockModule)}; lockFile(${JSON.stringify(lockPath)}).then((l) => { if (l.via !== 'ffi') throw new Error(l.via); l.release(); });`,
  // what a busy lock costs on top: flock(1) locks our inherited descriptor and exits
  'flock(1) on our descriptor': `import { lockFile } from ${JSON.stringify(lockModule)}; lockFile(${JSON.stringify(lockPath)}, { forceHelper: true }).then((l) => l.release());`,
  // the alternative we did not take: a flock(1) child that holds the lock until our stdin closes
  'flock(1) child holding it': `import { spawn } from 'node:child_process';
    const c = spawn('flock', [${JSON.stringify(lockPath)}, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    c.stdout.once('data', () => c.stdin.end());`,
};

// --- 2. fairness ------------------------------------------------------------------------------

// One contender: <rounds> times, takes the lock with <mode>, holds it <hold> ms, lets it go and
// pauses 0-20 ms (new work arriving); appends "<mode> <requested µs> <acquired µs> <released µs>"
// per round to <log>. Wall-clock µs: Bun's process.hrtime counts from its own start, so it
// cannot order events across processes.
const contender = `
import { dlopen, FFIType } from 'bun:ffi';
import { appendFileSync, closeSync, constants, openSync } from 'node:fs';
import { lockFile } from ${JSON.stringify(lockModule)};
const [path, log, mode, hold, rounds] = process.argv.slice(2);
const now = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const { symbols: c } = dlopen('libc.so.6', { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
const EX = 2, NB = 4;
// the scheme lockFile replaced: LOCK_NB polled with a jittered 1-16 ms back-off
async function poll(fd) {
  for (let wait = 1; c.flock(fd, EX | NB) !== 0; wait = Math.min(wait * 2, 16))
    await new Promise((r) => setTimeout(r, wait * (0.5 + Math.random())));
}
// the alternative with a thread: LOCK_NB, then a Worker blocking in flock(2) (a timeout would
// have to leave that thread blocked and end the process)
function viaWorker(fd) {
  if (c.flock(fd, EX | NB) === 0) return Promise.resolve();
  const src = "const { dlopen, FFIType } = require('bun:ffi');" +
    "const { symbols } = dlopen('libc.so.6', { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });" +
    'self.onmessage = (e) => postMessage(symbols.flock(e.data, 2));';
  const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'application/javascript' })));
  return new Promise((r) => {
    w.onmessage = () => {
      w.terminate();
      r();
    };
    w.postMessage(fd);
  });
}
async function take() {
  if (mode === 'ours') {
    const l = await lockFile(path, { timeoutMs: 60000 });
    return () => l.release();
  }
  const fd = openSync(path, constants.O_RDONLY | constants.O_CREAT, 0o750);
  if (mode === 'poll') await poll(fd);
  else if (mode === 'worker') await viaWorker(fd);
  else if (c.flock(fd, EX) !== 0) throw new Error('flock'); // 'go': a blocking flock(2), as go-filemutex waits
  return () => closeSync(fd);
}
const lines = [];
async function round() {
  const t0 = now();
  const release = await take();
  const t1 = now();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(hold));
  const t2 = now();
  release();
  lines.push(mode + ' ' + t0 + ' ' + t1 + ' ' + t2);
}
async function main() {
  for (let i = 0; i < Number(rounds); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, Math.random() * 20));
    await round();
  }
  appendFileSync(log, lines.join('\\n') + '\\n');
}
main(); // no top-level await: --bytecode compiles to CommonJS
`;

/**
 * Runs `width` contenders of `rounds` rounds each, modes taken in turn from `modes`, all queued
 * behind a held lock at first so they contend from the start. Returns the acquisitions, ordered
 * by when they got the lock.
 */
async function contend(exe, modes, width, rounds) {
  const log = join(dir, 'fair.log');
  rmSync(log, { force: true });
  const gate = spawn('flock', [lockPath, 'sleep', '2'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 100));
  await Promise.all(
    Array.from(
      { length: width },
      (_, i) =>
        new Promise((r) =>
          spawn(exe, [lockPath, log, modes[i % modes.length], String(holdMs), String(rounds)], {
            stdio: 'inherit',
          }).once('close', r),
        ),
    ),
  );
  await new Promise((r) => (gate.exitCode !== null ? r() : gate.once('close', r)));
  return readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const [mode, req, got, rel] = l.split(' ');
      return { mode, req: Number(req), got: Number(got), rel: Number(rel) };
    })
    .sort((a, b) => a.got - b.got);
}

/**
 * Per mode: the wait (from the later of its request and the gate opening), and how many
 * contenders that asked after it were served before it ("overtaken"; 0 in a first-come,
 * first-served queue), with the queue it found (asked before it, not yet served) for scale.
 */
function fairness(acq) {
  const open = acq[0].got;
  const out = {};
  for (const x of acq) {
    const from = Math.max(x.req, open);
    const overtaken = acq.filter((y) => y.req > x.req && y.got < x.got).length;
    const ahead = acq.filter((y) => y !== x && y.req < x.req && y.got > x.req).length;
    (out[x.mode] ??= []).push({ wait: (x.got - from) / 1000, overtaken, ahead });
  }
  const span = (acq[acq.length - 1].rel - open) / 1000;
  return { span, modes: out };
}

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];

function summarise(name, results) {
  // results: one fairness() per repetition; figures pooled over repetitions
  const modes = {};
  for (const r of results) for (const [m, xs] of Object.entries(r.modes)) (modes[m] ??= []).push(...xs);
  const rows = [];
  for (const [m, xs] of Object.entries(modes)) {
    const w = xs.map((x) => x.wait).sort((a, b) => a - b);
    const o = xs.map((x) => x.overtaken).sort((a, b) => a - b);
    const ahead = Math.max(...xs.map((x) => x.ahead));
    const span = results.map((r) => r.span).sort((a, b) => a - b);
    rows.push(
      `| ${name} | ${m} | ${pct(w, 0.5).toFixed(0)} | ${pct(w, 0.99).toFixed(0)} | ${w[w.length - 1].toFixed(0)} | ${pct(o, 0.5)} / ${pct(o, 0.99)} / ${o[o.length - 1]} | ${ahead} | ${pct(span, 0.5).toFixed(0)} |`,
    );
  }
  return rows;
}

try {
  const commands = Object.entries(programs).map(([name, code], i) => [name, compile(`p${i}`, code)]);
  const res = await hyperfine(commands, { runs, dir, shell: false });
  console.log(`\nstore lock, bun-compiled (${new Date().toISOString().slice(0, 10)}, ${runs} runs each, hyperfine -N)`);
  console.log('| mechanism | mean ± σ (ms) | over "open only" (ms) |');
  console.log('|---|---|---|');
  const base = res['open only'].mean;
  for (const [name] of commands)
    console.log(
      `| ${name} | ${res[name].mean.toFixed(2)} ± ${res[name].stddev.toFixed(2)} | ${(res[name].mean - base).toFixed(2)} |`,
    );

  const exe = compile('contender', contender);
  const scenarios = [
    [`${parallel} parallel, once each`, parallel, 1],
    [`${parallel} parallel, ${rounds} rounds each`, parallel, rounds],
  ];
  const mixes = [['ours'], ['poll'], ['worker'], ['go'], ['ours', 'go'], ['poll', 'go']];
  console.log(
    `\nwaiting for the lock: ${holdMs} ms holds, ${repeat} repetitions pooled; waits in ms; "overtaken" = later arrivals served first (median / p99 / max; 0 when first come, first served)`,
  );
  console.log('| scenario | mechanism | wait median | p99 | max | overtaken | largest queue found | run (ms) |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [name, width, total] of scenarios) {
    for (const mix of mixes) {
      const results = [];
      for (let i = 0; i < repeat; i++) results.push(fairness(await contend(exe, mix, width, total)));
      for (const row of summarise(`${name}${mix.length > 1 ? `, ${mix.join(' + ')}` : ''}`, results)) console.log(row);
    }
  }
} finally {
  cleanup();
}
