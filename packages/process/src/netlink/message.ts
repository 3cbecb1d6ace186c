// Netlink messages as bytes: a request written field by field into one buffer, and an answer
// split into messages and attributes. Pure. Written with plain DataView calls and no arrays of
// numbers: a plugin runs this code once per process, cold, so every builtin it touches is paid
// on every pod operation (docs/performance.md).

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
/** nlmsghdr flags. */
export const F_REQUEST = 0x1;
export const F_ACK = 0x4;
export const F_EXCL = 0x200;
export const F_CREATE = 0x400;
export const F_DUMP = 0x300;
const F_ACK_TLVS = 0x200; // in an NLMSG_ERROR answer: extended-ack attributes follow
const NLMSGERR_ATTR_MSG = 1;
const NLA_TYPE_MASK = 0x3fff;
const NLA_F_NESTED = 0x8000;

/** A request: the message, and what its answers are. */
export interface Request {
  msg: Uint8Array;
  /** 'ack': one NLMSG_ERROR (0: done); 'one': one answer (or an error); 'dump': answers until NLMSG_DONE. */
  answer: 'ack' | 'one' | 'dump';
}

const encoder = new TextEncoder();

/** Writes one netlink message: header, then the family header's fields, then attributes. */
export class Builder {
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private len = 16;

  /** `size`: room for the whole message (a tc qdisc with its rate table needs more than the default). */
  constructor(type: number, flags: number, seq: number, size = 512) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
    this.view.setUint16(4, type, true);
    this.view.setUint16(6, flags, true);
    this.view.setUint32(8, seq, true);
  }

  u8(v: number): this {
    this.view.setUint8(this.len, v);
    this.len += 1;
    return this;
  }

  u16(v: number): this {
    this.view.setUint16(this.len, v, true);
    this.len += 2;
    return this;
  }

  u32(v: number): this {
    this.view.setUint32(this.len, v >>> 0, true);
    this.len += 4;
    return this;
  }

  /** An attribute holding bytes. */
  attr(type: number, data: Uint8Array): this {
    this.view.setUint16(this.len, 4 + data.length, true);
    this.view.setUint16(this.len + 2, type, true);
    this.buf.set(data, this.len + 4);
    this.len += 4 + data.length;
    return this.pad();
  }

  /** An attribute holding a u32. */
  attrU32(type: number, v: number): this {
    this.view.setUint16(this.len, 8, true);
    this.view.setUint16(this.len + 2, type, true);
    this.view.setUint32(this.len + 4, v >>> 0, true);
    this.len += 8;
    return this;
  }

  /** An attribute holding a big-endian u32 (nf_tables' values). */
  attrU32be(type: number, v: number): this {
    this.view.setUint16(this.len, 8, true);
    this.view.setUint16(this.len + 2, type, true);
    this.view.setUint32(this.len + 4, v >>> 0, false);
    this.len += 8;
    return this;
  }

  /** An attribute holding a big-endian u64 (`v` a safe integer: an nf_tables rule handle), or zero. */
  attrU64be(type: number, v = 0): this {
    this.view.setUint16(this.len, 12, true);
    this.view.setUint16(this.len + 2, type, true);
    this.view.setUint32(this.len + 4, Math.floor(v / 0x1_0000_0000), false);
    this.view.setUint32(this.len + 8, v >>> 0, false);
    this.len += 12;
    return this;
  }

  /** An attribute holding a NUL-terminated string. */
  attrString(type: number, s: string): this {
    const { written } = encoder.encodeInto(s, this.buf.subarray(this.len + 4, this.buf.length - 8));
    this.view.setUint16(this.len, 4 + written + 1, true);
    this.view.setUint16(this.len + 2, type, true);
    this.buf[this.len + 4 + written] = 0;
    this.len += 4 + written + 1;
    return this.pad();
  }

  /** A nested attribute: `fill` writes its members. `flagged`: NLA_F_NESTED set (iproute2's tc leaves it off). */
  nest(type: number, fill: (b: this) => void, flagged = true): this {
    const at = this.len;
    this.len += 4;
    fill(this);
    this.view.setUint16(at, this.len - at, true);
    this.view.setUint16(at + 2, flagged ? type | NLA_F_NESTED : type, true);
    return this;
  }

  /**
   * Opens a nested attribute in place (no closure, no buffer of its own): its members follow, then
   * `close` with the offset returned here writes its length. `flagged` as in `nest`.
   */
  open(type: number, flagged = true): number {
    const at = this.len;
    this.view.setUint16(at + 2, flagged ? type | NLA_F_NESTED : type, true);
    this.len += 4;
    return at;
  }

  /** Closes the nested attribute `open` started at `at`. */
  close(at: number): this {
    this.view.setUint16(at, this.len - at, true);
    return this;
  }

  private pad(): this {
    while (this.len % 4) this.buf[this.len++] = 0;
    return this;
  }

  /** The message, its length written in. */
  done(): Uint8Array {
    this.view.setUint32(0, this.len, true);
    return this.buf.slice(0, this.len);
  }
}

/** One netlink message of an answer. */
export interface Message {
  type: number;
  flags: number;
  seq: number;
  body: DataView;
}

/** Splits a datagram into messages. */
export function messages(buf: Uint8Array): Message[] {
  const out: Message[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let off = 0; off + 16 <= buf.byteLength; ) {
    const len = view.getUint32(off, true);
    if (len < 16 || off + len > buf.byteLength) break;
    out.push({
      type: view.getUint16(off + 4, true),
      flags: view.getUint16(off + 6, true),
      seq: view.getUint32(off + 8, true),
      body: new DataView(buf.buffer, buf.byteOffset + off + 16, len - 16),
    });
    off += (len + 3) & ~3;
  }
  return out;
}

/** A message's attributes from byte `start` of its body, by type (nesting flags cleared). */
export function attrs(body: DataView, start: number): Map<number, DataView> {
  const out = new Map<number, DataView>();
  for (let off = start; off + 4 <= body.byteLength; ) {
    const len = body.getUint16(off, true);
    if (len < 4 || off + len > body.byteLength) break;
    out.set(
      body.getUint16(off + 2, true) & NLA_TYPE_MASK,
      new DataView(body.buffer, body.byteOffset + off + 4, len - 4),
    );
    off += (len + 3) & ~3;
  }
  return out;
}

/** The errno of an NLMSG_ERROR message (0: success) and the kernel's extended message, if any. */
export function errorOf(m: Message): { errno: number; extack?: string } {
  const errno = -m.body.getInt32(0, true);
  // with NETLINK_CAP_ACK the request's header follows (16 bytes), then the NLMSGERR_ATTR_*
  if (!(m.flags & F_ACK_TLVS)) return { errno };
  const msg = attrText(attrs(m.body, 4 + 16).get(NLMSGERR_ATTR_MSG));
  return msg ? { errno, extack: msg } : { errno };
}

/** A string attribute (up to its NUL). */
export function attrText(a: DataView | undefined): string | undefined {
  return a ? attrTextAt(a, 0, a.byteLength) : undefined;
}

/** The string (up to its NUL) held in the `len` bytes at `at` of `v`: an attribute's payload without a view of its own. */
export function attrTextAt(v: DataView, at: number, len: number): string {
  let end = 0;
  while (end < len && v.getUint8(at + end) !== 0) end++;
  let ascii = '';
  for (let i = 0; i < end; i++) {
    const c = v.getUint8(at + i);
    if (c >= 0x80) return new TextDecoder().decode(new Uint8Array(v.buffer, v.byteOffset + at, end));
    ascii += String.fromCharCode(c);
  }
  return ascii;
}

/** A u32 attribute; undefined when absent or short. */
export function attrU32(a: DataView | undefined): number | undefined {
  return a && a.byteLength >= 4 ? a.getUint32(0, true) : undefined;
}

/** An attribute's bytes (a copy). */
export function attrBytes(a: DataView): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}
