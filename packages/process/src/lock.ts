// Exclusive flock(2) locks on a file, interoperable with Go's flock (go-filemutex) on the same
// file. The lock lives on an open file description that only this process holds, so the kernel
// releases it when the process exits or is killed, and no helper process outlives the call.
//
// Two ways to take it (docs/host-local.md has the measurements):
//  - in Bun (the compiled plugins): flock(2) through bun:ffi, polled with LOCK_NB until a deadline;
//  - elsewhere (Node, tests): `flock -w <s> 3` (util-linux) run on the inherited descriptor; the
//    child locks our open file description and exits, leaving the lock with us.
import { spawn } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { ProcessError } from './errors.js';

/** A held lock; release() drops it (closing the descriptor). */
export interface FileLock {
  readonly path: string;
  /** Which mechanism took it: flock(2) via bun:ffi, or the flock(1) helper. */
  readonly via: 'ffi' | 'flock(1)';
  release(): void;
}

/** Options for lockFile. */
export interface LockOptions {
  /** Give up after this long with a ProcessError of kind 'busy' (CNI code 11); default 30 s. */
  timeoutMs?: number;
  /** Permission bits when the lock file is created; default 0o750, as Go's go-filemutex. */
  mode?: number;
  /** Force the flock(1) helper even in Bun (for measurements and tests). */
  forceHelper?: boolean;
}

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const EINTR = 4;
const EWOULDBLOCK = 11;
const BUSY_EXIT = 75;

interface Libc {
  flock(fd: number, op: number): number;
  errno(): number;
}
let libc: Libc | null | undefined;

/** Takes an exclusive flock on `path` (created if missing, never through a symlink). */
export async function lockFile(path: string, opts: LockOptions = {}): Promise<FileLock> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_CREAT | constants.O_NOFOLLOW, opts.mode ?? 0o750);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ELOOP' ? 'it is a symbolic link' : (e as Error).message;
    throw new ProcessError('failed', `open ${path}`, `cannot open lock file ${path}: ${why}`, { cause: e });
  }
  try {
    const ffi = opts.forceHelper ? null : await loadLibc();
    if (ffi) {
      await pollFlock(ffi, fd, path, timeoutMs);
      return held(path, fd, 'ffi', () => ffi.flock(fd, LOCK_UN));
    }
    await helperFlock(fd, path, timeoutMs);
    return held(path, fd, 'flock(1)');
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function held(path: string, fd: number, via: FileLock['via'], unlock?: () => void): FileLock {
  let open = true;
  return {
    path,
    via,
    release() {
      if (!open) return;
      open = false;
      unlock?.();
      closeSync(fd);
    },
  };
}

function busy(path: string, timeoutMs: number): ProcessError {
  return new ProcessError(
    'busy',
    `flock ${path}`,
    `could not lock ${path} within ${timeoutMs} ms: another process holds it (try again later)`,
  );
}

async function pollFlock(ffi: Libc, fd: number, path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let wait = 1;
  for (;;) {
    if (ffi.flock(fd, LOCK_EX | LOCK_NB) === 0) return;
    const errno = ffi.errno();
    if (errno !== EWOULDBLOCK && errno !== EINTR && errno !== 0) {
      throw new ProcessError('failed', `flock ${path}`, `flock(${path}) failed with errno ${errno}`);
    }
    const left = deadline - Date.now();
    if (left <= 0) throw busy(path, timeoutMs);
    // short, jittered back-off: waiters do not wake in lockstep, and a free lock is noticed soon
    await new Promise((r) => setTimeout(r, Math.min(left, wait * (0.5 + Math.random()))));
    wait = Math.min(wait * 2, 16);
  }
}

function helperFlock(fd: number, path: string, timeoutMs: number): Promise<void> {
  const wait = timeoutMs <= 0 ? ['-n'] : ['-w', (timeoutMs / 1000).toFixed(3)];
  const child = spawn('flock', [...wait, '-E', String(BUSY_EXIT), '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  return new Promise((resolve, reject) => {
    child.once('error', (err) => {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new ProcessError(
          missing ? 'not-found' : 'failed',
          'flock',
          missing ? 'flock: command not found (install util-linux)' : `flock ${path}: ${err.message}`,
          { cause: err },
        ),
      );
    });
    child.once('close', (status) => {
      if (status === 0) resolve();
      else if (status === BUSY_EXIT) reject(busy(path, timeoutMs));
      else
        reject(
          new ProcessError('failed', 'flock', `flock ${path}: ${stderr.trim() || `exit status ${status}`}`, {
            status,
            stderr,
          }),
        );
    });
  });
}

/** libc's flock through bun:ffi; null outside Bun or when libc cannot be opened. */
async function loadLibc(): Promise<Libc | null> {
  if (libc !== undefined) return libc;
  libc = null;
  if (!process.versions.bun) return libc;
  try {
    const { dlopen, FFIType, read } = await import('bun:ffi');
    for (const name of ['libc.so.6', 'libc.so', `libc.musl-${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}.so.1`]) {
      try {
        const { symbols } = dlopen(name, {
          flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
          __errno_location: { args: [], returns: FFIType.ptr },
        });
        libc = { flock: (fd, op) => symbols.flock(fd, op), errno: () => read.i32(symbols.__errno_location(), 0) };
        break;
      } catch {
        // try the next name
      }
    }
  } catch {
    // no bun:ffi: the helper takes over
  }
  return libc;
}
