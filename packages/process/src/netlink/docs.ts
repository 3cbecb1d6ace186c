// The kernel's rtnetlink answers as `ip -j addr show dev X` prints them, restricted to the fields
// the plugins read: ifindex, ifname, flags, mtu, operstate, address, and per address family,
// local, prefixlen, broadcast, scope, label, tentative, dadfailed. Pure. (Anything needing more,
// such as `-d` details, runs through `ip`.) Also the error texts `ip` prints.
import { formatAddr } from './addr.js';
import { type Message, attrBytes, attrText, attrU32, attrs } from './message.js';

const AF_INET = 2;
const AF_INET6 = 10;
const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_OPERSTATE = 16;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_BROADCAST = 4;
const IFA_FLAGS = 8;
const IFA_F_DADFAILED = 0x08;
const IFA_F_TENTATIVE = 0x40;

// ip's order of link flags (iproute2 print_link_flags)
const LINK_FLAGS: ReadonlyArray<readonly [number, string]> = [
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
const SCOPE_NAMES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };

/** A link as `ip -j addr show` prints it (the fields above). */
export interface LinkDoc {
  ifindex: number;
  ifname?: string;
  flags: string[];
  mtu?: number;
  operstate: string;
  address?: string;
  addr_info: AddrDoc[];
}

/** One address as `ip -j addr show` prints it (the fields above). */
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
  const list: string[] = [];
  // ip prints NO-CARRIER first for a link that is up without carrier
  if (flags & IFF_UP && !(flags & IFF_LOWER_UP)) list.push('NO-CARRIER');
  for (const [bit, name] of LINK_FLAGS) if (flags & bit) list.push(name);
  const doc: LinkDoc = { ifindex: b.getInt32(4, true), flags: list, operstate: 'UNKNOWN', addr_info: [] };
  const name = attrText(a.get(IFLA_IFNAME));
  if (name !== undefined) doc.ifname = name;
  const mtu = attrU32(a.get(IFLA_MTU));
  if (mtu !== undefined) doc.mtu = mtu;
  const op = a.get(IFLA_OPERSTATE);
  doc.operstate = (op && OPERSTATES[op.getUint8(0)]) || 'UNKNOWN';
  const mac = a.get(IFLA_ADDRESS);
  if (mac) {
    let s = '';
    for (let i = 0; i < mac.byteLength; i++) s += `${i ? ':' : ''}${mac.getUint8(i).toString(16).padStart(2, '0')}`;
    doc.address = s;
  }
  return doc;
}

/** Decodes an RTM_NEWADDR message: its link index and the address (undefined for other families). */
export function addrOf(m: Message): { ifindex: number; addr: AddrDoc } | undefined {
  const b = m.body;
  const family = b.getUint8(0);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const a = attrs(b, 8);
  const local = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
  if (!local) return undefined;
  const flags = attrU32(a.get(IFA_FLAGS)) ?? b.getUint8(2);
  const addr: AddrDoc = {
    family: family === AF_INET ? 'inet' : 'inet6',
    local: formatAddr(attrBytes(local)),
    prefixlen: b.getUint8(1),
    scope: '',
  };
  const bcast = a.get(IFA_BROADCAST);
  if (bcast) addr.broadcast = formatAddr(attrBytes(bcast));
  addr.scope = SCOPE_NAMES[b.getUint8(3)] ?? String(b.getUint8(3));
  const label = attrText(a.get(IFA_LABEL));
  if (label !== undefined) addr.label = label;
  if (flags & IFA_F_TENTATIVE) addr.tentative = true;
  if (flags & IFA_F_DADFAILED) addr.dadfailed = true;
  return { ifindex: b.getUint32(4, true), addr };
}

/** `ip -j addr show dev X`'s document: the link and its addresses, in the kernel's order. */
export function showDoc(link: Message | undefined, addrMsgs: readonly Message[]): LinkDoc[] {
  if (!link) return [];
  const doc = linkOf(link);
  for (const m of addrMsgs) {
    const a = addrOf(m);
    if (a && a.ifindex === doc.ifindex) doc.addr_info.push(a.addr);
  }
  return [doc];
}

const ERRNO_TEXT: Record<number, string> = {
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

/** strerror(errno) as glibc words it (what `ip` prints; the texts errors.ts classifies). */
export function strerror(errno: number): string {
  return ERRNO_TEXT[errno] ?? `Unknown error ${errno}`;
}
