// Sysctls through rtnetlink instead of /proc/sys: a lookup below /proc/sys/net from a node netns
// walks past the dentry of every other netns that has looked there (0.2-0.46 ms each with 250
// pods, docs/performance.md), a netlink request does not.
//
// - Writes: an IPv4 interface setting `net/ipv4/conf/<dev>/<key>` as IFLA_AF_SPEC / AF_INET /
//   IFLA_INET_CONF of an RTM_NEWLINK (the kernel's inet_set_link_af: the value and the "set"
//   bit of the devconf, what a /proc/sys write stores). Only the ARP settings below, whose /proc
//   handler (devinet_conf_proc) does nothing else: forwarding, rp_filter, proxy_arp,
//   accept_local, route_localnet and the others whose write flushes routes or sends a netconf
//   notification stay on /proc/sys. IPv6 settings cannot be written this way
//   (inet6_set_link_af takes the token and addr_gen_mode only).
// - Reads: `net/ipv4/ip_forward` and `net/ipv6/conf/all/forwarding` (RTM_GETNETCONF of
//   NETCONFA_IFINDEX_ALL), and an interface's IPv4 or IPv6 setting from the IFLA_AF_SPEC of its
//   RTM_GETLINK answer (the devconf arrays, IPv4's indexed from 1, IPv6's from 0).
// Checked against /proc/sys on the real kernel (packages/process/test/devconf.test.ts).
import { linkByName } from './commands.js';
import { ifinfo } from './links.js';
import { Builder, F_ACK, F_REQUEST, type Message, type Request, attrs } from './message.js';
import { type Rtnl, RtnlError } from './socket.js';

const RTM_NEWLINK = 16;
const RTM_GETNETCONF = 82;
const AF_INET = 2;
const AF_INET6 = 10;
const IFLA_AF_SPEC = 26;
const IFLA_INET_CONF = 1;
const IFLA_INET6_CONF = 2;
const NETCONFA_IFINDEX = 1;
const NETCONFA_FORWARDING = 2;
const NETCONFA_IFINDEX_ALL = -1;

/** IPv4 settings written through IFLA_INET_CONF (IPV4_DEVCONF_* ids): /proc/sys stores only the value for them. */
export const INET_CONF_WRITABLE: Readonly<Record<string, number>> = {
  arp_filter: 13,
  arp_announce: 18,
  arp_ignore: 19,
  arp_accept: 21,
  arp_notify: 22,
};

/** IPv4 settings read from IFLA_INET_CONF (IPV4_DEVCONF_* ids). */
function inetConf(): Readonly<Record<string, number>> {
  return {
    forwarding: 1,
    rp_filter: 8,
    ...INET_CONF_WRITABLE,
  };
}

/** IPv6 settings read from IFLA_INET6_CONF (DEVCONF_* indexes). */
function inet6Conf(): Readonly<Record<string, number>> {
  return {
    forwarding: 0,
    accept_ra: 3,
    disable_ipv6: 26,
    accept_dad: 27,
    keep_addr_on_down: 42,
  };
}

/** `/proc/sys/net/ipv4/conf/<dev>/<key>` (or the same without /proc/sys) split, when its key is one of `keys`. */
function confPath(path: string, fam: 'ipv4' | 'ipv6', keys: Readonly<Record<string, number>>) {
  const rel = path.startsWith('/proc/sys/') ? path.slice(10) : path;
  const parts = rel.split('/');
  if (parts.length !== 5 || parts[0] !== 'net' || parts[1] !== fam || parts[2] !== 'conf') return undefined;
  const dev = parts[3]!;
  const id = Object.hasOwn(keys, parts[4]!) ? keys[parts[4]!] : undefined;
  if (id === undefined || dev === '' || dev === 'all' || dev === 'default') return undefined;
  return { dev, id };
}

/** A sysctl written through rtnetlink: the link and the IFLA_INET_CONF entry. */
export interface InetConfWrite {
  dev: string;
  id: number;
  value: number;
}

/** `net/ipv4/conf/<dev>/<arp setting>` with a decimal value, as an IFLA_INET_CONF write; undefined for anything else. */
export function inetConfWrite(path: string, value: string): InetConfWrite | undefined {
  const c = confPath(path, 'ipv4', INET_CONF_WRITABLE);
  // proc_dointvec reads what strtol reads; only plain decimals are translated
  if (!c || !/^\d{1,9}$/.test(value)) return undefined;
  return { ...c, value: Number(value) };
}

/** The RTM_NEWLINK that writes IFLA_INET_CONF entries of the link at `index`. */
export function inetConfRequest(index: number, entries: readonly InetConfWrite[], seq: number): Request {
  const b = ifinfo(new Builder(RTM_NEWLINK, F_REQUEST | F_ACK, seq), index);
  b.nest(IFLA_AF_SPEC, (s) =>
    s.nest(AF_INET, (f) =>
      f.nest(IFLA_INET_CONF, (c) => {
        for (const e of entries) c.attrU32(e.id, e.value);
      }),
    ),
  );
  return { msg: b.done(), answer: 'ack' };
}

function netconfRequest(family: number, seq: number): Request {
  const b = new Builder(RTM_GETNETCONF, F_REQUEST, seq).u8(family).u8(0).u8(0).u8(0);
  return { msg: b.attrU32(NETCONFA_IFINDEX, NETCONFA_IFINDEX_ALL).done(), answer: 'one' };
}

// One entry of a link's devconf array in its IFLA_AF_SPEC
function devconfOf(link: Message, family: number, index: number): number | undefined {
  const spec = attrs(link.body, 16).get(IFLA_AF_SPEC);
  if (!spec) return undefined;
  const fam = attrs(spec, 0).get(family);
  const conf = fam && attrs(fam, 0).get(family === AF_INET ? IFLA_INET_CONF : IFLA_INET6_CONF);
  return conf && (index + 1) * 4 <= conf.byteLength ? conf.getInt32(index * 4, true) : undefined;
}

/**
 * Reads sysctls of the socket's namespace through rtnetlink, each as /proc/sys prints it (an
 * integer); undefined for a name this cannot read (then /proc/sys is read) or a link that does
 * not exist. `seq` is the first sequence number to use.
 */
export function readSysctls(sock: Rtnl, names: readonly string[], seq = 1): Array<string | undefined> {
  const links = new Map<string, Message | undefined>();
  const link = (dev: string): Message | undefined => {
    if (!links.has(dev)) {
      try {
        links.set(dev, sock.exchange(linkByName(dev, seq++))[0]);
      } catch (e) {
        if (!(e instanceof RtnlError)) throw e;
        links.set(dev, undefined);
      }
    }
    return links.get(dev);
  };
  return names.map((name) => {
    const rel = name.startsWith('/proc/sys/') ? name.slice(10) : name;
    const fwd = rel === 'net/ipv4/ip_forward' ? AF_INET : rel === 'net/ipv6/conf/all/forwarding' ? AF_INET6 : 0;
    if (fwd) {
      try {
        const [m] = sock.exchange(netconfRequest(fwd, seq++));
        const v = m && attrs(m.body, 4).get(NETCONFA_FORWARDING);
        return v && v.byteLength >= 4 ? String(v.getInt32(0, true)) : undefined;
      } catch (e) {
        if (e instanceof RtnlError) return undefined;
        throw e;
      }
    }
    const v4 = confPath(rel, 'ipv4', inetConf());
    const v6 = v4 ? undefined : confPath(rel, 'ipv6', inet6Conf());
    const c = v4 ?? v6;
    const m = c && link(c.dev);
    // IPv4's array is indexed by IPV4_DEVCONF_* - 1
    const v = m && (v4 ? devconfOf(m, AF_INET, c.id - 1) : devconfOf(m, AF_INET6, c.id));
    return v === undefined ? undefined : String(v);
  });
}
