#!/usr/bin/env node
// The whole test suite: builds (nx, cached), then runs each ava tier with the TAP reporter, and
// ends with one plain "N passed, N failed" line summing every test it ran.
// Lint and format (biome) count as one test, and so does the quick bench (root; never times);
// a tier selected with --tier skips both.
// The release tier is the release dry run (tools/release/dry-run): `npm run release:dry`.
//   node tools/test-runner/run.mjs [--tier unit|integration|release] [--no-build]
import { spawn, spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTap } from './tap.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
const only = argv.includes('--tier') ? argv[argv.indexOf('--tier') + 1] : undefined;
const isRoot = process.getuid?.() === 0;
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', FORCE_COLOR: '0' };

if (!argv.includes('--no-build')) {
  const b = spawnSync('npx', ['nx', 'run-many', '-t', 'build', 'package', '--output-style=static'], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  if (b.status !== 0) {
    console.log('build failed');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

const tiers = [
  { name: 'unit', config: 'ava.unit.config.mjs' },
  { name: 'integration', config: 'ava.integration.config.mjs' },
  { name: 'release', config: 'ava.release.config.mjs' },
].filter((t) => !only || t.name === only);

let passed = 0;
let failed = 0;
let skipped = 0;
if (!only) {
  console.log('\n=== lint and format (biome ci) ===');
  const l = spawnSync('npx', ['biome', 'ci', '.'], { cwd: root, env, stdio: 'inherit' });
  if (l.status === 0) passed += 1;
  else {
    console.log('# lint: failed (run `npm run format` to fix formatting, `npm run lint` to see the rest)');
    failed += 1;
  }
}
for (const tier of tiers) {
  console.log(`\n=== ${tier.name} tests ===`);
  const r = await runAva(tier.config);
  console.log(`# ${tier.name}: ${r.pass} passed, ${r.fail} failed, ${r.skip} skipped (ava exit ${r.code})`);
  passed += r.pass;
  failed += r.fail;
  skipped += r.skip;
  if (r.code !== 0 && r.fail === 0) failed += 1; // ava failed outside any test (a crash, a timeout)
  if (tier.name !== 'unit' && isRoot && r.rootSkips > 0) {
    console.log(`# ${r.rootSkips} integration file(s) skipped for lack of root although we are root`);
    failed += r.rootSkips;
  }
  if (tier.name === 'integration' && !isRoot)
    console.log('# not root: integration tests were skipped (CI runs them as root)');
}
// A short bench (tools/bench, --quick: seconds) so regressions show in every CI log. It counts as
// one test that fails only when a plugin operation failed; times are reported, never asserted.
if (!only && isRoot) {
  console.log('\n=== bench, quick (reports ours vs Go; never asserts a time) ===');
  const b = spawnSync('node', ['tools/bench/run.mjs', '--quick', '--no-build'], { cwd: root, env, stdio: 'inherit' });
  if (b.status === 0) passed += 1;
  else {
    console.log('# bench: an operation failed (see above)');
    failed += 1;
  }
}
if (skipped) console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;

function runAva(config) {
  return new Promise((done) => {
    const child = spawn('npx', ['ava', '--config', config, '--tap'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d) => {
      err += d;
      process.stderr.write(d);
    });
    child.on('close', (code) => {
      const counts = parseTap(out);
      const rootSkips = (err.match(/^# SKIP .*need root/gm) ?? []).length;
      done({ ...counts, code: code ?? 1, rootSkips });
    });
  });
}
