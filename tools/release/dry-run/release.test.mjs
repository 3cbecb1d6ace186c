// The release dry run (`npm run release:dry`, and a tier of `npm test`): builds what a tag would
// publish — both architectures' tarballs and the npm packages — and checks them the way an
// operator would use them: checksums, the tarball's layout, every plugin answering VERSION, a
// loopback ADD in a netns, glibc 2.17, the arm64 executable under qemu-user-static, and the
// README's install commands run against these very files (npm through a local registry).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_VERSIONS } from '@cni-ts/types';
import { TestNode, execPlugin, isRoot, uniquePrefix } from '@cni-ts/testutils';
import test from 'ava';
import { buildRelease, releaseDir } from '../build.mjs';
import { compareVersions, newestGlibc, readElf } from '../elf.mjs';
import { glibcRoot, root } from '../fetch.mjs';
import { packAll, publishablePackages } from '../pack.mjs';
import { startRegistry } from '../registry.mjs';
import { OLDEST_GLIBC, TARGETS, tarballName } from '../targets.mjs';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const work = mkdtempSync(join(tmpdir(), 'cni-ts-release-'));
const host = TARGETS.find((t) => t.os === process.platform && t.cpu === process.arch);
let release; // { version, plugins, built }
let packed; // the npm tarballs of the front and platform packages

test.before(async (t) => {
  const start = Date.now();
  release = await buildRelease();
  const npmDir = join(releaseDir, 'npm');
  rmSync(npmDir, { recursive: true, force: true });
  mkdirSync(npmDir);
  packed = packAll(
    npmDir,
    publishablePackages().filter((p) => p.dir.startsWith('packages/npm/')),
  );
  t.log(`built and packed in ${((Date.now() - start) / 1000).toFixed(1)} s`);
});
test.after.always(() => rmSync(work, { recursive: true, force: true }));

/**
 * A check that cannot run here: passes with a note without root (ava fails a test without
 * assertions), fails as root (CI), where tools/setup-debian.sh provides everything it needs.
 */
function skip(t, why) {
  if (isRoot()) return t.fail(`${why}: as root (CI) every check runs; run tools/setup-debian.sh`);
  t.log(`not checked: ${why}`);
  t.pass();
}

/** Runs a file with a clean environment; returns { status, stdout, stderr }. */
function exec(file, args, env = {}, opts = {}) {
  const r = spawnSync(file, args, { env: { PATH, ...env }, encoding: 'utf8', ...opts });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** exec without blocking the event loop (the local registry runs in this process). */
// It runs outside the repository, as a user would: inside it, npx would run the workspace's package.
function execAsync(file, args, env = {}) {
  return new Promise((done) => {
    const child = spawn(file, args, { cwd: work, env: { PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status, signal) => done({ status, signal, stdout, stderr }));
  });
}

/**
 * VERSION as each plugin must print it: every spec version, except bandwidth, which speaks 0.3.0 on
 * (as upstream's: it needs prevResult's interfaces; Debian's v1.1.1 answers 0.3.0–1.0.0).
 */
const SUPPORTED = { bandwidth: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] };
const versionJsonOf = (type) =>
  `${JSON.stringify({ cniVersion: '1.1.0', supportedVersions: SUPPORTED[type] ?? ALL_VERSIONS })}\n`;
const about = (type) => `CNI ${type} plugin v${release.version}`;

/** Extracts a target's tarball as an operator would, into a fresh directory. */
function extract(target) {
  const dir = mkdtempSync(join(work, `${target.arch}-`));
  execFileSync('tar', ['-C', dir, '-xzf', join(releaseDir, tarballName(target, release.version))]);
  return dir;
}

test('checksum files verify with sha256sum -c and sha512sum -c', (t) => {
  for (const target of TARGETS)
    for (const alg of ['sha256', 'sha512']) {
      const file = `${tarballName(target, release.version)}.${alg}`;
      const r = exec(`${alg}sum`, ['-c', file], {}, { cwd: releaseDir });
      t.is(r.status, 0, `${file}: ${r.stdout}${r.stderr}`);
      t.is(r.stdout, `${tarballName(target, release.version)}: OK\n`);
    }
});

for (const target of TARGETS) {
  test(`${target.arch}: the tarball holds cni-ts, LICENSE and one hard link per plugin, owned by root`, (t) => {
    const dir = extract(target);
    t.deepEqual(readdirSync(dir).sort(), ['LICENSE', 'cni-ts', ...release.plugins].sort());
    const exe = statSync(join(dir, 'cni-ts'));
    t.is(exe.mode & 0o777, 0o755);
    t.is(exe.nlink, release.plugins.length + 1);
    for (const p of release.plugins) t.is(statSync(join(dir, p)).ino, exe.ino, `${p} is a hard link to cni-ts`);
    const listing = execFileSync('tar', ['-tvzf', join(releaseDir, tarballName(target, release.version))], {
      encoding: 'utf8',
    });
    for (const line of listing.trim().split('\n')) t.regex(line, /^\S+ 0\/0 /, 'uid/gid 0');
  });

  test(`${target.arch}: ELF for ${target.cpu}, needs glibc ≤ ${OLDEST_GLIBC} and nothing but glibc`, (t) => {
    const elf = readElf(join(releaseDir, `${target.os}-${target.arch}`, 'cni-ts'));
    t.is(elf.machine, target.elfMachine);
    t.is(elf.interpreter, target.interpreter);
    const newest = newestGlibc(elf);
    t.true(compareVersions(newest, OLDEST_GLIBC) <= 0, `needs GLIBC_${newest}; docs state ${OLDEST_GLIBC}`);
    for (const lib of elf.needed) t.regex(lib, /^(libc|libm|libdl|libpthread|librt|ld-linux[-\w]*)\.so\.\d$/, lib);
  });

  test(`${target.arch}: every plugin answers VERSION and the about text on glibc ${OLDEST_GLIBC}`, (t) => {
    const dir = extract(target);
    const sysroot = glibcRoot(target);
    if (target === host && !isRoot()) return skip(t, 'chroot onto glibc 2.17 needs root (CI runs as root)');
    if (target !== host && !existsSync(`/usr/bin/${target.qemu.binary}`))
      return skip(
        t,
        `${target.qemu.binary} is not installed (Debian's qemu-user-static): only the ELF header was checked`,
      );
    // same CPU: a root file system with nothing but glibc 2.17's libraries and our files (chroot,
    // with its own /proc: bun finds its code through /proc/self/exe); another CPU: qemu -L
    let chroot;
    if (target === host) {
      chroot = mkdtempSync(join(work, 'glibc-'));
      execFileSync('cp', ['-a', `${sysroot}/.`, chroot]);
      mkdirSync(join(chroot, 'proc'));
      execFileSync('cp', ['-a', dir, join(chroot, 'bin')]);
    }
    for (const type of release.plugins) {
      // LD_BIND_NOW resolves every symbol at start, so a missing glibc symbol fails here
      const run = (command) => {
        const env = { LD_BIND_NOW: '1', ...(command ? { CNI_COMMAND: command } : {}) };
        if (!chroot) return exec(`/usr/bin/${target.qemu.binary}`, ['-L', sysroot, join(dir, type)], env);
        return exec(
          'unshare',
          ['-m', '-p', '-f', `--mount-proc=${chroot}/proc`, 'chroot', chroot, `/bin/${type}`],
          env,
        );
      };
      const v = run('VERSION');
      t.is(v.stdout, versionJsonOf(type), `${type} VERSION: ${v.stderr}`);
      t.is(v.status, 0);
      t.is(run().stderr.split('\n')[0], about(type), 'the about text (stderr, as upstream)');
    }
  });
}

test('amd64: runs on an x86-64-v2 CPU without AVX2 (qemu -cpu Nehalem), not on one without SSE4.2', (t) => {
  const x64 = TARGETS.find((x) => x.cpu === 'x64');
  const qemu = `/usr/bin/${x64.qemu.binary}`;
  if (!existsSync(qemu)) return skip(t, `${qemu} is not installed (Debian's qemu-user-static)`);
  const exe = join(extract(x64), 'loopback');
  const nehalem = exec(qemu, ['-cpu', x64.qemu.cpu, exe], { CNI_COMMAND: 'VERSION' });
  t.is(nehalem.stdout, versionJsonOf('loopback'), nehalem.stderr);
  t.not(exec(qemu, ['-cpu', 'core2duo', exe], { CNI_COMMAND: 'VERSION' }).status, 0, 'core2duo lacks SSE4.2');
});

test(`${host?.arch}: the extracted loopback does ADD, CHECK and DEL in a network namespace`, async (t) => {
  if (!isRoot()) return skip(t, 'a network namespace needs root (CI runs as root)');
  const plugin = join(extract(host), 'loopback');
  const node = await TestNode.create(uniquePrefix('rlrel'));
  t.teardown(() => node.destroy());
  const pod = await node.addPod('pod', { loUp: false });
  const call = { plugin, containerId: 'ctr', netns: pod.path, ifname: 'lo', inNetns: node.node.name };
  const config = { cniVersion: '1.1.0', name: 'lo', type: 'loopback' };
  const add = await execPlugin({ ...call, command: 'ADD', config });
  t.is(add.exitCode, 0, add.stdout + add.stderr);
  t.deepEqual(
    add.json.ips.map((i) => i.address),
    ['127.0.0.1/8', '::1/128'],
  );
  const [lo] = await pod.ipJson(['link', 'show', 'dev', 'lo']);
  t.true(lo.flags.includes('UP'));
  const check = await execPlugin({ ...call, command: 'CHECK', config: { ...config, prevResult: add.json } });
  t.is(check.exitCode, 0, check.stdout);
  const del = await execPlugin({ ...call, command: 'DEL', config });
  t.is(del.exitCode, 0, del.stdout);
});

test('npm platform packages hold package.json, README.md, LICENSE and bin/cni-ts, with os/cpu/libc', (t) => {
  for (const target of TARGETS) {
    const p = packed.find((x) => x.name === `@cni-ts/${target.name}`);
    t.truthy(p, `@cni-ts/${target.name} packed`);
    t.deepEqual(p.files, ['LICENSE', 'README.md', 'bin/cni-ts', 'package.json']);
    const dir = mkdtempSync(join(work, 'npm-'));
    execFileSync('tar', ['-C', dir, '-xzf', p.tarball]);
    const manifest = JSON.parse(readFileSync(join(dir, 'package/package.json'), 'utf8'));
    t.like(manifest, { version: release.version, os: [target.os], cpu: [target.cpu], libc: [target.libc] });
    t.is(manifest.publishConfig.directory, undefined, 'the published manifest has no publishConfig.directory');
    const exe = join(dir, 'package/bin/cni-ts');
    t.is(statSync(exe).mode & 0o777, 0o755);
    t.true(readFileSync(exe).equals(readFileSync(join(releaseDir, `${target.os}-${target.arch}`, 'cni-ts'))));
  }
});

/** The ```sh blocks of the README's "## Install" section. */
function installBlocks() {
  const md = readFileSync(join(root, 'README.md'), 'utf8');
  const at = md.indexOf('\n## Install\n');
  const section = md.slice(at, md.indexOf('\n## ', at + 1));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
}

test("README: the release tarball commands work on the dry run's files, for both architectures", (t) => {
  const block = installBlocks().find((b) => b.includes('curl'));
  t.truthy(block, 'a block that downloads the tarball');
  t.regex(
    block,
    new RegExp(`^VERSION=v${release.version.replaceAll('.', '\\.')} `, 'm'),
    'the README names this version',
  );
  for (const target of TARGETS) {
    const dest = mkdtempSync(join(work, 'opt-'));
    // curl is replaced by a check that the file it would download is one the release made
    const script = `set -e
curl() { for a; do case $a in http*) f=\${a##*/}; [ -f "$f" ] || { echo "no such release file: $f"; exit 1; };; esac; done; }
${block.replaceAll('/opt/cni/bin', dest).replace(/ARCH=\w+/, `ARCH=${target.arch}`)}`;
    const r = exec('bash', ['-c', script], {}, { cwd: releaseDir });
    t.is(r.status, 0, r.stdout + r.stderr);
    t.deepEqual(readdirSync(dest).sort(), ['LICENSE', 'cni-ts', ...release.plugins].sort());
    if (target === host)
      t.is(exec(join(dest, 'loopback'), [], { CNI_COMMAND: 'VERSION' }).stdout, versionJsonOf('loopback'));
  }
});

test('README: `npx @cni-ts/plugins install` lays out the executable for this machine from the published packages', async (t) => {
  const block = installBlocks().find((b) => b.includes('npx @cni-ts/plugins'));
  t.truthy(block, 'a block with npx');
  const registry = await startRegistry();
  t.teardown(() => registry.close());
  const npmrc = join(work, 'npmrc');
  const cache = join(work, 'npm-cache');
  writeFileSync(npmrc, `registry=${registry.url}\n${registry.url.replace(/^http:/, '')}:_authToken=dry-run\n`);
  const env = {
    HOME: work,
    npm_config_userconfig: npmrc,
    npm_config_cache: cache,
    npm_config_update_notifier: 'false',
  };
  for (const p of packed) {
    const r = await execAsync(
      'npm',
      ['publish', p.tarball, '--ignore-scripts', '--access', 'public', '--provenance=false'],
      env,
    );
    t.is(r.status, 0, `${p.name}: ${r.stderr}`);
  }
  t.like(registry.packuments.get('@cni-ts/linux-arm64').versions[release.version], { cpu: ['arm64'] });
  const dest = mkdtempSync(join(work, 'opt-'));
  const r = await execAsync('bash', ['-c', `set -e\n${block.replaceAll('/opt/cni/bin', dest)}`], {
    ...env,
    npm_config_yes: 'true',
  });
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, new RegExp(`installed cni-ts v${release.version} into ${dest}`));
  t.deepEqual(readdirSync(dest).sort(), ['cni-ts', ...release.plugins].sort());
  const exe = statSync(join(dest, 'cni-ts'));
  for (const p of release.plugins) t.is(statSync(join(dest, p)).ino, exe.ino, `${p} is a hard link`);
  t.is(exec(join(dest, 'loopback'), [], { CNI_COMMAND: 'VERSION' }).stdout, versionJsonOf('loopback'));
  // npm chose the package for this CPU from the published cpu fields and left the other out
  const installed = execFileSync('find', [join(cache, '_npx'), '-path', '*/@cni-ts/linux-*/package.json'], {
    encoding: 'utf8',
  });
  t.regex(installed, new RegExp(`@cni-ts/${host.name}/package.json`));
  for (const other of TARGETS.filter((x) => x !== host)) t.notRegex(installed, new RegExp(`@cni-ts/${other.name}/`));
});

test('`lerna version` bumps every package to one version, keeps sync happy, writes changelogs and the README', async (t) => {
  const clone = mkdtempSync(join(work, 'lerna-'));
  execFileSync('git', ['clone', '-q', root, clone]);
  execFileSync('ln', ['-s', join(root, 'node_modules'), join(clone, 'node_modules')]);
  writeFileSync(join(clone, '.git/info/exclude'), 'node_modules\n'); // a symlink: .gitignore's node_modules/ misses it
  const git = {
    GIT_AUTHOR_NAME: 'rl',
    GIT_AUTHOR_EMAIL: 'rl@invalid',
    GIT_COMMITTER_NAME: 'rl',
    GIT_COMMITTER_EMAIL: 'rl@invalid',
  };
  const sh = (cmd, args) =>
    execFileSync(cmd, args, {
      cwd: clone,
      env: { PATH, HOME: work, npm_config_update_notifier: 'false', ...git },
      encoding: 'utf8',
    });
  sh('sh', ['-c', 'echo "// a change" >> packages/main/loopback/src/loopback.ts']);
  sh('git', ['commit', '-qam', 'feat(loopback): a feature for the changelog']);
  const next = release.version.replace(/^(\d+)\.(\d+)\.\d+$/, (_, a, b) => `${a}.${Number(b) + 1}.0`);
  sh('npx', ['lerna', 'version', 'minor', '--yes', '--no-push', '--loglevel', 'warn']);
  t.is(JSON.parse(readFileSync(join(clone, 'lerna.json'), 'utf8')).version, next);
  const { workspacePackages } = await import('../../build/sync.mjs');
  for (const p of workspacePackages(clone)) t.is(p.pkg.version, next, `${p.dir} is at ${next}`);
  sh('node', ['tools/build/sync.mjs', '--check']); // throws when lerna left a derived file stale
  t.regex(readFileSync(join(clone, 'README.md'), 'utf8'), new RegExp(`^VERSION=v${next.replaceAll('.', '\\.')} `, 'm'));
  t.regex(readFileSync(join(clone, 'packages/main/loopback/CHANGELOG.md'), 'utf8'), /a feature for the changelog/);
  t.is(sh('git', ['log', '-1', '--format=%s']).trim(), `chore(release): v${next}`);
  t.is(sh('git', ['tag', '--points-at', 'HEAD']).trim(), `v${next}`);
  t.is(sh('git', ['status', '--porcelain']), '', 'the release commit holds every change');
});
