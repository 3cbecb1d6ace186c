#!/usr/bin/env node
// The hardening suite's long mode: the crash-consistency, fuzzing and store tests with hundreds of
// trials (host-local kills) instead of CI's sample (root; throwaway namespaces only). Each file prints its seed;
// rerun a failure with the same HD_SEED and HD_TRIALS.
//   node tools/bench/hardening.mjs [--trials N] [--seed S] [--only crash|fuzz|contention|store]
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : dflt);
const trials = arg('--trials', '300');
const seed = arg('--seed', String(Date.now() % 2_147_483_647));
const only = arg('--only', undefined);
const files = ['crash', 'fuzz', 'contention', 'store']
  .filter((f) => !only || f === only)
  .map((f) => `packages/hardening/dist/test/integration/${f}.test.js`);

console.log(`hardening long mode: HD_TRIALS=${trials} HD_SEED=${seed} (${files.length} files)`);
const started = Date.now();
const r = await execa(
  'npx',
  ['ava', '--config', 'ava.integration.config.mjs', '--verbose', '--timeout', '2h', ...files],
  {
    cwd: root,
    env: { HD_TRIALS: trials, HD_SEED: seed, FORCE_COLOR: '0' },
    reject: false,
    all: true,
  },
);
for (const line of r.all.split('\n')) if (/✔|✘|ℹ|passed|failed|Counterexample|Got error/.test(line)) console.log(line);
console.log(`exit ${r.exitCode} after ${Math.round((Date.now() - started) / 1000)} s`);
process.exitCode = r.exitCode ?? 1;
