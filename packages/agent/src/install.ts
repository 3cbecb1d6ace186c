// Installing files onto the host so that a runtime never reads a half-written one: every file is
// written aside in the same directory, synced, then renamed over the target; hard links of one
// executable (the multi-call cni-ts and its plugin names) are linked aside and renamed the same
// way. Nothing is written when the target already has the same content.
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  chmodSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** What installing one file did. */
export type InstallOutcome = 'unchanged' | 'written';

function tempName(target: string): string {
  return join(dirname(target), `.${basename(target)}.cni-ts-${process.pid}.tmp`);
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

// hashed in 1 MiB chunks: the multi-call executable is ~106 MiB, and the agent's memory limit small
function sha256File(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
    return hash.digest('hex');
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

// same content: sizes first (cheap), then hashes
function sameContent(a: string, b: string): boolean {
  try {
    if (statSync(a).size !== statSync(b).size) return false;
  } catch {
    return false;
  }
  const h = sha256File(a);
  return h !== undefined && h === sha256File(b);
}

/** Writes `content` to `target` atomically unless it already holds exactly that. */
export function installContent(target: string, content: string | Buffer, mode = 0o644): InstallOutcome {
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  try {
    if (readFileSync(target).equals(data) && (statSync(target).mode & 0o777) === mode) return 'unchanged';
  } catch {
    // missing or unreadable: write it
  }
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tempName(target);
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode);
    renameSync(tmp, target);
  } finally {
    rmSync(tmp, { force: true });
  }
  syncDir(dirname(target));
  return 'written';
}

/** Copies the executable `source` to `target` atomically unless the content is already the same. */
export function installExecutable(source: string, target: string): InstallOutcome {
  statSync(source); // a missing source is an error, not an install
  if (sameContent(source, target) && (statSync(target).mode & 0o111) !== 0) return 'unchanged';
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tempName(target);
  try {
    copyFileSync(source, tmp);
    chmodSync(tmp, 0o755);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } finally {
    rmSync(tmp, { force: true });
  }
  syncDir(dirname(target));
  return 'written';
}

/** Makes `target` a hard link of `primary` (atomically replacing whatever is there), unless it already is. */
export function installLink(primary: string, target: string): InstallOutcome {
  const p = statSync(primary);
  try {
    const t = statSync(target);
    if (t.ino === p.ino && t.dev === p.dev) return 'unchanged';
  } catch {
    // missing: link it
  }
  const tmp = tempName(target);
  rmSync(tmp, { force: true });
  try {
    linkSync(primary, tmp);
    renameSync(tmp, target);
  } finally {
    rmSync(tmp, { force: true });
  }
  syncDir(dirname(target));
  return 'written';
}

/** One executable to install: its name and, for hard links, the name it is a link of. */
export interface BinaryEntry {
  name: string;
  linkOf?: string;
}

/**
 * The executables in `dir` (only `only` when given), with hard links grouped so that each inode
 * is copied once: the first name of a group (sorted) is copied, the others are linked to it.
 */
export function listBinaries(dir: string, only?: readonly string[]): BinaryEntry[] {
  const names = readdirSync(dir)
    .filter((n) => !n.startsWith('.') && (!only || only.includes(n)))
    .filter((n) => statSync(join(dir, n)).isFile())
    .sort();
  if (only) for (const n of only) if (!names.includes(n)) throw new Error(`${n} is not in ${dir}`);
  const firstByInode = new Map<string, string>();
  return names.map((name) => {
    const st = statSync(join(dir, name));
    const key = `${st.dev}:${st.ino}`;
    const first = firstByInode.get(key);
    if (first === undefined) {
      firstByInode.set(key, name);
      return { name };
    }
    return { name, linkOf: first };
  });
}

/** Installs the executables of `sourceDir` into `binDir`; returns the names that were written. */
export function installBinaries(sourceDir: string, binDir: string, only?: readonly string[]): string[] {
  const written: string[] = [];
  for (const e of listBinaries(sourceDir, only)) {
    const target = join(binDir, e.name);
    const outcome = e.linkOf
      ? installLink(join(binDir, e.linkOf), target)
      : installExecutable(join(sourceDir, e.name), target);
    if (outcome === 'written') written.push(e.name);
  }
  return written;
}

/** Removes the installed executables that are still ours (same content as the source's). */
export function removeBinaries(sourceDir: string, binDir: string, only?: readonly string[]): string[] {
  const removed: string[] = [];
  for (const e of listBinaries(sourceDir, only)) {
    const target = join(binDir, e.name);
    if (sameContent(join(sourceDir, e.linkOf ?? e.name), target)) {
      rmSync(target, { force: true });
      removed.push(e.name);
    }
  }
  return removed;
}
