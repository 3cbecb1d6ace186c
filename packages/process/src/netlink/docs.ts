// The kernel's rtnetlink answers as `ip -j [-d] addr show dev X` prints them, restricted to the
// fields the plugins read: ifindex, ifname, flags, mtu, operstate, address, master, link_index,
// link_netnsid (and `link` for a peer in the same namespace), ifalias, with -d the linkinfo's kinds,
// a bridge's vlan_filtering and vlan_default_pvid and a bridge port's hairpin and isolated, and
// per address family, local, prefixlen, broadcast, scope, label, tentative, dadfailed. Pure.
// Also the error texts `ip` prints.
import { formatAddr } from './addr.js';
import { type Message, attrBytes, attrText, attrU32, attrs } from './message.js';

const AF_INET = 2;
const AF_INET6 = 10;
const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINK = 5;
const IFLA_MASTER = 10;
const IFLA_OPERSTATE = 16;
const IFLA_IFALIAS = 20;
const IFLA_LINKINFO = 18;
const IFLA_LINK_NETNSID = 37;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_INFO_SLAVE_KIND = 4;
const IFLA_INFO_SLAVE_DATA = 5;
const IFLA_BR_VLAN_FILTERING = 7;
const IFLA_BR_VLAN_DEFAULT_PVID = 39;
const IFLA_BRPORT_MODE = 4;
const IFLA_BRPORT_ISOLATED = 33;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_BROADCAST = 4;
const IFA_FLAGS = 8;
const IFA_F_DADFAILED = 0x08;
const IFA_F_TENTATIVE = 0x40;

// ip's order of link flags (iproute2 print_link_flags)
function linkFlags(): ReadonlyArray<readonly [number, string]> {
  return [
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
}
function operstates() {
  return ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'];
}

/** A link as `ip -j addr show` prints it (the fields above). */
export interface LinkDoc {
  ifindex: number;
  ifname?: string;
  flags: string[];
  mtu?: number;
  operstate: string;
  address?: string;
  link?: string;
  link_index?: number;
  master?: string;
  link_netnsid?: number;
  ifalias?: string;
  linkinfo?: LinkInfo;
  addr_info: AddrDoc[];
}

/** `ip -d`'s linkinfo (the fields above). */
export interface LinkInfo {
  info_kind?: string;
  info_data?: { vlan_filtering?: number; vlan_default_pvid?: number };
  info_slave_kind?: string;
  info_slave_data?: { hairpin?: boolean; isolated?: boolean };
}

/** What showDoc needs besides the answers: ip's -d, and the names (and state) it resolves. */
export interface ShowContext {
  details: boolean;
  masterName?: string;
  /** A peer in the same namespace (IFLA_LINK without a netnsid): its name and whether it is down. */
  peer?: { name?: string; down: boolean };
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

/** The master's index of an RTM_NEWLINK message, if it has one. */
export function masterIndexOf(m: Message): number | undefined {
  return attrU32(attrs(m.body, 16).get(IFLA_MASTER));
}

/** The peer of an RTM_NEWLINK message when it is in the same namespace (IFLA_LINK, no netnsid). */
export function samePeerIndexOf(m: Message): number | undefined {
  const a = attrs(m.body, 16);
  const link = attrU32(a.get(IFLA_LINK));
  return link && !a.has(IFLA_LINK_NETNSID) ? link : undefined;
}

/** The IFF_* flags of an RTM_NEWLINK message. */
export function linkFlagsOf(m: Message): number {
  return m.body.getUint32(8, true);
}

/** Decodes an RTM_NEWLINK message. */
export function linkOf(m: Message, ctx: ShowContext = { details: false }): LinkDoc {
  const b = m.body;
  const flags = b.getUint32(8, true);
  const a = attrs(b, 16);
  const list: string[] = [];
  // ip prints NO-CARRIER first for a link that is up without carrier, M-DOWN for a peer that is down
  if (flags & IFF_UP && !(flags & IFF_LOWER_UP)) list.push('NO-CARRIER');
  for (const [bit, name] of linkFlags()) if (flags & bit) list.push(name);
  if (ctx.peer?.down) list.push('M-DOWN');
  const doc: LinkDoc = { ifindex: b.getInt32(4, true), flags: list, operstate: 'UNKNOWN', addr_info: [] };
  const link = attrU32(a.get(IFLA_LINK));
  const netnsid = a.get(IFLA_LINK_NETNSID);
  if (link && netnsid) doc.link_index = link;
  else if (link && ctx.peer?.name !== undefined) doc.link = ctx.peer.name;
  if (ctx.masterName !== undefined) doc.master = ctx.masterName;
  if (netnsid) doc.link_netnsid = netnsid.getInt32(0, true);
  const alias = attrText(a.get(IFLA_IFALIAS));
  if (alias) doc.ifalias = alias;
  if (ctx.details) {
    const info = linkInfoOf(a.get(IFLA_LINKINFO));
    if (info) doc.linkinfo = info;
  }
  const name = attrText(a.get(IFLA_IFNAME));
  if (name !== undefined) doc.ifname = name;
  const mtu = attrU32(a.get(IFLA_MTU));
  if (mtu !== undefined) doc.mtu = mtu;
  const op = a.get(IFLA_OPERSTATE);
  doc.operstate = (op && operstates()[op.getUint8(0)]) || 'UNKNOWN';
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
  addr.scope = scopeName(b.getUint8(3));
  const label = attrText(a.get(IFA_LABEL));
  if (label !== undefined) addr.label = label;
  if (flags & IFA_F_TENTATIVE) addr.tentative = true;
  if (flags & IFA_F_DADFAILED) addr.dadfailed = true;
  return { ifindex: b.getUint32(4, true), addr };
}

// IFLA_LINKINFO as ip -d prints it (the fields LinkInfo names).
function linkInfoOf(li: DataView | undefined): LinkInfo | undefined {
  if (!li) return undefined;
  const a = attrs(li, 0);
  const info: LinkInfo = {};
  const kind = attrText(a.get(IFLA_INFO_KIND));
  if (kind !== undefined) info.info_kind = kind;
  const data = a.get(IFLA_INFO_DATA);
  if (kind === 'bridge' && data) {
    const d = attrs(data, 0);
    const vf = d.get(IFLA_BR_VLAN_FILTERING);
    const pvid = d.get(IFLA_BR_VLAN_DEFAULT_PVID);
    info.info_data = {};
    if (vf) info.info_data.vlan_filtering = vf.getUint8(0);
    if (pvid) info.info_data.vlan_default_pvid = pvid.getUint16(0, true);
  }
  const slaveKind = attrText(a.get(IFLA_INFO_SLAVE_KIND));
  if (slaveKind !== undefined) info.info_slave_kind = slaveKind;
  const slave = a.get(IFLA_INFO_SLAVE_DATA);
  if (slaveKind === 'bridge' && slave) {
    const d = attrs(slave, 0);
    const mode = d.get(IFLA_BRPORT_MODE);
    const iso = d.get(IFLA_BRPORT_ISOLATED);
    info.info_slave_data = {};
    if (mode) info.info_slave_data.hairpin = mode.getUint8(0) !== 0;
    if (iso) info.info_slave_data.isolated = iso.getUint8(0) !== 0;
  }
  return info;
}

/** `ip -j [-d] addr show dev X`'s document: the link and its addresses, in the kernel's order. */
export function showDoc(link: Message | undefined, addrMsgs: readonly Message[], ctx: ShowContext): LinkDoc[] {
  if (!link) return [];
  const doc = linkOf(link, ctx);
  for (const m of addrMsgs) {
    const a = addrOf(m);
    if (a && a.ifindex === doc.ifindex) doc.addr_info.push(a.addr);
  }
  return [doc];
}

// strerror and the scope names are switches, not tables built at load: an object with number keys
// built at load costs a run JavaScriptCore heap blocks (docs/startup.md).

/** strerror(errno) as glibc words it (what `ip` prints; the texts errors.ts classifies). */
export function strerror(errno: number): string {
  switch (errno) {
    case 1:
      return 'Operation not permitted';
    case 2:
      return 'No such file or directory';
    case 3:
      return 'No such process';
    case 11:
      return 'Resource temporarily unavailable';
    case 12:
      return 'Cannot allocate memory';
    case 13:
      return 'Permission denied';
    case 16:
      return 'Device or resource busy';
    case 17:
      return 'File exists';
    case 19:
      return 'No such device';
    case 22:
      return 'Invalid argument';
    case 34:
      return 'Numerical result out of range';
    case 95:
      return 'Operation not supported';
    case 99:
      return 'Cannot assign requested address';
    case 101:
      return 'Network is unreachable';
    default:
      return `Unknown error ${errno}`;
  }
}

/** An address scope's name as `ip` prints it (rtnl_rtscope_n2a; a number it has no name for as the number). */
function scopeName(scope: number): string {
  switch (scope) {
    case 0:
      return 'global';
    case 200:
      return 'site';
    case 253:
      return 'link';
    case 254:
      return 'host';
    case 255:
      return 'nowhere';
    default:
      return String(scope);
  }
}

/** The line `ip` prints for a kernel error answer: the extended-ack message when there is one, else strerror. */
export function ipErrorText(errno: number, extack: string | undefined): string {
  return extack ? `Error: ${extack}${extack.endsWith('.') ? '' : '.'}` : `RTNETLINK answers: ${strerror(errno)}`;
}
