// Every link of one kind in a namespace, without a process: one RTM_GETLINK dump that asks the
// kernel to filter by kind (IFLA_LINKINFO holding IFLA_INFO_KIND, as `ip link show type X` asks;
// honoured under NETLINK_GET_STRICT_CHK, which socket.ts sets), each answer checked for the kind
// again as ip checks it (a kernel that ignores the filter sends every link), decoded into the
// fields `ip -j -d link show` prints that a plugin reads of it: name, index, MTU, MAC, alias, kind,
// and a peer's index when the peer is in another namespace (ip's `link_index`). Pure but for the
// socket.
import { linkByName } from './commands.js';
import { strerror } from './docs.js';
import { Builder, F_DUMP, F_REQUEST, type Message, attrText, attrU32, attrs } from './message.js';
import { RtnlError, withRtnl } from './socket.js';
import type { NetlinkFailure } from './batch.js';

const RTM_GETLINK = 18;
const ENODEV = 19;
const AF_PACKET = 17;
const IFLA_EXT_MASK = 29;
const RTEXT_FILTER_VF = 1;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINK = 5;
const IFLA_LINKINFO = 18;
const IFLA_IFALIAS = 20;
const IFLA_LINK_NETNSID = 37;
const IFLA_INFO_KIND = 1;

/** A link as `ip -j -d link show` shows it, for the fields above. */
export interface LinkBrief {
  name: string;
  ifindex: number;
  mtu: number;
  /** The link-layer address as ip prints it ("" when the link has none). */
  mac: string;
  /** linkinfo's kind; undefined for a device without one (lo, a physical NIC). */
  kind?: string;
  /** IFLA_LINK when the peer is in another namespace (ip's `link_index`, a veth's peer there). */
  peerIndex?: number;
  alias?: string;
}

/** Links, or how the run failed as `ip` would have reported it. */
export type LinksOutcome = { links: LinkBrief[] } | { failure: NetlinkFailure };

/**
 * The dump request iproute2 6.1's `ip link show type <kind>` sends (iplink_filter_req): family
 * AF_PACKET, IFLA_EXT_MASK with RTEXT_FILTER_VF, then the kind in an IFLA_LINKINFO nest without
 * NLA_F_NESTED, the name without its NUL.
 */
export function linkDumpOfKind(kind: string, seq: number): Uint8Array {
  const b = new Builder(RTM_GETLINK, F_REQUEST | F_DUMP, seq).u8(AF_PACKET).u8(0).u16(0).u32(0).u32(0).u32(0);
  return b
    .attrU32(IFLA_EXT_MASK, RTEXT_FILTER_VF)
    .nest(IFLA_LINKINFO, (li) => li.attr(IFLA_INFO_KIND, new TextEncoder().encode(kind)), false)
    .done();
}

/** Decodes an RTM_NEWLINK message into a LinkBrief. */
export function linkBriefOf(m: Message): LinkBrief {
  const a = attrs(m.body, 16);
  const l: LinkBrief = {
    name: attrText(a.get(IFLA_IFNAME)) ?? '',
    ifindex: m.body.getInt32(4, true),
    mtu: attrU32(a.get(IFLA_MTU)) ?? 0,
    mac: '',
  };
  const mac = a.get(IFLA_ADDRESS);
  if (mac) {
    let s = '';
    for (let i = 0; i < mac.byteLength; i++) s += `${i ? ':' : ''}${mac.getUint8(i).toString(16).padStart(2, '0')}`;
    l.mac = s;
  }
  const info = a.get(IFLA_LINKINFO);
  const kind = info ? attrText(attrs(info, 0).get(IFLA_INFO_KIND)) : undefined;
  if (kind) l.kind = kind;
  const link = attrU32(a.get(IFLA_LINK));
  if (link && a.has(IFLA_LINK_NETNSID)) l.peerIndex = link;
  const alias = attrText(a.get(IFLA_IFALIAS));
  if (alias) l.alias = alias;
  return l;
}

/** ip's words for a kernel error: its extended message when there is one, else strerror. */
export function kernelWords(e: RtnlError): string {
  return e.extack
    ? `Error: ${e.extack}${e.extack.endsWith('.') ? '' : '.'}`
    : `RTNETLINK answers: ${strerror(e.errno)}`;
}

// ip's words for a failed dump (libnetlink's rtnl_dump_error, then ip's own)
function dumpFailure(e: RtnlError): { failure: NetlinkFailure } {
  return { failure: { stderr: `${kernelWords(e)}\nDump terminated\n`, status: 1 } };
}

/** Every link of `kind` in the namespace at `netns` (ours when undefined); undefined without bun:ffi. */
export function linksOfKind(kind: string, netns?: string): LinksOutcome | undefined {
  return withRtnl(netns, (sock): LinksOutcome => {
    try {
      const answers = sock.exchange({ msg: linkDumpOfKind(kind, 1), answer: 'dump' });
      const links: LinkBrief[] = [];
      for (const m of answers) {
        const l = linkBriefOf(m);
        if (l.kind === kind) links.push(l);
      }
      return { links };
    } catch (e) {
      if (e instanceof RtnlError) return dumpFailure(e);
      throw e;
    }
  });
}

/**
 * The link named `name` in the namespace at `netns` (ours when undefined), as `ip -d link show dev
 * <name>` shows it: no links when there is none, else the failure in ip's batch words.
 */
export function linkNamed(name: string, netns?: string): LinksOutcome | undefined {
  return withRtnl(netns, (sock): LinksOutcome => {
    try {
      const [m] = sock.exchange(linkByName(name, 1));
      return { links: m ? [linkBriefOf(m)] : [] };
    } catch (e) {
      if (!(e instanceof RtnlError)) throw e;
      if (e.errno === ENODEV) return { links: [] };
      return { failure: { stderr: `${kernelWords(e)}\nCommand failed -:1\n`, status: 1 } };
    }
  });
}
