// Finds the cni-ts executable of this machine's platform package and installs it with a hard
// link per plugin, the layout of the release tarball. Plain Node.js, no dependencies.
import { createRequire } from 'node:module';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** The plugins the executable carries: each is installed as a hard link named after its CNI type. */
export const plugins = pkg.cni.plugins;

/** The version of this package, which is the version the executable reports. */
export const version = pkg.version;

/** This machine's platform package name, e.g. @cni-ts/linux-x64 (musl systems have none). */
export function platformPackage({ platform = process.platform, arch = process.arch, musl = isMusl() } = {}) {
  return `@cni-ts/${platform}-${arch}${musl ? '-musl' : ''}`;
}

function isMusl() {
  if (process.platform !== 'linux') return false;
  const header = process.report?.getReport().header;
  return header ? !header.glibcVersionRuntime : false;
}

/** The path of the executable for this machine, or an Error saying why there is none. */
export function executablePath() {
  const name = platformPackage();
  const supported = Object.keys(pkg.optionalDependencies ?? {});
  if (!supported.includes(name))
    return new Error(
      `cni-ts has no executable for ${name.slice('@cni-ts/'.length)}; it is built for ${supported
        .map((s) => s.slice('@cni-ts/'.length))
        .join(', ')} (glibc ≥ 2.17; musl is not supported)`,
    );
  try {
    const exe = join(dirname(require.resolve(`${name}/package.json`)), 'bin', 'cni-ts');
    if (existsSync(exe)) return exe;
  } catch {}
  return new Error(
    `${name} is not installed (npm skips optional dependencies with --omit=optional or --no-optional): ` +
      `install it, e.g. npm install ${name}@${pkg.version}`,
  );
}

/**
 * Copies `exe` into `dir` as `cni-ts` and links every plugin name to it. Each file is written
 * under a temporary name and renamed into place, so a runtime executing a plugin meanwhile keeps
 * the old file and never sees a half-written one. Returns the paths written.
 */
export function install(dir, exe) {
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.cni-ts.tmp${process.pid}`);
  copyFileSync(exe, tmp);
  chmodSync(tmp, 0o755);
  const written = [];
  try {
    for (const p of plugins) {
      const link = join(dir, p);
      const linkTmp = join(dir, `.${p}.tmp${process.pid}`);
      rmSync(linkTmp, { force: true });
      linkSync(tmp, linkTmp);
      renameSync(linkTmp, link);
      written.push(link);
    }
    renameSync(tmp, join(dir, 'cni-ts'));
  } finally {
    rmSync(tmp, { force: true });
  }
  return [join(dir, 'cni-ts'), ...written];
}
