// An rtnetlink socket of another network namespace, through bun:ffi (libc's socket, setns, send,
// recv): the calling thread enters the namespace (setns), opens the socket — a netlink socket
// belongs to the namespace it was created in, whatever the thread does afterwards — writes the
// sysctls it was asked to (/proc/sys/net shows the namespace of the thread that opens a file),
// and returns to its own namespace before anything else runs. Only in Bun; elsewhere, or when
// libc cannot be loaded, `rtnl()` is null and callers spawn `ip`.
import { writeFileSync } from 'node:fs';
import { NLMSG_DONE, NLMSG_ERROR, type Message, type Request, errorOf, messages } from './rtnl.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const O_RDONLY_CLOEXEC = 0x80000;
const CLONE_NEWNET = 0x40000000;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;

interface Libc {
  socket(domain: number, type: number, proto: number): number;
  setns(fd: number, nstype: number): number;
  open(path: Uint8Array, flags: number): number;
  close(fd: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  send(fd: number, buf: Uint8Array, len: number): number;
  recv(fd: number, buf: Uint8Array, len: number): number;
  errno(): number;
}

/** A failure before any command ran: the namespace cannot be entered, a sysctl cannot be written. */
export class NetnsError extends Error {
  constructor(
    message: string,
    /** What a shell running `nsenter` or the sysctl writes would have printed on stderr. */
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** An open socket: one request at a time, answered in full. */
export interface Rtnl {
  /** Sends a request and returns its answers (for 'ack', nothing); throws RtnlError on an error answer. */
  exchange(req: Request): Message[];
  close(): void;
}

/** A kernel error answer: errno and the extended message. */
export class RtnlError extends Error {
  constructor(
    readonly errno: number,
    readonly extack?: string,
  ) {
    super(`netlink error ${errno}${extack ? `: ${extack}` : ''}`);
  }
}

let libc: Libc | null | undefined;

/** libc through bun:ffi, loaded on first use; null outside Bun. */
export function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (!process.versions.bun) return libc;
  try {
    // a synchronous require: Bun provides it in ES modules; rollup keeps bun:ffi external
    const { dlopen, FFIType, ptr, read } = require('bun:ffi') as typeof import('bun:ffi');
    const { i32, u64, ptr: p } = FFIType;
    const { symbols: s } = dlopen('libc.so.6', {
      socket: { args: [i32, i32, i32], returns: i32 },
      setns: { args: [i32, i32], returns: i32 },
      open: { args: [p, i32], returns: i32 },
      close: { args: [i32], returns: i32 },
      setsockopt: { args: [i32, i32, i32, p, i32], returns: i32 },
      send: { args: [i32, p, u64, i32], returns: i32 },
      recv: { args: [i32, p, u64, i32], returns: i32 },
      __errno_location: { args: [], returns: p },
    });
    libc = {
      socket: (d, t, pr) => s.socket(d, t, pr),
      setns: (fd, t) => s.setns(fd, t),
      open: (path, flags) => s.open(ptr(path), flags),
      close: (fd) => s.close(fd),
      setsockopt: (fd, l, n, v, len) => s.setsockopt(fd, l, n, ptr(v), len),
      send: (fd, b, len) => Number(s.send(fd, ptr(b), len, 0)),
      recv: (fd, b, len) => Number(s.recv(fd, ptr(b), len, 0)),
      errno: () => read.i32(s.__errno_location()!, 0),
    };
  } catch {
    libc = null;
  }
  return libc;
}

const cpath = (s: string) => new TextEncoder().encode(`${s}\0`);

/**
 * Opens an rtnetlink socket in the namespace at `netns` (the current one when undefined), writing
 * `sysctls` there first; null when bun:ffi is not available.
 */
export function openRtnl(
  netns: string | undefined,
  sysctls: ReadonlyArray<readonly [string, string]> = [],
): Rtnl | null {
  const c = loadLibc();
  if (!c) return null;
  let fd = -1;
  if (netns === undefined) {
    for (const [k, v] of sysctls) writeSysctlHere(k, v);
    fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
  } else {
    const own = c.open(cpath('/proc/thread-self/ns/net'), O_RDONLY_CLOEXEC);
    if (own < 0)
      throw new NetnsError('cannot open our own netns', `cannot open /proc/thread-self/ns/net: errno ${c.errno()}`);
    const target = c.open(cpath(netns), O_RDONLY_CLOEXEC);
    if (target < 0) {
      const e = c.errno();
      c.close(own);
      const why = e === 2 ? 'No such file or directory' : `errno ${e}`;
      throw new NetnsError(`cannot open ${netns}`, `nsenter: cannot open ${netns}: ${why}\n`);
    }
    try {
      if (c.setns(target, CLONE_NEWNET) !== 0)
        throw new NetnsError(
          `cannot enter ${netns}`,
          `nsenter: reassociate to namespace 'ns/net' failed: errno ${c.errno()}\n`,
        );
      try {
        for (const [k, v] of sysctls) writeSysctlHere(k, v);
        fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
      } finally {
        // back before anything else can run on this thread; failing that, nothing here is safe
        if (c.setns(own, CLONE_NEWNET) !== 0)
          throw new Error(`cannot return to our network namespace: errno ${c.errno()}`);
      }
    } finally {
      c.close(target);
      c.close(own);
    }
  }
  if (fd < 0) throw new NetnsError('cannot open a netlink socket', `socket(AF_NETLINK): errno ${c.errno()}\n`);
  const one = Uint8Array.of(1, 0, 0, 0);
  c.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
  c.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
  return socketOf(c, fd);
}

function writeSysctlHere(key: string, value: string): void {
  try {
    writeFileSync(`/proc/sys/${key}`, value);
  } catch (e) {
    throw new NetnsError(
      `cannot write sysctl ${key}`,
      `cannot write sysctl /proc/sys/${key}\n${(e as Error).message}\n`,
    );
  }
}

function socketOf(c: Libc, fd: number): Rtnl {
  const buf = new Uint8Array(64 * 1024);
  return {
    exchange(req: Request): Message[] {
      if (c.send(fd, req.msg, req.msg.length) < 0) throw new RtnlError(c.errno());
      const seq = new DataView(req.msg.buffer, req.msg.byteOffset).getUint32(8, true);
      const out: Message[] = [];
      for (;;) {
        const n = c.recv(fd, buf, buf.length);
        if (n < 0) {
          if (c.errno() === 4) continue; // EINTR
          throw new RtnlError(c.errno());
        }
        // copy: the next recv reuses the buffer
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
    close() {
      c.close(fd);
    },
  };
}
