// What the libcni integration tests need: upstream libcni built from Debian's Go sources, our
// and the Go plugins, and throwaway network namespaces. (The test kit in @cni-ts/testutils sits
// above this package, so these few helpers live here.)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestFn } from 'ava';
import { execa } from 'execa';

export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function findRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'nx.json'))) {
    if (dir === '/') throw new Error(`no repository root above ${from}`);
    dir = dirname(dir);
  }
  return dir;
}

export const repoRoot = findRoot(dirname(fileURLToPath(import.meta.url)));
export const ourBin = process.env.CNI_TS_BIN_DIR ?? join(repoRoot, 'dist', 'bin');
export const goBin = process.env.CNI_GO_PLUGIN_DIR ?? '/usr/lib/cni';
export const fixtures = join(repoRoot, 'packages', 'libcni', 'test', 'fixtures');

/** `test`, or (not root) a stand-in that skips every test with the line the test runner counts. */
export function rootOnly<T>(test: TestFn<T>, file: string): TestFn<T> {
  if (process.getuid?.() === 0) return test;
  process.stderr.write(`# SKIP ${file}: root integration tests need root (run as root, e.g. in CI)\n`);
  const skip = ((...a: unknown[]) => (test.skip as unknown as (...x: unknown[]) => void)(...a)) as unknown as TestFn<T>;
  const hook = Object.assign(() => {}, { always: () => {} });
  return Object.assign(skip, { serial: skip, before: hook, after: hook, beforeEach: hook, afterEach: hook });
}

/** Runs a command with the system PATH; throws with its stderr on failure. */
export async function sh(file: string, args: string[], input = ''): Promise<string> {
  const r = await execa(file, args, { env: { PATH: SYSTEM_PATH }, extendEnv: false, input, reject: false });
  if (r.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.exitCode}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** A temporary directory and a way to remove it. */
export function scratch(tag: string): string {
  return mkdtempSync(join(tmpdir(), `lc-${tag}-`));
}

export function remove(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Builds the Go driver over upstream libcni (tools/libcni-go) against Debian's
 * golang-github-appc-cni-dev, offline: GO111MODULE=off, GOPATH=/usr/share/gocode.
 */
export async function buildGoLibcni(outDir: string): Promise<string> {
  const out = join(outDir, 'golibcni');
  const r = await execa('go', ['build', '-o', out, './tools/libcni-go'], {
    cwd: repoRoot,
    env: {
      PATH: `${SYSTEM_PATH}:/usr/lib/go/bin`,
      GO111MODULE: 'off',
      GOPATH: '/usr/share/gocode',
      GOCACHE: join(outDir, 'gocache'),
      GOFLAGS: '',
      HOME: outDir,
    },
    extendEnv: false,
    reject: false,
  });
  if (r.exitCode !== 0)
    throw new Error(
      `cannot build tools/libcni-go (install golang-go and golang-github-appc-cni-dev: tools/setup-debian.sh): ${r.stderr || r.message}`,
    );
  return out;
}

/** What the Go driver printed: upstream libcni's result or error. */
export interface GoOutcome {
  result?: any;
  error?: string;
  code?: number;
}

/** Runs the Go driver (inside a netns when given) with a plugin path and cache dir. */
export async function goLibcni(
  bin: string,
  args: string[],
  opts: { cniPath: string[]; cacheDir: string; stdin?: unknown; netns?: string },
): Promise<GoOutcome> {
  const [file, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, bin, ...args]] : [bin, args];
  const r = await execa(file, argv, {
    env: { PATH: SYSTEM_PATH, CNI_PATH: opts.cniPath.join(':'), LIBCNI_CACHE_DIR: opts.cacheDir },
    extendEnv: false,
    input: opts.stdin === undefined ? '' : JSON.stringify(opts.stdin),
    reject: false,
  });
  if (r.exitCode !== 0) throw new Error(`golibcni ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  return JSON.parse(r.stdout) as GoOutcome;
}

/** A named network namespace that removes itself. */
export async function netns(name: string): Promise<{ name: string; path: string; destroy: () => Promise<void> }> {
  await sh('ip', ['netns', 'add', name]);
  return {
    name,
    path: `/run/netns/${name}`,
    destroy: async () => {
      await execa('ip', ['netns', 'del', name], { reject: false });
    },
  };
}

/** A name prefix unique to this process. */
export function prefix(tag: string): string {
  return `lc${tag}${process.pid.toString(36)}`;
}
