// Packages from the npm registry that the release build needs but nobody installs (a bun runtime
// for another platform, an old glibc to test on), fetched with `npm pack`, checked against the
// integrity pinned in targets.mjs, and unpacked once into node_modules/.cache/cni-ts-release.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(fileURLToPath(import.meta.url), '../../..');
const cacheDir = join(root, 'node_modules', '.cache', 'cni-ts-release');

/** The sha512 integrity string (`sha512-<base64>`) of a file, as npm writes it. */
export function integrityOf(file) {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/**
 * Unpacks `<name>@<version>` (checked against `integrity`) and returns the directory holding its
 * `package/` folder. `prepare(dir)` may derive more files in it before it is published to the cache.
 */
export function npmPackage(name, version, integrity, prepare = () => {}) {
  const dir = join(cacheDir, `${name.replace('/', '+')}@${version}`);
  if (existsSync(join(dir, '.done'))) return dir;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = mkdtempSync(join(cacheDir, '.tmp-'));
  try {
    const out = execFileSync('npm', ['pack', `${name}@${version}`, '--json', '--pack-destination', tmp], {
      cwd: tmp,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const file = join(tmp, JSON.parse(out)[0].filename);
    const got = integrityOf(file);
    if (got !== integrity) throw new Error(`${name}@${version}: integrity ${got}, expected ${integrity}`);
    execFileSync('tar', ['-xzf', file, '-C', tmp]);
    rmSync(file);
    prepare(tmp);
    execFileSync('touch', [join(tmp, '.done')]);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return dir;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The bun runtime a target's executable is compiled against. */
export function bunRuntime(target, bunVersion) {
  const { package: name, integrity } = target.runtime;
  return join(npmPackage(name, bunVersion, integrity), 'package', 'bin', 'bun');
}

/**
 * A root file system holding only glibc 2.17's shared libraries for the target (lib, lib64 → lib),
 * to run an executable on with chroot (same CPU) or `qemu-<arch> -L` (another CPU).
 */
export function glibcRoot(target) {
  const { package: name, version, integrity, archive } = target.glibc;
  const dir = npmPackage(name, version, integrity, (tmp) => {
    const rootfs = join(tmp, 'rootfs');
    mkdirSync(join(rootfs, 'lib'), { recursive: true });
    // the toolchain's sysroot/lib holds ld.so, libc, libm, libpthread, libdl, … of glibc 2.17
    execFileSync('tar', [
      '-xJf',
      join(tmp, 'package', archive),
      '-C',
      join(rootfs, 'lib'),
      '--wildcards',
      '--strip-components=4',
      '*/sysroot/lib/*.so*',
    ]);
    symlinkSync('lib', join(rootfs, 'lib64'));
    rmSync(join(tmp, 'package'), { recursive: true });
  });
  return join(dir, 'rootfs');
}
