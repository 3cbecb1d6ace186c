// The run's file calls (fs.ts) through libc, bound by bun:ffi with the rtnetlink symbols
// (netlink/socket.ts): for a plugin whose run would otherwise load node:fs for nothing else
// (loopback; docs/startup.md). Errors are node:fs's: an Error with `code`, `errno`, `syscall` and
// `path`, and its message; a read interrupted or a non-blocking stdin not ready yet is retried.
import type { SyncFs } from '../fs.js';
import { loadLibc } from './socket.js';

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const O_CLOEXEC = 0o2000000;
const EINTR = 4;
const EAGAIN = 11;
const ENOENT = 2;

// errno → node's code and text (uv's wording), for the errors the shared path can meet
function errnos(): Record<number, readonly [string, string]> {
  return {
    1: ['EPERM', 'operation not permitted'],
    2: ['ENOENT', 'no such file or directory'],
    4: ['EINTR', 'interrupted system call'],
    9: ['EBADF', 'bad file descriptor'],
    11: ['EAGAIN', 'resource temporarily unavailable'],
    13: ['EACCES', 'permission denied'],
    20: ['ENOTDIR', 'not a directory'],
    21: ['EISDIR', 'illegal operation on a directory'],
    22: ['EINVAL', 'invalid argument'],
    28: ['ENOSPC', 'no space left on device'],
    32: ['EPIPE', 'broken pipe'],
  };
}

// No Buffer on a loopback run's path: its first use sets up Buffer's constructor and prototype
// (some 130 native and 150 other functions), about 0.06 ms of the run's CPU (docs/startup.md).
let utf8: { encode(s: string): Uint8Array } | undefined;
const cString = (s: string) => (utf8 ??= new TextEncoder()).encode(`${s}\0`);

// As Buffer's toString: bytes all below 0x80 (a runtime's JSON config, as a rule) are the same
// string in UTF-8 and Latin-1, made natively in 8 KiB slices (a byte above 0x7f makes its UTF-8
// encoding longer than the bytes, so the check is native too); anything else goes through Buffer,
// so every result is node:fs's.
function decode(bytes: Uint8Array, encoding: 'utf8' | 'latin1'): string {
  if (encoding === 'utf8') {
    let s = '';
    for (let i = 0; i < bytes.length; i += 8192)
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
    if ((utf8 ??= new TextEncoder()).encode(s).length === bytes.length) return s;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString(encoding);
}

/** The file calls through libc; null outside Bun or when libc cannot be bound. */
export function libcFs(): SyncFs | null {
  const c = loadLibc();
  if (!c) return null;
  const fail = (syscall: string, path?: string): Error => {
    const n = c.errno();
    const [code, text] = errnos()[n] ?? [`Unknown system error -${n}`, `unknown error ${n}`];
    const at = path === undefined ? '' : ` '${path}'`;
    return Object.assign(new Error(`${code}: ${text}, ${syscall}${at}`), {
      code,
      errno: -n,
      syscall,
      ...(path === undefined ? {} : { path }),
    });
  };
  const open = (path: string, flags: number, mode = 0): number => {
    for (;;) {
      const fd = c.open(cString(path), flags | O_CLOEXEC, mode);
      if (fd >= 0) return fd;
      if (c.errno() !== EINTR) throw fail('open', path);
    }
  };
  const readSync = (fd: number, buf: Uint8Array, off = 0): number => {
    for (;;) {
      const n = c.read(fd, buf, off, buf.length - off);
      if (n >= 0) return n;
      const e = c.errno();
      if (e === EAGAIN) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      else if (e !== EINTR) throw fail('read');
    }
  };
  const writeSync = (fd: number, buf: Uint8Array, off: number, len: number): number => {
    for (;;) {
      const n = c.write(fd, buf, off, len);
      if (n >= 0) return n;
      // EAGAIN goes to the caller, as with node:fs (skel's writeAll retries)
      if (c.errno() !== EINTR) throw fail('write');
    }
  };
  const readAll = (fd: number): Uint8Array => {
    let buf = new Uint8Array(16 * 1024);
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = readSync(fd, buf, len);
      if (n === 0) return buf.subarray(0, len);
      len += n;
    }
  };
  // st_dev and st_ino: the first two 64-bit fields of struct stat on x86-64 and arm64 alike;
  // st_mode follows st_nlink (64-bit) on x86-64, and comes right after st_ino on arm64
  const modeAt = process.arch === 'x64' ? 24 : 16;
  const u64 = (b: Uint8Array, at: number) => {
    const v = new DataView(b.buffer, b.byteOffset);
    return v.getUint32(at + 4, true) * 2 ** 32 + v.getUint32(at, true);
  };
  return {
    openSync: (path) => open(path, O_RDONLY),
    closeSync(fd) {
      c.close(fd);
    },
    readSync: (fd, buf) => readSync(fd, buf),
    writeSync,
    readFileSync(path, encoding) {
      const fd = typeof path === 'number' ? path : open(path, O_RDONLY);
      try {
        return decode(readAll(fd), encoding);
      } finally {
        if (typeof path !== 'number') c.close(fd);
      }
    },
    writeFileSync(path, data) {
      const fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o666);
      try {
        const b = Buffer.from(data, 'utf8');
        for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
      } finally {
        c.close(fd);
      }
    },
    // (an overload: the implementation's signature is the wider one)
    statSync: ((path: string, opts?: { throwIfNoEntry?: boolean }) => {
      const out = new Uint8Array(256);
      if (c.stat(cString(path), out) !== 0) {
        const e = c.errno();
        // as Bun's node:fs: only ENOENT (Node's also takes ENOTDIR)
        if (opts?.throwIfNoEntry === false && e === ENOENT) return undefined;
        throw fail('stat', path);
      }
      const mode = new DataView(out.buffer).getUint32(modeAt, true);
      return { dev: u64(out, 0), ino: u64(out, 8), isFile: () => (mode & 0o170000) === 0o100000 };
    }) as SyncFs['statSync'],
    readlinkSync(path) {
      // PATH_MAX: a longer target is ENAMETOOLONG for the kernel already
      const buf = new Uint8Array(4096);
      const n = c.readlink(cString(path), buf, buf.length);
      if (n < 0) throw fail('readlink', path);
      return Buffer.from(buf.subarray(0, n)).toString('utf8');
    },
    statfsSync(path) {
      const out = new Uint8Array(256);
      if (c.statfs(cString(path), out) !== 0) throw fail('statfs', path);
      // f_type, the first field
      return { type: u64(out, 0) };
    },
  };
}
