// Counting JavaScriptCore's warm-up threshold for a plugin run: a run that allocates more than 64
// MarkedBlocks clones the JSCWarmUp thread (and mi-scavenger from it), 1.0–1.5 ms of CPU for
// nothing (docs/startup.md, "Under JavaScriptCore's warm-up threshold"). strace sees the clone;
// the run's count is the lowest `BUN_JSC_warmUpMarkedBlockStartAfterBlocks` at which it clones
// nothing. Used by the plugins' warm-up integration tests (root, strace).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYSTEM_PATH } from './paths.js';

export interface TracedRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** strace's lines of clone, clone3, fork and vfork calls: empty when the run started no thread. */
  clones: string[];
}

/**
 * Runs `plugin` under strace (after `prefix`, e.g. `['ip', 'netns', 'exec', node]`, which strace
 * does not follow) with `stdin` and `env` on the system PATH; returns its exit, output and clones.
 */
export function tracedClones(
  plugin: string,
  stdin: string,
  env: Record<string, string>,
  prefix: readonly string[] = [],
): TracedRun {
  const dir = mkdtempSync(join(tmpdir(), 'cts-warmup-'));
  try {
    const out = join(dir, 'strace');
    const strace = ['strace', '-f', '-qq', '-e', 'trace=clone,clone3,fork,vfork', '-o', out, '--', plugin];
    const [file, ...args] = [...prefix, ...strace] as [string, ...string[]];
    const r = spawnSync(file, args, {
      input: stdin,
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: SYSTEM_PATH, ...env },
    });
    const lines = readFileSync(out, 'utf8').split('\n');
    const clones = lines.filter((l) => /^\d+\s+(clone3?|v?fork)\(/.test(l));
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, clones };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The run's block count: bisects the threshold in [lo, hi] for the lowest at which
 * `run(threshold)` clones nothing (hi when it clones at every threshold below it).
 */
export function warmUpBlocks(run: (threshold: number) => TracedRun, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (run(mid).clones.length === 0) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The CNI_ARGS kubelet (through the CRI runtime) passes for a pod whose sandbox is `id`. */
export const kubeletArgs = (id: string): string =>
  `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=${id};K8S_POD_UID=8d3c1b7e-2f4a-4c1e-9b1a-1f2e3d4c5b6a`;

/** The environment that sets the warm-up threshold to `blocks`. */
export const warmUpAt = (blocks: number): Record<string, string> => ({
  BUN_JSC_warmUpMarkedBlockStartAfterBlocks: String(blocks),
});
