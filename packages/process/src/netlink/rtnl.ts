// rtnetlink messages for the subset of iproute2 commands the plugins run inside a pod (link up and
// down, addresses, routes, link delete, `addr show`): each command turned into the request `ip`
// itself sends, and the kernel's answers turned into the JSON `ip -j` prints. Pure (buffers in,
// buffers out); netlink/socket.ts talks to the kernel. A command outside the subset is
// `undefined`, and the caller runs the batch through `ip` instead.

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const F_REQUEST = 0x1;
const F_ACK = 0x4;
const F_DUMP = 0x300;
const F_EXCL = 0x200;
const F_CREATE = 0x400;
const AF_INET = 2;
const AF_INET6 = 10;
const IFF_UP = 0x1;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_OPERSTATE = 16;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_BROADCAST = 4;
const IFA_FLAGS = 8;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_METRICS = 8;
const RTA_TABLE = 15;
const RTAX_MTU = 2;
const RTAX_ADVMSS = 8;

/** A request: the message, and what the caller must do with the answers. */
export interface Request {
  msg: Uint8Array;
  /** 'ack': an error message (0: done); 'one': one answer (or an error); 'dump': answers until NLMSG_DONE. */
  answer: 'ack' | 'one' | 'dump';
}

/** One iproute2 command as netlink work: requests in order, then how to print the answers. */
export interface Step {
  /** The link the command names (`dev X`): looked up first; a missing one is `Cannot find device "X"`. */
  dev?: string;
  /** Builds the request(s) once the link's index is known (0 when there is no `dev`). */
  requests: (ifindex: number, seq: number) => Request[];
  /** For `addr show`: prints the link and its addresses as `ip -j addr show dev X` does. */
  show?: boolean;
}

// ---- encoding -------------------------------------------------------------------------------

class Writer {
  private bytes: number[] = [];
  u8(v: number): this {
    this.bytes.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v).u8(v >>> 8);
  }
  u32(v: number): this {
    return this.u16(v & 0xffff).u16(v >>> 16);
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.bytes.push(b[i]!);
    return this;
  }
  pad(): this {
    while (this.bytes.length % 4) this.bytes.push(0);
    return this;
  }
  attr(type: number, data: ArrayLike<number>): this {
    this.u16(4 + data.length)
      .u16(type)
      .raw(data);
    return this.pad();
  }
  get length(): number {
    return this.bytes.length;
  }
  done(): number[] {
    return this.bytes;
  }
}

const u32le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const cstring = (s: string) => [...new TextEncoder().encode(s), 0];

function message(type: number, flags: number, seq: number, body: Writer): Uint8Array {
  const b = body.done();
  const w = new Writer()
    .u32(16 + b.length)
    .u16(type)
    .u16(flags)
    .u32(seq)
    .u32(0)
    .raw(b);
  return Uint8Array.from(w.done());
}

function ifinfo(index: number, flags = 0, change = 0, family = 0): Writer {
  return new Writer().u8(family).u8(0).u16(0).u32(index).u32(flags).u32(change);
}

// ---- addresses ------------------------------------------------------------------------------

/** An IP address as bytes (4 or 16), or undefined when the text is not one. */
export function parseAddr(text: string): Uint8Array | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split('.').map(Number);
    return parts.every((p) => p <= 255) ? Uint8Array.from(parts) : undefined;
  }
  if (!text.includes(':')) return undefined;
  let s = text;
  const v4 = /:(\d{1,3}(\.\d{1,3}){3})$/.exec(s);
  if (v4) {
    const b = parseAddr(v4[1]!);
    if (!b) return undefined;
    s = `${s.slice(0, -v4[1]!.length)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (h: string) =>
    h === '' ? [] : h.split(':').map((x) => (/^[0-9a-fA-F]{1,4}$/.test(x) ? parseInt(x, 16) : NaN));
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  const total = head.length + tail.length;
  if (
    [...head, ...tail].some(Number.isNaN) ||
    total > (halves.length === 2 ? 7 : 8) ||
    (halves.length === 1 && total !== 8)
  )
    return undefined;
  const all = [...head, ...Array(8 - total).fill(0), ...tail];
  return Uint8Array.from(all.flatMap((w) => [w >>> 8, w & 0xff]));
}

/** Formats address bytes as inet_ntop does (what `ip` prints). */
export function formatAddr(b: Uint8Array): string {
  if (b.length === 4) return [...b].join('.');
  const w = Array.from({ length: 8 }, (_, i) => (b[2 * i]! << 8) | b[2 * i + 1]!);
  if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) return `::ffff:${[...b.slice(12)].join('.')}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** "ip/len" → bytes and length; undefined when it is not one (ip would refuse it too). */
function parsePrefixArg(text: string): { addr: Uint8Array; len: number } | undefined {
  const [ip, len, more] = text.split('/');
  if (more !== undefined || ip === undefined) return undefined;
  const addr = parseAddr(ip);
  if (!addr) return undefined;
  const max = addr.length * 8;
  const n = len === undefined ? max : /^\d+$/.test(len) ? Number(len) : NaN;
  return Number.isInteger(n) && n <= max ? { addr, len: n } : undefined;
}

function familyOf(addr: Uint8Array): number {
  return addr.length === 4 ? AF_INET : AF_INET6;
}

const SCOPES: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: 254, nowhere: 255 };
const SCOPE_NAMES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };

// ---- commands -------------------------------------------------------------------------------

/** The netlink form of one iproute2 command, or undefined when it is outside the subset. */
export function stepOf(cmd: readonly string[]): Step | undefined {
  const [obj, verb, ...rest] = cmd;
  if (obj === 'link' && verb === 'set') return linkSet(rest);
  if (obj === 'link' && verb === 'del') return linkDel(rest);
  if (obj === 'addr' && verb === 'add') return addrAdd(rest);
  if (obj === 'addr' && verb === 'show') return addrShow(rest);
  if (obj === 'route' && verb === 'add') return routeAdd(rest);
  return undefined;
}

function devArg(rest: readonly string[]): string | undefined {
  if (rest.length === 2 && rest[0] === 'dev') return rest[1];
  if (rest.length === 1) return rest[0];
  return undefined;
}

function linkSet(rest: readonly string[]): Step | undefined {
  const state = rest[rest.length - 1];
  const dev = devArg(rest.slice(0, -1));
  if (!dev || (state !== 'up' && state !== 'down')) return undefined;
  return {
    dev,
    requests: (index, seq) => [
      {
        msg: message(RTM_NEWLINK, F_REQUEST | F_ACK, seq, ifinfo(index, state === 'up' ? IFF_UP : 0, IFF_UP)),
        answer: 'ack',
      },
    ],
  };
}

function linkDel(rest: readonly string[]): Step | undefined {
  const dev = devArg(rest);
  if (!dev) return undefined;
  return {
    dev,
    requests: (index, seq) => [{ msg: message(RTM_DELLINK, F_REQUEST | F_ACK, seq, ifinfo(index)), answer: 'ack' }],
  };
}

function addrAdd(rest: readonly string[]): Step | undefined {
  // addr add <ip/len> [broadcast +] dev <name>
  const [prefix, ...opts] = rest;
  const p = prefix ? parsePrefixArg(prefix) : undefined;
  if (!p) return undefined;
  let bcast = false;
  if (opts[0] === 'broadcast' && opts[1] === '+') {
    bcast = true;
    opts.splice(0, 2);
  }
  const dev = devArg(opts);
  if (!dev || opts.length !== 2) return undefined;
  const family = familyOf(p.addr);
  // ip's default scope: host for 127/8 (and ::1 is the kernel's), else global
  const scope = family === AF_INET && p.addr[0] === 127 ? SCOPES.host! : 0;
  return {
    dev,
    requests: (index, seq) => {
      const body = new Writer().u8(family).u8(p.len).u8(0).u8(scope).u32(index);
      body.attr(IFA_LOCAL, p.addr).attr(IFA_ADDRESS, p.addr);
      if (bcast && family === AF_INET && p.len < 31) {
        const b = Uint8Array.from(p.addr);
        for (let bit = p.len; bit < 32; bit++) b[bit >> 3]! |= 0x80 >> (bit & 7);
        body.attr(IFA_BROADCAST, b);
      }
      return [{ msg: message(RTM_NEWADDR, F_REQUEST | F_ACK | F_CREATE | F_EXCL, seq, body), answer: 'ack' }];
    },
  };
}

function routeAdd(rest: readonly string[]): Step | undefined {
  // route add <dst> [via <gw>] dev <name> [metric N] [table N] [scope S] [mtu N] [advmss N]
  const [dstText, ...opts] = rest;
  const dst = dstText === undefined ? undefined : parsePrefixArg(dstText);
  if (!dst) return undefined;
  const family = familyOf(dst.addr);
  let gw: Uint8Array | undefined;
  let dev: string | undefined;
  const num: Record<string, number> = {};
  let scope: number | undefined;
  for (let i = 0; i < opts.length; i += 2) {
    const [k, v] = [opts[i]!, opts[i + 1]];
    if (v === undefined) return undefined;
    if (k === 'via') gw = parseAddr(v);
    else if (k === 'dev') dev = v;
    else if (k === 'scope') scope = /^\d+$/.test(v) ? Number(v) : SCOPES[v];
    else if (['metric', 'table', 'mtu', 'advmss'].includes(k) && /^\d+$/.test(v)) num[k] = Number(v);
    else return undefined;
    if ((k === 'via' && (!gw || familyOf(gw) !== family)) || (k === 'scope' && scope === undefined)) return undefined;
  }
  if (!dev) return undefined;
  const table = num.table ?? 254;
  // ip: a route without a gateway is scope link, with one scope universe, unless given
  const rtScope = scope ?? (gw ? 0 : SCOPES.link!);
  return {
    dev,
    requests: (index, seq) => {
      const body = new Writer()
        .u8(family)
        .u8(dst.len)
        .u8(0)
        .u8(0)
        .u8(table < 256 ? table : 0)
        .u8(3) // RTPROT_BOOT, as ip
        .u8(rtScope)
        .u8(1) // RTN_UNICAST
        .u32(0);
      if (dst.len > 0) body.attr(RTA_DST, dst.addr);
      if (gw) body.attr(RTA_GATEWAY, gw);
      body.attr(RTA_OIF, u32le(index));
      if (num.metric !== undefined) body.attr(RTA_PRIORITY, u32le(num.metric));
      if (table >= 256) body.attr(RTA_TABLE, u32le(table));
      const metrics = new Writer();
      if (num.mtu !== undefined) metrics.attr(RTAX_MTU, u32le(num.mtu));
      if (num.advmss !== undefined) metrics.attr(RTAX_ADVMSS, u32le(num.advmss));
      if (metrics.length) body.attr(RTA_METRICS, metrics.done());
      return [{ msg: message(RTM_NEWROUTE, F_REQUEST | F_ACK | F_CREATE | F_EXCL, seq, body), answer: 'ack' }];
    },
  };
}

function addrShow(rest: readonly string[]): Step | undefined {
  const dev = devArg(rest);
  if (!dev) return undefined;
  return {
    dev,
    show: true,
    requests: (index, seq) => [
      { msg: message(RTM_GETLINK, F_REQUEST, seq, ifinfo(index)), answer: 'one' },
      {
        msg: message(RTM_GETADDR, F_REQUEST | F_DUMP, seq + 1, new Writer().u8(0).u8(0).u8(0).u8(0).u32(0)),
        answer: 'dump',
      },
    ],
  };
}

/** The request that finds a link's index by name (an RTM_GETLINK with IFLA_IFNAME). */
export function linkByName(name: string, seq: number): Request {
  return { msg: message(RTM_GETLINK, F_REQUEST, seq, ifinfo(0).attr(IFLA_IFNAME, cstring(name))), answer: 'one' };
}

// ---- decoding -------------------------------------------------------------------------------

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

/** The errno of an NLMSG_ERROR message (0: success) and the kernel's extended message, if any. */
export function errorOf(m: Message): { errno: number; extack?: string } {
  const errno = -m.body.getInt32(0, true);
  // with NETLINK_CAP_ACK the request's header follows (16 bytes), then NLMSGERR_ATTR_* when
  // NLM_F_ACK_TLVS (0x200) is set; NLMSGERR_ATTR_MSG (1) is the text ip prints as "Error: …."
  if (!(m.flags & 0x200)) return { errno };
  const msg = text(attrs(m.body, 4 + 16).get(1));
  return msg ? { errno, extack: msg } : { errno };
}

function attrs(body: DataView, start: number): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (let off = start; off + 4 <= body.byteLength; ) {
    const len = body.getUint16(off, true);
    const type = body.getUint16(off + 2, true) & 0x3fff;
    if (len < 4 || off + len > body.byteLength) break;
    out.set(type, new Uint8Array(body.buffer, body.byteOffset + off + 4, len - 4));
    off += (len + 3) & ~3;
  }
  return out;
}

const text = (b: Uint8Array | undefined) =>
  b ? new TextDecoder().decode(b.subarray(0, b.indexOf(0) < 0 ? b.length : b.indexOf(0))) : undefined;
const u32of = (b: Uint8Array | undefined) =>
  b && b.length >= 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) : undefined;

// ip's order of link flags
const LINK_FLAGS: Array<[number, string]> = [
  [0x8, 'LOOPBACK'],
  [0x2, 'BROADCAST'],
  [0x10, 'POINTOPOINT'],
  [0x1000, 'MULTICAST'],
  [0x80, 'NOARP'],
  [0x200, 'ALLMULTI'],
  [0x100, 'PROMISC'],
  [0x400, 'MASTER'],
  [0x800, 'SLAVE'],
  [0x4, 'DEBUG'],
  [0x8000, 'DYNAMIC'],
  [0x4000, 'AUTOMEDIA'],
  [0x2000, 'PORTSEL'],
  [0x20, 'NOTRAILERS'],
  [0x1, 'UP'],
  [0x10000, 'LOWER_UP'],
  [0x20000, 'DORMANT'],
  [0x40000, 'ECHO'],
];
const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'];

/** A link as `ip -j addr show` prints it, without its addresses. */
export interface LinkDoc {
  ifindex: number;
  ifname?: string;
  flags: string[];
  mtu?: number;
  operstate: string;
  address?: string;
  addr_info: AddrDoc[];
}

/** One address as `ip -j addr show` prints it (the fields the plugins read). */
export interface AddrDoc {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  broadcast?: string;
  scope: string;
  label?: string;
  tentative?: true;
  dadfailed?: true;
}

/** Decodes an RTM_NEWLINK message. */
export function linkOf(m: Message): LinkDoc {
  const b = m.body;
  const flags = b.getUint32(8, true);
  const a = attrs(b, 16);
  const list = LINK_FLAGS.filter(([bit]) => flags & bit).map(([, name]) => name);
  // ip prints NO-CARRIER first for a link that is up without carrier
  if (flags & IFF_UP && !(flags & 0x10000)) list.unshift('NO-CARRIER');
  const mac = a.get(IFLA_ADDRESS);
  const op = a.get(IFLA_OPERSTATE)?.[0] ?? 0;
  const doc: LinkDoc = {
    ifindex: b.getInt32(4, true),
    flags: list,
    operstate: OPERSTATES[op] ?? 'UNKNOWN',
    addr_info: [],
  };
  const name = text(a.get(IFLA_IFNAME));
  if (name !== undefined) doc.ifname = name;
  const mtu = u32of(a.get(IFLA_MTU));
  if (mtu !== undefined) doc.mtu = mtu;
  if (mac) doc.address = [...mac].map((x) => x.toString(16).padStart(2, '0')).join(':');
  return doc;
}

/** Decodes an RTM_NEWADDR message: its link index and the address. */
export function addrOf(m: Message): { ifindex: number; addr: AddrDoc } | undefined {
  const b = m.body;
  const family = b.getUint8(0);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const a = attrs(b, 8);
  const local = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
  if (!local) return undefined;
  const flags = u32of(a.get(IFA_FLAGS)) ?? b.getUint8(2);
  const scope = b.getUint8(3);
  const addr: AddrDoc = {
    family: family === AF_INET ? 'inet' : 'inet6',
    local: formatAddr(local),
    prefixlen: b.getUint8(1),
    scope: SCOPE_NAMES[scope] ?? String(scope),
  };
  const bcast = a.get(IFA_BROADCAST);
  if (bcast) {
    const { scope: s, ...head } = addr;
    Object.assign(addr, { ...head, broadcast: formatAddr(bcast), scope: s });
  }
  const label = text(a.get(IFA_LABEL));
  if (label !== undefined) addr.label = label;
  if (flags & 0x40) addr.tentative = true;
  if (flags & 0x08) addr.dadfailed = true;
  return { ifindex: b.getUint32(4, true), addr };
}

/** What iproute2 prints for a kernel error number (strerror; the messages classify() reads). */
export function strerror(errno: number): string {
  const known: Record<number, string> = {
    1: 'Operation not permitted',
    2: 'No such file or directory',
    3: 'No such process',
    11: 'Resource temporarily unavailable',
    12: 'Cannot allocate memory',
    13: 'Permission denied',
    16: 'Device or resource busy',
    17: 'File exists',
    19: 'No such device',
    22: 'Invalid argument',
    34: 'Numerical result out of range',
    95: 'Operation not supported',
    99: 'Cannot assign requested address',
    101: 'Network is unreachable',
  };
  return known[errno] ?? `Unknown error ${errno}`;
}
