// The iproute2 commands the plugins run — links (netlink/links.ts), addresses, routes, `addr
// show` — as the rtnetlink requests `ip` itself sends for them (iproute2's iplink/ipaddress/
// iproute: same flags, defaults and attributes). Pure. A command outside this subset is
// undefined, and its whole batch runs through `ip` instead.
import { parseAddr, parsePrefix } from './addr.js';
import { devArg, ifinfo, linkAdd, linkDel, linkSet } from './links.js';
import { Builder, F_ACK, F_CREATE, F_DUMP, F_EXCL, F_REQUEST, type Request } from './message.js';
import { routeDump } from './route-docs.js';
import type { Step } from './step.js';

const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const AF_INET = 2;
const AF_INET6 = 10;
const IFLA_IFNAME = 3;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_METRICS = 8;
const RTA_TABLE = 15;
const RTAX_MTU = 2;
const RTAX_ADVMSS = 8;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_HOST = 254;
function scopes(): Record<string, number> {
  return { global: 0, universe: 0, site: 200, link: 253, host: 254, nowhere: 255 };
}

/** The netlink form of one iproute2 command, or undefined when it is outside the subset. */
export function stepOf(cmd: readonly string[]): Step | undefined {
  const [obj, verb, ...rest] = cmd;
  if (obj === 'link' && verb === 'set') return linkSet(rest);
  if (obj === 'link' && verb === 'del') return linkDel(rest);
  if (obj === 'link' && verb === 'add') return linkAdd(rest);
  if (obj === 'addr' && verb === 'add') return addrAdd(rest);
  if (obj === 'addr' && verb === 'del') return addrDel(rest);
  if (obj === 'addr' && verb === 'show') return addrShow(rest);
  if (obj === 'link' && verb === 'show') return linkShow(rest);
  if (obj === 'route' && verb === 'add') return routeAdd(rest);
  if (obj === 'route' && verb === 'show') return routeShow(rest);
  return undefined;
}

/** The request that finds a link by name (RTM_GETLINK with IFLA_IFNAME). */
export function linkByName(name: string, seq: number): Request {
  return {
    msg: ifinfo(new Builder(RTM_GETLINK, F_REQUEST, seq))
      .attrString(IFLA_IFNAME, name)
      .done(),
    answer: 'one',
  };
}

/** The request that reads a link by index. */
export function linkByIndex(index: number, seq: number): Request {
  return { msg: ifinfo(new Builder(RTM_GETLINK, F_REQUEST, seq), index).done(), answer: 'one' };
}

// addr add <ip/len> [broadcast +] dev <name>
function addrAdd(rest: readonly string[]): Step | undefined {
  const p = rest[0] === undefined ? undefined : parsePrefix(rest[0]);
  if (!p) return undefined;
  let opts = rest.slice(1);
  const bcast = opts[0] === 'broadcast' && opts[1] === '+';
  if (bcast) opts = opts.slice(2);
  const dev = opts[0] === 'dev' ? devArg(opts) : undefined;
  if (dev === undefined) return undefined;
  const v4 = p.addr.length === 4;
  // ip's default scope: host for 127/8, else global
  const scope = v4 && p.addr[0] === 127 ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
  return {
    dev,
    requests: ({ index }, seq) => {
      const b = new Builder(RTM_NEWADDR, F_REQUEST | F_ACK | F_CREATE | F_EXCL, seq);
      b.u8(v4 ? AF_INET : AF_INET6)
        .u8(p.len)
        .u8(0)
        .u8(scope)
        .u32(index);
      b.attr(IFA_LOCAL, p.addr).attr(IFA_ADDRESS, p.addr);
      // `broadcast +`: the host bits set (ip does it for prefixes shorter than /31)
      if (bcast && v4 && p.len < 31) {
        const all = new Uint8Array(p.addr);
        for (let bit = p.len; bit < 32; bit++) all[bit >> 3]! |= 0x80 >> (bit & 7);
        b.attr(IFA_BROADCAST, all);
      }
      return [{ msg: b.done(), answer: 'ack' }];
    },
  };
}

// addr del <ip/len> dev <name>: ip sends the local address only, without a scope
function addrDel(rest: readonly string[]): Step | undefined {
  const p = rest[0] === undefined ? undefined : parsePrefix(rest[0]);
  const dev = rest[1] === 'dev' ? devArg(rest.slice(1)) : undefined;
  if (!p || dev === undefined) return undefined;
  return {
    dev,
    requests: ({ index }, seq) => {
      const b = new Builder(RTM_DELADDR, F_REQUEST | F_ACK, seq);
      b.u8(p.addr.length === 4 ? AF_INET : AF_INET6)
        .u8(p.len)
        .u8(0)
        .u8(0)
        .u32(index);
      return [{ msg: b.attr(IFA_LOCAL, p.addr).done(), answer: 'ack' }];
    },
  };
}

// route add <dst> [via <gw>] dev <name> [metric N] [table N] [scope S] [mtu N] [advmss N]
function routeAdd(rest: readonly string[]): Step | undefined {
  const dst = rest[0] === undefined ? undefined : parsePrefix(rest[0]);
  if (!dst) return undefined;
  const v4 = dst.addr.length === 4;
  let gw: Uint8Array | undefined;
  let dev: string | undefined;
  let scope: number | undefined;
  const num: Record<string, number> = {};
  for (let i = 1; i < rest.length; i += 2) {
    const k = rest[i]!;
    const v = rest[i + 1];
    if (v === undefined) return undefined;
    if (k === 'via') {
      gw = parseAddr(v);
      if (!gw || gw.length !== dst.addr.length) return undefined;
    } else if (k === 'dev') dev = v;
    else if (k === 'scope') {
      scope = /^\d{1,3}$/.test(v) && Number(v) < 256 ? Number(v) : scopes()[v];
      if (scope === undefined) return undefined;
    } else if (
      (k === 'metric' || k === 'table' || k === 'mtu' || k === 'advmss') &&
      /^\d{1,10}$/.test(v) &&
      Number(v) < 2 ** 32
    )
      num[k] = Number(v);
    else return undefined;
  }
  if (dev === undefined) return undefined;
  const table = num.table ?? RT_TABLE_MAIN;
  // ip: IPv6 routes are scope universe; an IPv4 route without a gateway is scope link
  const rtScope = scope ?? (v4 && !gw ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
  return {
    dev,
    requests: ({ index }, seq) => {
      const b = new Builder(RTM_NEWROUTE, F_REQUEST | F_ACK | F_CREATE | F_EXCL, seq);
      b.u8(v4 ? AF_INET : AF_INET6)
        .u8(dst.len)
        .u8(0)
        .u8(0);
      b.u8(table < 256 ? table : 0)
        .u8(RTPROT_BOOT)
        .u8(rtScope)
        .u8(RTN_UNICAST)
        .u32(0);
      b.attr(RTA_DST, dst.addr);
      if (gw) b.attr(RTA_GATEWAY, gw);
      b.attrU32(RTA_OIF, index);
      if (num.metric !== undefined) b.attrU32(RTA_PRIORITY, num.metric);
      if (table >= 256) b.attrU32(RTA_TABLE, table);
      if (num.mtu !== undefined || num.advmss !== undefined)
        b.nest(RTA_METRICS, (m) => {
          if (num.mtu !== undefined) m.attrU32(RTAX_MTU, num.mtu);
          if (num.advmss !== undefined) m.attrU32(RTAX_ADVMSS, num.advmss);
        });
      return [{ msg: b.done(), answer: 'ack' }];
    },
  };
}

function linkShow(rest: readonly string[]): Step | undefined {
  const dev = devArg(rest);
  if (dev === undefined) return undefined;
  // the link itself: the answer to the name lookup when the batch just made it, else by index
  return { dev, show: 'link', requests: ({ index, link }, seq) => (link ? [] : [linkByIndex(index, seq)]) };
}

function addrShow(rest: readonly string[]): Step | undefined {
  const dev = devArg(rest);
  if (dev === undefined) return undefined;
  return {
    dev,
    show: 'addr',
    requests: ({ index, link }, seq) => [
      ...(link ? [] : [linkByIndex(index, seq)]),
      addrsByIndex(index, link ? seq : seq + 1),
    ],
  };
}

/** The dump of one link's addresses, every family (ifa_index; honoured with NETLINK_GET_STRICT_CHK). */
export function addrsByIndex(index: number, seq: number): Request {
  return {
    msg: new Builder(RTM_GETADDR, F_REQUEST | F_DUMP, seq).u8(0).u8(0).u8(0).u8(0).u32(index).done(),
    answer: 'dump',
  };
}

// `route show table all root <0.0.0.0/0 | ::/0>`: every route of the family, every table
function routeShow(rest: readonly string[]): Step | undefined {
  if (rest.length !== 4 || rest[0] !== 'table' || rest[1] !== 'all' || rest[2] !== 'root') return undefined;
  const family = rest[3] === '0.0.0.0/0' ? AF_INET : rest[3] === '::/0' ? AF_INET6 : undefined;
  if (family === undefined) return undefined;
  return { show: 'routes', requests: (_, seq) => [{ msg: routeDump(family, seq), answer: 'dump' }] };
}
