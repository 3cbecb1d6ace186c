// Tests that drive kernel code (nfnetlink readers and writers, which run under Bun only) in a
// fresh user+network namespace of their own: a driver script, run by the repository's bun under
// `unshare -rn` (no root needed, nothing on the machine's namespaces changes), that prints one
// JSON document. The namespace lives as long as the driver; each run starts from an empty one.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext, TestFn } from 'ava';
import { skippingTest } from './ava.js';
import { isRoot } from './netns.js';
import { SYSTEM_PATH, repoRoot } from './paths.js';

/** The repository's bun (the devDependency), which runs the drivers. */
export const bunBin = join(repoRoot, 'node_modules', '.bin', 'bun');

/** How one driver run is set up. */
export interface UserNetnsOptions {
  /** Given to the driver as JSON in `process.argv[2]` (absent: no argument). */
  input?: unknown;
  /** Added to the driver's environment, which is otherwise only PATH=SYSTEM_PATH. */
  env?: Record<string, string>;
  /** The driver is killed (and the run fails) after this long; default 60 s. */
  timeoutMs?: number;
}

/**
 * Writes `driverSource` (an ES module; it imports what it tests by absolute file URL, e.g.
 * `new URL('../src/x.js', import.meta.url).href` written into the source) to a temp dir, runs it
 * with the repository's bun under `unshare -rn`, and returns what it printed on stdout, parsed as
 * JSON. Throws — failing the test — when the driver exits non-zero, is killed or times out, or
 * prints something that is not JSON; the error carries its stderr. The temp dir is removed in
 * every case. Gate the test file with userNetnsTest so that a machine without user namespaces
 * skips instead of failing.
 */
export function runInUserNetns<R = unknown>(
  t: ExecutionContext<unknown>,
  driverSource: string,
  opts: UserNetnsOptions = {},
): R {
  const dir = mkdtempSync(join(tmpdir(), 'cts-userns-'));
  try {
    const driver = join(dir, 'driver.mjs');
    writeFileSync(driver, driverSource);
    const args = opts.input === undefined ? [] : [JSON.stringify(opts.input)];
    const timeout = opts.timeoutMs ?? 60_000;
    const r = spawnSync('unshare', ['-rn', '--', bunBin, driver, ...args], {
      encoding: 'utf8',
      env: { PATH: SYSTEM_PATH, ...opts.env },
      timeout,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
    });
    const stderr = (r.stderr ?? '').trim();
    const how =
      r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT'
        ? `timed out after ${timeout} ms`
        : r.error
          ? `could not be run (${r.error.message})`
          : r.signal
            ? `was killed by ${r.signal}`
            : r.status !== 0
              ? `exited with ${r.status}`
              : undefined;
    if (how) throw new Error(`the user-netns driver ${how}${stderr ? `; its stderr:\n${tail(stderr)}` : ''}`);
    if (stderr) t.log(`the user-netns driver's stderr: ${tail(stderr)}`);
    try {
      return JSON.parse(r.stdout) as R;
    } catch {
      throw new Error(
        `the user-netns driver printed no JSON on stdout:\n${tail(r.stdout)}${stderr ? `\nits stderr:\n${tail(stderr)}` : ''}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `test` when `unshare -rn -- <probe…>` runs here (default probe: `true`, i.e. user and network
 * namespaces are available; pass e.g. `['nft', 'list', 'tables']` when the drivers need a tool).
 * Where it does not: as root, still `test` — CI runs as root, where user namespaces are
 * available, so the tests run and fail with the driver's error instead of passing as skipped —
 * and one line on stderr saying so; otherwise a stand-in whose tests are all skipped (hooks
 * never run), and one `# SKIP` line on stderr with unshare's reason.
 */
export function userNetnsTest<T>(test: TestFn<T>, file: string, probe: string[] = ['true']): TestFn<T> {
  const r = spawnSync('unshare', ['-rn', '--', ...probe], { encoding: 'utf8', env: { PATH: SYSTEM_PATH } });
  if (r.status === 0) return test;
  const why = (r.error?.message ?? r.stderr ?? '').trim() || `exit ${r.status ?? r.signal}`;
  if (isRoot()) {
    process.stderr.write(`# ${file}: \`unshare -rn -- ${probe.join(' ')}\` failed as root (${why}): not skipped\n`);
    return test;
  }
  process.stderr.write(`# SKIP ${file}: \`unshare -rn -- ${probe.join(' ')}\` cannot run here (${why})\n`);
  return skippingTest(test);
}

function tail(s: string, max = 4000): string {
  return s.length <= max ? s : `…${s.slice(-max)}`;
}
