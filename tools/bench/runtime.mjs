// The bench's container runtime (tools/bench/runtime/main.go on upstream libcni): built once per
// bench run, fed jobs of operations, returns one timed sample per operation.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { SYSTEM_PATH, root } from './lib.mjs';

/** Builds bench-runtime into `dir` from Debian's libcni source (tools/setup-debian.sh installs it). */
export function buildRuntime(dir) {
  const out = join(dir, 'bench-runtime');
  const r = spawnSync('go', ['build', '-o', out, '.'], {
    cwd: join(root, 'tools', 'bench', 'runtime'),
    env: {
      PATH: SYSTEM_PATH,
      HOME: dir,
      GO111MODULE: 'off',
      GOPATH: '/usr/share/gocode',
      GOCACHE: join(dir, 'gocache'),
    },
    encoding: 'utf8',
  });
  if (r.status !== 0)
    throw new Error(`building tools/bench/runtime failed (tools/setup-debian.sh installs Go and libcni): ${r.stderr}`);
  return out;
}

/**
 * Runs groups of operations (groups one after another, a group's operations concurrently) and
 * returns their samples in order: {id, ok, error, startMs, wallMs, execs: [{plugin, cmd, ms, maxRssKiB}]}.
 */
export function runJob(runtime, groups) {
  const r = spawnSync(runtime, [], {
    input: JSON.stringify({ groups }),
    env: { PATH: SYSTEM_PATH },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`bench-runtime failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}
