// One scratch parent per test run: each ava config calls startRun(), which makes
// <tmpdir>/cts-testrun-<pid>-<start>-XXXXXX (the ava process's pid and its start time in clock
// ticks, /proc/<pid>/stat field 22) and hands it to every worker as TMPDIR, so the tests' own
// mkdtemp(tmpdir()) dirs land inside it. When the run ends the parent goes, with whatever a killed
// worker left in it (its after.always hooks never ran); a run that was itself killed leaves its
// parent, and the next run removes it. Only parents of this pattern whose process is gone (no
// /proc/<pid>, or a pid now another process's: its start time differs) are touched.
// Beside files, a killed worker leaves the named netns it made: testutils' Netns records each in
// the parent (netns/<name>, an empty file, removed by destroy()), and a parent's removal deletes the
// ones still there (root only). (testutils' ScratchNetns needs none: its holder ends with its worker.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The name of a run's parent: cts-testrun-<pid>-<start time>-<mkdtemp's six characters>. */
export const RUN_DIR = /^cts-testrun-(\d+)-(\d+)-[A-Za-z0-9]{6}$/;
const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A process's start time (clock ticks since boot) from /proc, undefined when there is no such process. */
export function startTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the fields after the command name, which is in parentheses and may hold spaces or ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True when the process a run was named after has ended (its pid is gone, or reused by another). */
export function hasEnded(pid, start) {
  return startTime(pid) !== start;
}

/** Deletes the named netns a run recorded and did not destroy, then removes its parent. */
export function removeRun(dir, { removeNetns = defaultRemoveNetns } = {}) {
  for (const name of entries(join(dir, 'netns'))) if (NETNS_NAME.test(name)) removeNetns(name);
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Removes the parents in `parent` of runs that have ended; returns their names. */
export function removeEndedRuns(parent, opts = {}) {
  if (!existsSync('/proc/self/stat')) return []; // no /proc: a run's end cannot be told
  const removed = [];
  for (const name of entries(parent)) {
    const m = RUN_DIR.exec(name);
    if (!m || !hasEnded(Number(m[1]), m[2])) continue;
    removeRun(join(parent, name), opts);
    removed.push(name);
  }
  return removed;
}

/**
 * Starts a run: removes ended runs' parents, makes this one's in `parent` (default the system
 * temp dir), and removes it (with what it recorded) when this process exits. Returns its path.
 */
export function startRun(parent = tmpdir(), opts = {}) {
  removeEndedRuns(parent, opts);
  const start = startTime(process.pid) ?? '0';
  const dir = mkdtempSync(join(parent, `cts-testrun-${process.pid}-${start}-`));
  process.on('exit', () => removeRun(dir, opts));
  return dir;
}

/** The environment a run's workers get: their temp dir, and where testutils records its netns. */
export function runEnvironment(dir) {
  return { TMPDIR: dir, CTS_RUN_DIR: dir };
}

function defaultRemoveNetns(name) {
  // only root made it, only root can remove it
  if (process.getuid?.() !== 0 || !existsSync(`/run/netns/${name}`)) return;
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore', env: { PATH: SYSTEM_PATH } });
}

function entries(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
