#!/usr/bin/env node
// Builds a release from the multi-call bundle (`npm run build` first): for every target in
// targets.mjs, the bun-compiled executable with a hard link per plugin, the tarball
// `cni-ts-linux-<arch>-v<version>.tgz` with `.sha256`/`.sha512` files (sha256sum's format) in
// dist/release, and the contents of the npm platform package `@cni-ts/<target>` in
// packages/npm/<target>/dist/npm (published from there by lerna: publishConfig.directory).
//   node tools/release/build.mjs [--target linux-arm64]…
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUN_COMPILE_FLAGS } from '../build/bun-flags.mjs';
import { bunRuntime, root } from './fetch.mjs';
import { BUN_VERSION, TARGETS, tarballName } from './targets.mjs';

export const releaseDir = join(root, 'dist', 'release');
const json = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** The version being released: lerna.json's (fixed mode: every package has it). */
export function releaseVersion() {
  return json(join(root, 'lerna.json')).version;
}

/** The plugins the multi-call executable carries (derived by tools/build/sync.mjs). */
export function pluginNames() {
  return json(join(root, 'packages/multicall/package.json')).cni.plugins;
}

/** Runs a command, resolving with its stdout; rejects with its stderr on failure. */
export function run(cmd, args, opts = {}) {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', fail);
    child.on('close', (code, signal) =>
      code === 0 ? done(out) : fail(new Error(`${cmd} ${args.join(' ')}: ${signal ?? `exit ${code}`}\n${err}`)),
    );
  });
}

function sha(file, algorithm) {
  return createHash(algorithm).update(readFileSync(file)).digest('hex');
}

// Source time for reproducible archives: SOURCE_DATE_EPOCH, else the last commit's.
async function sourceEpoch() {
  if (process.env.SOURCE_DATE_EPOCH) return process.env.SOURCE_DATE_EPOCH;
  return (await run('git', ['log', '-1', '--format=%ct'], { cwd: root })).trim();
}

/** Compiles one target's executable into `<releaseDir>/<os>-<arch>/` with its links, then archives it. */
export async function buildTarget(target, { version, plugins, epoch }) {
  const bun = join(root, 'node_modules', '.bin', 'bun');
  const bundle = join(root, 'packages/multicall/dist/bundle/cni-ts.mjs');
  const head = readFileSync(bundle, 'utf8').slice(0, 200);
  if (!head.includes(`__CNI_TS_VERSION__ = "v${version}"`))
    throw new Error(`${bundle} does not carry v${version} (lerna.json): run \`npm run build\` first`);

  const stage = join(releaseDir, `${target.os}-${target.arch}`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  const exe = join(stage, 'cni-ts');
  // the same flags as dist/bin's executable, against the target's runtime
  await run(bun, [
    'build',
    ...BUN_COMPILE_FLAGS,
    `--target=${target.bunTarget}`,
    `--compile-executable-path=${bunRuntime(target, BUN_VERSION)}`,
    bundle,
    '--outfile',
    exe,
  ]);
  chmodSync(exe, 0o755);
  for (const p of plugins) linkSync(exe, join(stage, p));
  copyFileSync(join(root, 'LICENSE'), join(stage, 'LICENSE'));

  const tgz = join(releaseDir, tarballName(target, version));
  const tar = `tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@${epoch} -C '${stage}' -cf - . | gzip -n > '${tgz}.tmp'`;
  await run('sh', ['-c', `set -e; ${tar}`]);
  renameSync(`${tgz}.tmp`, tgz);
  for (const alg of ['sha256', 'sha512'])
    writeFileSync(`${tgz}.${alg}`, `${sha(tgz, alg)}  ${tarballName(target, version)}\n`);

  stagePlatformPackage(target, exe);
  return { target, stage, tarball: tgz, size: statSync(tgz).size };
}

/**
 * The npm platform package's published contents: its manifest with the os/cpu/libc fields that
 * make npm install it only where it runs (they cannot be in the workspace's package.json: npm
 * refuses to install a workspace for another CPU), its README and LICENSE, and bin/cni-ts.
 */
export function stagePlatformPackage(target, exe) {
  const dir = join(root, 'packages/npm', target.name);
  const pkg = json(join(dir, 'package.json'));
  const contents = join(dir, pkg.publishConfig.directory);
  rmSync(contents, { recursive: true, force: true });
  mkdirSync(join(contents, 'bin'), { recursive: true });
  const { directory: _, ...publishConfig } = pkg.publishConfig;
  const manifest = { ...pkg, os: [target.os], cpu: [target.cpu], libc: [target.libc], publishConfig };
  writeFileSync(join(contents, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const f of ['README.md', 'LICENSE']) copyFileSync(join(dir, f), join(contents, f));
  linkSync(exe, join(contents, 'bin', 'cni-ts'));
  return contents;
}

/** Builds every target (in parallel: compiling and compressing are CPU-bound, one per core). */
export async function buildRelease({ targets = TARGETS } = {}) {
  const version = releaseVersion();
  const plugins = pluginNames();
  const epoch = await sourceEpoch();
  mkdirSync(releaseDir, { recursive: true });
  const built = await Promise.all(targets.map((t) => buildTarget(t, { version, plugins, epoch })));
  writeFileSync(
    join(releaseDir, 'manifest.json'),
    `${JSON.stringify(
      {
        version,
        plugins,
        tarballs: built.map((b) => ({ target: b.target.name, file: tarballName(b.target, version), size: b.size })),
      },
      null,
      2,
    )}\n`,
  );
  return { version, plugins, built };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const want = process.argv.flatMap((a, i) => (process.argv[i - 1] === '--target' ? [a] : []));
  const targets = want.length ? TARGETS.filter((t) => want.includes(t.name)) : TARGETS;
  const start = Date.now();
  const { version, built } = await buildRelease({ targets });
  for (const b of built) console.log(`${b.tarball} (${(b.size / 2 ** 20).toFixed(1)} MiB)`);
  console.log(`release v${version} built in ${((Date.now() - start) / 1000).toFixed(1)} s`);
}
