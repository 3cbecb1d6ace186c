// Exclusive flock(2) locks on a file, interoperable with Go's flock (go-filemutex) on the same
// file. The lock lives on an open file description that only this process holds, so the kernel
// releases it when the process exits or is killed, and no helper process outlives the call.
//
// A waiter waits in the kernel's queue of blocked flock(2) callers, which serves them in arrival
// order — as Go's host-local waits (a blocking flock) — so nobody is overtaken by later arrivals.
// Node has no flock and Bun's blocking FFI call cannot be given a timeout, so (docs/host-local.md
// has the measurements):
//  - in Bun (the compiled plugins): one flock(2) LOCK_NB through bun:ffi, which takes a free lock
//    in 0.7 ms; only when it is busy, `flock -w <s> 3` (util-linux) joins the queue on our inherited
//    descriptor (spawnSync) — it locks our open file description and exits, leaving the lock with us;
//  - elsewhere (Node, tests): that flock(1) helper straight away, asynchronously.
import { ProcessError } from './errors.js';
import { bindLibc } from './ffi.js';

/** A held lock; release() drops it (closing the descriptor). */
export interface FileLock {
  readonly path: string;
  /** Which mechanism took it: flock(2) via bun:ffi (it was free), or the flock(1) helper (it waited, or not in Bun). */
  readonly via: 'ffi' | 'flock(1)';
  release(): void;
}

/** Options for lockFile. */
export interface LockOptions {
  /** Give up after this long with a ProcessError of kind 'busy' (CNI code 11); default 30 s. */
  timeoutMs?: number;
  /** Permission bits when the lock file is created; default 0o750, as Go's go-filemutex. */
  mode?: number;
  /** Skip the LOCK_NB attempt and wait through the flock(1) helper even in Bun (for measurements and tests). */
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
    const { openSync, constants } = nodeFs();
    fd = openSync(path, constants.O_RDONLY | constants.O_CREAT | constants.O_NOFOLLOW, opts.mode ?? 0o750);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ELOOP' ? 'it is a symbolic link' : (e as Error).message;
    throw new ProcessError('failed', `open ${path}`, `cannot open lock file ${path}: ${why}`, { cause: e });
  }
  try {
    const ffi = await loadLibc();
    if (ffi && !opts.forceHelper && tryFlock(ffi, fd, path)) return held(path, fd, 'ffi', () => ffi.flock(fd, LOCK_UN));
    if (ffi && timeoutMs <= 0) throw busy(path, timeoutMs);
    try {
      if (ffi) helperFlockSync(fd, path, timeoutMs);
      else await helperFlock(fd, path, timeoutMs);
    } catch (e) {
      // no util-linux on this node: poll rather than fail (waiters can then be overtaken)
      if (!(ffi && e instanceof ProcessError && e.kind === 'not-found')) throw e;
      await pollFlock(ffi, fd, path, timeoutMs);
    }
    return held(path, fd, 'flock(1)', ffi ? () => ffi.flock(fd, LOCK_UN) : undefined);
  } catch (e) {
    nodeFs().closeSync(fd);
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
      nodeFs().closeSync(fd);
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

// One non-blocking attempt (retried when a signal interrupts it); false when another holds the lock.
function tryFlock(ffi: Libc, fd: number, path: string): boolean {
  for (;;) {
    if (ffi.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const errno = ffi.errno();
    if (errno === EWOULDBLOCK) return false;
    if (errno !== EINTR) throw new ProcessError('failed', `flock ${path}`, `flock(${path}) failed with errno ${errno}`);
  }
}

// The fallback without flock(1): LOCK_NB polled with a short, jittered back-off until the deadline.
async function pollFlock(ffi: Libc, fd: number, path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let wait = 1;
  for (;;) {
    if (tryFlock(ffi, fd, path)) return;
    const left = deadline - Date.now();
    if (left <= 0) throw busy(path, timeoutMs);
    // short, jittered back-off: waiters do not wake in lockstep, and a free lock is noticed soon
    await new Promise((r) => setTimeout(r, Math.min(left, wait * (0.5 + Math.random()))));
    wait = Math.min(wait * 2, 16);
  }
}

function helperArgs(timeoutMs: number): string[] {
  const wait = timeoutMs <= 0 ? ['-n'] : ['-w', (timeoutMs / 1000).toFixed(3)];
  return [...wait, '-E', String(BUSY_EXIT), '3'];
}

// What flock(1) ended with: nothing when it took the lock, else the error to throw.
function helperOutcome(path: string, timeoutMs: number, r: { error?: Error; status: number | null; stderr: string }) {
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    return new ProcessError(
      missing ? 'not-found' : 'failed',
      'flock',
      missing ? 'flock: command not found (install util-linux)' : `flock ${path}: ${r.error.message}`,
      { cause: r.error },
    );
  }
  if (r.status === 0) return undefined;
  if (r.status === BUSY_EXIT) return busy(path, timeoutMs);
  return new ProcessError('failed', 'flock', `flock ${path}: ${r.stderr.trim() || `exit status ${r.status}`}`, {
    status: r.status,
    stderr: r.stderr,
  });
}

// In Bun, where nothing else runs meanwhile: spawnSync, which starts flock(1) sooner and far more
// cheaply than Bun's asynchronous child processes, so the waiter joins the queue sooner.
function helperFlockSync(fd: number, path: string, timeoutMs: number): void {
  const r = childProcess().spawnSync('flock', helperArgs(timeoutMs), {
    stdio: ['ignore', 'ignore', 'pipe', fd],
    encoding: 'utf8',
    timeout: Math.max(timeoutMs, 0) + 5000, // flock -w ends it first; this only guards a wedged helper
    killSignal: 'SIGKILL',
  });
  const e = helperOutcome(path, timeoutMs, { error: r.error, status: r.status, stderr: r.stderr ?? '' });
  if (e) throw e;
}

// Under Node: asynchronous, so the process's event loop runs on while it waits.
function helperFlock(fd: number, path: string, timeoutMs: number): Promise<void> {
  const child = childProcess().spawn('flock', helperArgs(timeoutMs), { stdio: ['ignore', 'ignore', 'pipe', fd] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  return new Promise((resolve, reject) => {
    child.once('error', (error) => reject(helperOutcome(path, timeoutMs, { error, status: null, stderr })));
    child.once('close', (status) => {
      const e = helperOutcome(path, timeoutMs, { status, stderr });
      if (e) reject(e);
      else resolve();
    });
  });
}

// node:fs on first use: a run that takes no lock (portmap's usual ADD and DEL) does not load it
// (about 1.5 ms of CPU in a compiled plugin, docs/performance.md).
const nodeFs = () => process.getBuiltinModule('node:fs');

// node:child_process on first use: a free lock (nearly always) needs no helper, and importing the
// module costs a compiled plugin 1.6 ms of CPU (run.ts).
const childProcess = () => process.getBuiltinModule('node:child_process');

/** libc's flock through bun:ffi (ffi.ts); null outside Bun or when libc cannot be opened. */
async function loadLibc(): Promise<Libc | null> {
  if (libc !== undefined) return libc;
  const lib = bindLibc(['libc.so.6', 'libc.so', `libc.musl-${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}.so.1`], {
    flock: { args: ['i32', 'i32'], returns: 'i32' },
    __errno_location: { args: [], returns: 'ptr' },
  });
  libc = lib && {
    flock: (fd, op) => lib.symbols.flock(fd | 0, op | 0),
    errno: () => lib.readI32(lib.symbols.__errno_location()),
  };
  return libc;
}
