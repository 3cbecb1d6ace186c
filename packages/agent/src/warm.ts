// Putting the installed executables' page cache in the state in which an exec of them is cheapest.
// A file that exec's page faults read from disk (every file after a reboot, or after memory
// pressure evicted it) lands in the page cache in small folios; one read() of the whole file lands
// it in large ones, and every later exec of it then maps it with fewer faults: a VERSION of ours
// 880 against 830 faults, 0.3–1.5 ms of CPU less per plugin start (docs/performance.md, "The
// executables' page cache"). So the agent, once at its start, drops each executable's clean
// page cache and reads it back whole. Pages mapped by a plugin running at that moment are not
// dropped (the kernel keeps mapped pages), so a warm-up can never disturb a running plugin; it
// only leaves those pages as they were.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { Executor } from '@cni-ts/process';

/** What warming one executable did. */
export interface Warmed {
  path: string;
  /** Bytes read back. */
  bytes: number;
}

const CHUNK = 1 << 20;

/**
 * Drops the clean page cache of `path` (GNU dd's `iflag=nocache count=0`: posix_fadvise
 * DONTNEED of the whole file, which Node cannot call) and reads the file back whole.
 * Throws with dd's message when the drop fails, or the read's error.
 */
export function warmFile(exec: Executor, path: string): Warmed {
  const r = exec.run('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none']);
  if (r.status !== 0)
    throw new Error(`dropping the page cache of ${path}: ${r.stderr.trim() || `dd exited ${r.status}`}`);
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let bytes = 0;
    for (let n = readSync(fd, buf, 0, CHUNK, null); n > 0; n = readSync(fd, buf, 0, CHUNK, null)) bytes += n;
    return { path, bytes };
  } finally {
    closeSync(fd);
  }
}

/**
 * Warms each distinct file (by inode) of `paths` once: the plugins are hard links of one
 * executable, and a file's page cache is its inode's. Paths that do not exist (or are no regular file) are skipped.
 */
export function warmExecutables(exec: Executor, paths: readonly string[]): Warmed[] {
  const seen = new Set<string>();
  const out: Warmed[] = [];
  for (const path of paths) {
    let key: string;
    try {
      const st = statSync(path);
      if (!st.isFile()) continue;
      key = `${st.dev}:${st.ino}`;
    } catch {
      continue;
    }
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(warmFile(exec, path));
  }
  return out;
}
