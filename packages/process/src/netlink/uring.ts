// One rtnetlink request written by the kernel's io-wq instead of the calling thread, through
// io_uring (IORING_OP_SEND with IOSQE_ASYNC), so that a request whose system call waits long in
// the kernel — an RTM_DELLINK runs netdev_run_todo's rcu_barrier, 16–17 ms, inside the writer's
// call — waits there while this thread does other work (docs/performance.md, "bandwidth DEL's ifb
// deletion through io_uring"). The ring is set up with `syscall(SYS_io_uring_setup)` and two (or
// three) mmaps, all through libc's syscall in the one binding (socket.ts); the request goes on its own rtnetlink socket of our namespace,
// and wait() reaps the completion and then reads the kernel's answer (the ack comes after the
// kernel's work, so nothing is left running when a caller exits after wait()). Undefined — the
// caller writes the request itself — outside Bun, on other architectures, when CNI_TS_IO_URING=0,
// and where io_uring is refused (ENOSYS, EPERM under kernel.io_uring_disabled or a seccomp
// profile); a send the ring could not make (an old kernel without IORING_OP_SEND) is written on
// the same socket by wait().
import { fs } from '../fs.js';
import { NLMSG_ERROR, errorOf, messages } from './message.js';
import { loadLibc } from './socket.js';

const SYS_IO_URING_SETUP = 425; // x86-64 and arm64 alike (the generic table's numbers)
const SYS_IO_URING_ENTER = 426;
const IORING_OFF_SQ_RING = 0;
const IORING_OFF_CQ_RING = 0x8000000;
const IORING_OFF_SQES = 0x10000000;
const IORING_FEAT_SINGLE_MMAP = 1;
const IORING_OP_SEND = 26;
const IOSQE_ASYNC = 1 << 4;
const IORING_ENTER_GETEVENTS = 1;
const PROT_RW = 0x3;
const MAP_SHARED_POPULATE = 0x1 | 0x8000;
const EINTR = 4;
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;

// mmap(2) by number: syscall is libc's one binding with the socket calls (socket.ts), no second dlopen
const SYS_MMAP = process.arch === 'arm64' ? 222 : 9;

interface Views {
  ptr(buf: Uint8Array): number;
  toArrayBuffer(address: number, offset: number, length: number): ArrayBuffer;
}

/** A request in flight: wait() returns the kernel's answer (errno 0 for success). */
export interface InFlight {
  wait(): { errno: number; extack?: string };
}

/**
 * Hands `msg` (one rtnetlink request with NLM_F_ACK, sequence number `seq`) to an io-wq thread of
 * the kernel on a socket of our namespace; undefined where that cannot be done (see above), and
 * nothing was sent.
 */
export function sendAsync(msg: Uint8Array, seq: number): InFlight | undefined {
  if (process.env.CNI_TS_IO_URING === '0' || (process.arch !== 'x64' && process.arch !== 'arm64')) return undefined;
  const ffi = (globalThis as { Bun?: { FFI?: Views } }).Bun?.FFI;
  const libc = ffi && typeof ffi.toArrayBuffer === 'function' ? loadLibc() : null;
  if (!ffi || !libc) return undefined;
  const fds: number[] = [];
  try {
    return submit(ffi, libc, msg, seq, fds);
  } catch {
    // anything unexpected before the submission: nothing was sent
    for (const fd of fds) fs().closeSync(fd);
    return undefined;
  }
}

function submit(
  ffi: Views,
  libc: NonNullable<ReturnType<typeof loadLibc>>,
  msg: Uint8Array,
  seq: number,
  fds: number[],
): InFlight | undefined {
  const sys = (nr: number, a = 0, b = 0, c = 0, d = 0, e = 0, f = 0) => libc.syscall(nr, a, b, c, d, e, f);
  const mmap = (len: number, fd: number, offset: number) =>
    sys(SYS_MMAP, 0, len, PROT_RW, MAP_SHARED_POPULATE, fd, offset);
  const view = (address: number, length: number) => new DataView(ffi.toArrayBuffer(address, 0, length));
  const params = new Uint8Array(120);
  const ring = sys(SYS_IO_URING_SETUP, 1, ffi.ptr(params));
  if (ring < 0) return undefined; // ENOSYS, EPERM (io_uring_disabled, seccomp), ENOMEM
  fds.push(ring);
  const closeRing = () => fs().closeSync(ring);
  const p = new DataView(params.buffer);
  const sq = (i: number) => p.getUint32(40 + 4 * i, true);
  const cq = (i: number) => p.getUint32(80 + 4 * i, true);
  const sqEntries = p.getUint32(0, true);
  const sqSize = sq(6) + sqEntries * 4;
  const cqSize = cq(5) + p.getUint32(4, true) * 16;
  const single = (p.getUint32(20, true) & IORING_FEAT_SINGLE_MMAP) !== 0;
  const sqAddr = mmap(single ? Math.max(sqSize, cqSize) : sqSize, ring, IORING_OFF_SQ_RING);
  const cqAddr = single ? sqAddr : mmap(cqSize, ring, IORING_OFF_CQ_RING);
  const sqeAddr = mmap(sqEntries * 64, ring, IORING_OFF_SQES);
  // mmap's MAP_FAILED is (void *)-1 (syscall's -1)
  const bad = (a: number) => a <= 0;
  if (bad(sqAddr) || bad(cqAddr) || bad(sqeAddr)) {
    closeRing();
    return undefined;
  }
  const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    closeRing();
    return undefined;
  }
  fds.push(fd);
  const one = Uint8Array.of(1, 0, 0, 0);
  libc.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
  libc.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
  const sqRing = view(sqAddr, single ? Math.max(sqSize, cqSize) : sqSize);
  const cqRing = single ? sqRing : view(cqAddr, cqSize);
  // the one SQE: send msg on fd, by an io-wq worker (IOSQE_ASYNC: not tried inline first)
  const sqe = view(sqeAddr, 64);
  for (let i = 0; i < 64; i += 4) sqe.setUint32(i, 0, true);
  sqe.setUint8(0, IORING_OP_SEND);
  sqe.setUint8(1, IOSQE_ASYNC);
  sqe.setInt32(4, fd, true);
  const addr = ffi.ptr(msg);
  sqe.setUint32(16, addr % 2 ** 32, true);
  sqe.setUint32(20, Math.floor(addr / 2 ** 32), true);
  sqe.setUint32(24, msg.length, true);
  const tail = sqRing.getUint32(sq(1), true);
  sqRing.setUint32(sq(6) + (tail & sqRing.getUint32(sq(2), true)) * 4, 0, true);
  // the tail last, as a release store: the kernel reads the entry once it sees the tail
  Atomics.store(new Uint32Array(sqRing.buffer, sq(1), 1), 0, (tail + 1) >>> 0);
  if (sys(SYS_IO_URING_ENTER, ring, 1) !== 1) {
    // not submitted (the tail is ours to leave): nothing was sent; the caller writes it itself
    fs().closeSync(fd);
    closeRing();
    return undefined;
  }
  const close = () => {
    fs().closeSync(fd);
    closeRing();
  };
  return {
    wait() {
      try {
        const cqHead = new Uint32Array(cqRing.buffer, cq(0), 1);
        const cqTail = new Uint32Array(cqRing.buffer, cq(1), 1);
        while (Atomics.load(cqTail, 0) === Atomics.load(cqHead, 0)) {
          const n = sys(SYS_IO_URING_ENTER, ring, 0, 1, IORING_ENTER_GETEVENTS);
          if (n < 0 && libc.errno() !== EINTR) throw new Error(`io_uring_enter: errno ${libc.errno()}`);
        }
        const head = Atomics.load(cqHead, 0);
        const res = cqRing.getInt32(cq(5) + (head & cqRing.getUint32(cq(2), true)) * 16 + 8, true);
        Atomics.store(cqHead, 0, (head + 1) >>> 0);
        // the ring could not send it (no IORING_OP_SEND before 5.6: EINVAL): it was not sent
        if (res < 0) fs().writeSync(fd, msg, 0, msg.length);
        return answer(fd, seq);
      } finally {
        close();
      }
    },
  };
}

// The kernel's answer to request `seq` on fd: its error message (errno 0 is the ack).
function answer(fd: number, seq: number): { errno: number; extack?: string } {
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const n = fs().readSync(fd, buf);
    for (const m of messages(buf.slice(0, n))) if (m.seq === seq && m.type === NLMSG_ERROR) return errorOf(m);
  }
}
