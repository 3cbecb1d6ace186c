// An rtnetlink socket of another network namespace, without a process: the calling thread enters
// the namespace (setns), writes the sysctls it was asked to (/proc/sys/net shows the namespace
// of the thread that opens a file), opens the socket — a socket belongs to the namespace it was
// created in, whatever the thread does afterwards — and returns to its own namespace before
// anything else runs. libc's socket, setns and setsockopt come through bun:ffi's native dlopen
// (ffi.ts), with the file calls netlink/libc-fs.ts makes for a run without node:fs (one binding:
// eleven symbols cost 0.04 ms more than two, a second dlopen about 0.1 ms); files and the socket's
// reads and writes go through the run's file calls (fs.ts: node:fs unless the plugin chose libc).
// Only in Bun; elsewhere, or when libc cannot be loaded, `openRtnl` returns null and callers spawn `ip`.
import { bindLibc } from '../ffi.js';
import { fs } from '../fs.js';
import { NLMSG_DONE, NLMSG_ERROR, type Message, type Request, errorOf, messages } from './message.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const CLONE_NEWNET = 0x40000000;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const NETLINK_GET_STRICT_CHK = 12;

interface Libc {
  socket(domain: number, type: number, proto: number): number;
  setns(fd: number, nstype: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  errno(): number;
  /** The file calls (netlink/libc-fs.ts): paths are NUL-terminated bytes, results as libc's. */
  open(path: Uint8Array, flags: number, mode: number): number;
  close(fd: number): number;
  read(fd: number, buf: Uint8Array, off: number, len: number): number;
  write(fd: number, buf: Uint8Array, off: number, len: number): number;
  stat(path: Uint8Array, out: Uint8Array): number;
  readlink(path: Uint8Array, buf: Uint8Array, len: number): number;
  statfs(path: Uint8Array, out: Uint8Array): number;
  /**
   * syscall(2) with six arguments (netlink/uring.ts: io_uring's calls and mmap): the result, or
   * -1 (errno() says why).
   */
  syscall(nr: number, a: number, b: number, c: number, d: number, e: number, f: number): number;
}

/** A failure before any command ran: the namespace cannot be entered, a sysctl cannot be written. */
export class NetnsError extends Error {
  constructor(
    message: string,
    /** What `nsenter` or the shell writing the sysctls would have printed on stderr. */
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** A kernel error answer: errno and the extended-ack message. */
export class RtnlError extends Error {
  constructor(
    readonly errno: number,
    readonly extack?: string,
  ) {
    super(`netlink error ${errno}${extack ? `: ${extack}` : ''}`);
  }
}

/** An open socket: one request at a time, answered in full. */
export interface Rtnl {
  /** Sends a request and returns its answers (for 'ack', none); throws RtnlError on an error answer. */
  exchange(req: Request): Message[];
  /** Sends `msg` (a batch of messages) and hands every answer to `done` until it returns true. */
  talk(msg: Uint8Array, done: (m: Message) => boolean): void;
  close(): void;
}

let libc: Libc | null | undefined;

/** libc through bun:ffi (ffi.ts), bound on first use; null outside Bun or when it cannot be bound. */
export function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  const lib = bindLibc(['libc.so.6'], {
    socket: { args: ['i32', 'i32', 'i32'], returns: 'i32' },
    setns: { args: ['i32', 'i32'], returns: 'i32' },
    setsockopt: { args: ['i32', 'i32', 'i32', 'ptr', 'i32'], returns: 'i32' },
    __errno_location: { args: [], returns: 'ptr' },
    open: { args: ['ptr', 'i32', 'i32'], returns: 'i32' },
    close: { args: ['i32'], returns: 'i32' },
    // ssize_t as its low 32 bits: a count (our buffers are far below 2 GiB) or -1
    read: { args: ['i32', 'ptr', 'u64_fast'], returns: 'i32' },
    write: { args: ['i32', 'ptr', 'u64_fast'], returns: 'i32' },
    stat: { args: ['ptr', 'ptr'], returns: 'i32' },
    readlink: { args: ['ptr', 'ptr', 'u64_fast'], returns: 'i32' },
    statfs: { args: ['ptr', 'ptr'], returns: 'i32' },
    // long syscall(long, ...): every value passed and returned here is a non-negative integer
    // below 2^53 but -1, which comes back as a BigInt (u64_fast)
    syscall: {
      args: ['u64_fast', 'u64_fast', 'u64_fast', 'u64_fast', 'u64_fast', 'u64_fast', 'u64_fast'],
      returns: 'u64_fast',
    },
  });
  if (!lib) return libc;
  const { symbols: s, ptrOf, readI32 } = lib;
  libc = {
    socket: (d, t, pr) => s.socket(d | 0, t | 0, pr | 0),
    setns: (fd, t) => s.setns(fd | 0, t | 0),
    setsockopt: (fd, l, n, v, len) => s.setsockopt(fd | 0, l | 0, n | 0, v, len | 0),
    errno: () => readI32(s.__errno_location()),
    open: (path, flags, mode) => s.open(path, flags | 0, mode | 0),
    close: (fd) => s.close(fd | 0),
    // a zero-length buffer has no address to hand over
    read: (fd, buf, off, len) => (len === 0 ? 0 : s.read(fd | 0, ptrOf(buf, off), len)),
    write: (fd, buf, off, len) => (len === 0 ? 0 : s.write(fd | 0, ptrOf(buf, off), len)),
    stat: (path, out) => s.stat(path, out),
    readlink: (path, buf, len) => s.readlink(path, buf, len),
    statfs: (path, out) => s.statfs(path, out),
    syscall: (nr, a, b, c, d, e, f) => {
      const r = s.syscall(nr, a, b, c, d, e, f) as number | bigint;
      return typeof r === 'number' ? r : -1;
    },
  };
  return libc;
}

/**
 * Opens an rtnetlink socket in the namespace at `netns` (the current one when undefined), writing
 * `sysctls` (/proc/sys paths and values) there first; null when bun:ffi is not available. Throws
 * NetnsError where nsenter or the sysctl writes would fail.
 */
export function openRtnl(
  netns: string | undefined,
  sysctls: ReadonlyArray<readonly [string, string]> = [],
): Rtnl | null {
  const c = loadLibc();
  if (!c) return null;
  const open = (): number => {
    for (const [path, v] of sysctls) writeSysctlHere(path, v);
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new NetnsError('cannot open a netlink socket', `socket(AF_NETLINK): ${errnoText(c.errno())}\n`);
    return fd;
  };
  const fd = netns === undefined ? open() : inNetns(c, netns, open);
  const one = Uint8Array.of(1, 0, 0, 0);
  c.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
  c.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
  // as ip: the kernel then honours a dump request's filters (an address dump of one link), so a
  // read of the bridge does not grow with every pod's addresses on the node (kernels before 4.20
  // ignore the option and dump everything, which the decoder filters)
  c.setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, one, 4);
  return socketOf(fd);
}

/**
 * Runs `f` on an rtnetlink socket of the namespace at `netns` (see openRtnl) and closes it after;
 * a namespace that cannot be entered is the failure nsenter reports (status 1), and without
 * bun:ffi the result is undefined (the caller spawns the tool).
 */
export function withRtnl<T>(
  netns: string | undefined,
  f: (sock: Rtnl) => T,
): T | { failure: { stderr: string; status: number } } | undefined {
  let sock: Rtnl | null;
  try {
    sock = openRtnl(netns);
  } catch (e) {
    if (e instanceof NetnsError) return { failure: { stderr: e.stderr, status: 1 } };
    throw e;
  }
  if (!sock) return undefined;
  try {
    return f(sock);
  } finally {
    sock.close();
  }
}

/**
 * Opens a netlink socket of another protocol (NETLINK_NETFILTER: nfnetlink.ts) in our own
 * namespace; null when bun:ffi is not available or the kernel refuses the socket.
 */
export function openNetlink(protocol: number): Rtnl | null {
  const c = loadLibc();
  if (!c) return null;
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) return null;
  const one = Uint8Array.of(1, 0, 0, 0);
  c.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
  c.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
  return socketOf(fd);
}

// Runs f on this thread inside the namespace at path, and comes back before anything else runs.
function inNetns<T>(c: Libc, path: string, f: () => T): T {
  const target = openNetns(path);
  let own = -1;
  try {
    own = fs().openSync('/proc/thread-self/ns/net', 'r');
    if (c.setns(target, CLONE_NEWNET) !== 0)
      throw new NetnsError(
        `cannot enter ${path}`,
        `nsenter: reassociate to namespace 'ns/net' failed: ${errnoText(c.errno())}\n`,
      );
    let out: { value: T } | { error: unknown };
    try {
      out = { value: f() };
    } catch (error) {
      out = { error };
    }
    // failing to return, nothing this process does afterwards would happen where it thinks
    if (c.setns(own, CLONE_NEWNET) !== 0) {
      process.stderr.write(`cni-ts: cannot return to our network namespace (errno ${c.errno()})\n`);
      process.abort();
    }
    if ('error' in out) throw out.error;
    return out.value;
  } finally {
    fs().closeSync(target);
    if (own >= 0) fs().closeSync(own);
  }
}

// The namespace file, failing as nsenter does ("cannot open <path>: No such file or directory").
function openNetns(path: string): number {
  try {
    return fs().openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : String(code);
    throw new NetnsError(`cannot open ${path}`, `nsenter: cannot open ${path}: ${why}\n`);
  }
}

function errnoText(e: number): string {
  return e === 1 ? 'Operation not permitted' : e === 22 ? 'Invalid argument' : `errno ${e}`;
}

// Fails as sysctlShellArgs' shell does ("cannot write sysctl <path>", which ipBatch's error names).
function writeSysctlHere(path: string, value: string): void {
  try {
    fs().writeFileSync(path, value);
  } catch (e) {
    throw new NetnsError(`cannot write sysctl ${path}`, `${(e as Error).message}\ncannot write sysctl ${path}\n`);
  }
}

function socketOf(fd: number): Rtnl {
  const buf = new Uint8Array(64 * 1024);
  return {
    exchange(req: Request): Message[] {
      fs().writeSync(fd, req.msg, 0, req.msg.length);
      const seq = new DataView(req.msg.buffer, req.msg.byteOffset).getUint32(8, true);
      const out: Message[] = [];
      for (;;) {
        const n = fs().readSync(fd, buf);
        // a copy: the next read reuses the buffer
        for (const m of messages(buf.slice(0, n))) {
          if (m.seq !== seq) continue;
          if (m.type === NLMSG_ERROR) {
            const { errno, extack } = errorOf(m);
            if (errno !== 0) throw new RtnlError(errno, extack);
            return out;
          }
          if (m.type === NLMSG_DONE) return out;
          out.push(m);
          if (req.answer === 'one') return out;
        }
      }
    },
    talk(msg, done) {
      fs().writeSync(fd, msg, 0, msg.length);
      for (;;) {
        const n = fs().readSync(fd, buf);
        for (const m of messages(buf.slice(0, n))) if (done(m)) return;
      }
    },
    close() {
      fs().closeSync(fd);
    },
  };
}
