// `ip link` commands as the rtnetlink requests iproute2's iplink sends: set a link up or down,
// promiscuous, its MAC, MTU, alias, master, bridge-port flags; delete it; create a bridge, an ifb
// or a veth pair (the peer straight into another namespace). Pure: names, the master and the namespace are
// resolved by the caller (netlink/batch.ts) and handed in as a Step's lookups.
import { Builder, F_ACK, F_CREATE, F_EXCL, F_REQUEST, type Request } from './message.js';
import type { Lookups, Step } from './step.js';

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const IFF_UP = 0x1;
const IFF_PROMISC = 0x100;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_TXQLEN = 13;
const IFLA_IFALIAS = 20;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_INFO_SLAVE_KIND = 4;
const IFLA_INFO_SLAVE_DATA = 5;
const VETH_INFO_PEER = 1;
const IFLA_BR_VLAN_FILTERING = 7;
const IFLA_BRPORT_MODE = 4; // hairpin
const IFLA_BRPORT_ISOLATED = 33;

/** An ifinfomsg: family, type, index, flags, change. */
export function ifinfo(b: Builder, index = 0, flags = 0, change = 0): Builder {
  return b.u8(0).u8(0).u16(0).u32(index).u32(flags).u32(change);
}

const ack = (b: Builder): Request[] => [{ msg: b.done(), answer: 'ack' }];

// `dev X` or a bare `X`, and nothing else
export function devArg(rest: readonly string[]): string | undefined {
  if (rest.length === 2 && rest[0] === 'dev') return rest[1];
  if (rest.length === 1 && rest[0] !== 'dev') return rest[0];
  return undefined;
}

/** A MAC address's bytes, or undefined (six hex pairs with colons, as ip reads them here). */
export function parseMac(text: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) return undefined;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) out[i] = parseInt(text.slice(3 * i, 3 * i + 2), 16);
  return out;
}

const onOff = (v: string | undefined) => (v === 'on' ? 1 : v === 'off' ? 0 : undefined);

/**
 * `link set [dev] X` with any of: up, down, promisc on|off, address M, mtu N, alias A, master Y,
 * and last `type bridge_slave [hairpin on|off] [isolated on|off]`: one request, as ip sends it.
 */
export function linkSet(rest: readonly string[]): Step | undefined {
  const devEnd = rest[0] === 'dev' ? 2 : 1;
  const dev = devArg(rest.slice(0, devEnd));
  const args = rest.slice(devEnd);
  if (dev === undefined || args.length === 0) return undefined;
  let flags = 0;
  let change = 0;
  let master: string | undefined;
  const attrs: Array<(b: Builder, l: Lookups) => void> = [];
  for (let i = 0; i < args.length; ) {
    const k = args[i]!;
    if (k === 'up' || k === 'down') {
      change |= IFF_UP;
      flags = k === 'up' ? flags | IFF_UP : flags & ~IFF_UP;
      i += 1;
      continue;
    }
    const v = args[i + 1];
    if (v === undefined) return undefined;
    if (k === 'promisc' && onOff(v) !== undefined) {
      change |= IFF_PROMISC;
      flags = onOff(v) ? flags | IFF_PROMISC : flags & ~IFF_PROMISC;
    } else if (k === 'address' && parseMac(v)) {
      const mac = parseMac(v)!;
      attrs.push((b) => b.attr(IFLA_ADDRESS, mac));
    } else if (k === 'mtu' && /^\d{1,10}$/.test(v) && Number(v) < 2 ** 32)
      attrs.push((b) => b.attrU32(IFLA_MTU, Number(v)));
    // ip sends the alias without its NUL
    else if (k === 'alias') attrs.push((b) => b.attr(IFLA_IFALIAS, new TextEncoder().encode(v)));
    else if (k === 'master') {
      master = v;
      attrs.push((b, l) => b.attrU32(IFLA_MASTER, l.master!));
    } else if (k === 'type' && v === 'bridge_slave') {
      const port = portFlags(args.slice(i + 2));
      if (!port) return undefined;
      attrs.push(port);
      break;
    } else return undefined;
    i += 2;
  }
  return {
    dev,
    ...(master !== undefined ? { master } : {}),
    requests: (l, seq) => {
      const b = ifinfo(new Builder(RTM_NEWLINK, F_REQUEST | F_ACK, seq), l.index, flags, change);
      for (const put of attrs) put(b, l);
      return ack(b);
    },
  };
}

// type bridge_slave [hairpin on|off] [isolated on|off]: the IFLA_LINKINFO of a bridge port
function portFlags(args: readonly string[]): ((b: Builder) => void) | undefined {
  const flags: Array<[number, number]> = [];
  for (let i = 0; i < args.length; i += 2) {
    const v = onOff(args[i + 1]);
    if (v === undefined) return undefined;
    if (args[i] === 'hairpin') flags.push([IFLA_BRPORT_MODE, v]);
    else if (args[i] === 'isolated') flags.push([IFLA_BRPORT_ISOLATED, v]);
    else return undefined;
  }
  return (b) =>
    b.nest(IFLA_LINKINFO, (li) => {
      li.attrString(IFLA_INFO_SLAVE_KIND, 'bridge');
      li.nest(IFLA_INFO_SLAVE_DATA, (d) => {
        for (const [type, v] of flags) d.attr(type, Uint8Array.of(v));
      });
    });
}

/** `link del [dev] X`. */
export function linkDel(rest: readonly string[]): Step | undefined {
  const dev = devArg(rest);
  if (dev === undefined) return undefined;
  return {
    dev,
    forgets: [dev],
    requests: (l, seq) => ack(ifinfo(new Builder(RTM_DELLINK, F_REQUEST | F_ACK, seq), l.index)),
  };
}

interface LinkAttrs {
  name: string;
  mtu?: number;
  txqlen?: number;
  mac?: Uint8Array;
  netns?: string;
  /** `up`: created up (ifi_flags/ifi_change IFF_UP, as ip sends it). */
  up?: boolean;
  /** `master Y`: created as a port of Y (IFLA_MASTER; the kernel enslaves it after creating it). */
  master?: string;
}

// name X [mtu N] [address M] [netns P] (and for the link itself [up] [master Y]), the words after
// it returned in `rest`
function linkAttrs(args: readonly string[], peer: boolean): { a: LinkAttrs; rest: string[] } | undefined {
  if (args[0] !== 'name' || args[1] === undefined) return undefined;
  const a: LinkAttrs = { name: args[1] };
  let i = 2;
  while (i < args.length) {
    const k = args[i]!;
    if (k === 'up' && !peer) {
      a.up = true;
      i += 1;
      continue;
    }
    const v = args[i + 1];
    if (v === undefined) break;
    if (k === 'mtu' && /^\d{1,10}$/.test(v) && Number(v) < 2 ** 32) a.mtu = Number(v);
    else if (k === 'txqueuelen' && /^\d{1,10}$/.test(v) && Number(v) < 2 ** 32) a.txqlen = Number(v);
    else if (k === 'address' && parseMac(v)) a.mac = parseMac(v);
    else if (k === 'netns' && peer && v.includes('/')) a.netns = v;
    else if (k === 'master' && !peer) a.master = v;
    else break;
    i += 2;
  }
  return { a, rest: args.slice(i) };
}

function putAttrs(b: Builder, a: LinkAttrs, nsFd: number | undefined, master?: number): void {
  b.attrString(IFLA_IFNAME, a.name);
  if (a.mtu !== undefined) b.attrU32(IFLA_MTU, a.mtu);
  if (a.txqlen !== undefined) b.attrU32(IFLA_TXQLEN, a.txqlen);
  if (a.mac) b.attr(IFLA_ADDRESS, a.mac);
  if (master !== undefined) b.attrU32(IFLA_MASTER, master);
  if (nsFd !== undefined) b.attrU32(IFLA_NET_NS_FD, nsFd);
}

/**
 * `link add name X [mtu N] [txqueuelen N] [address M] type bridge [vlan_filtering 0|1]`, the same
 * with `type ifb`, and `link add name X [mtu N] [address M] [up] [master Y] type veth peer name Y
 * [address M] [mtu N] [netns /path]`.
 */
export function linkAdd(args: readonly string[]): Step | undefined {
  const own = linkAttrs(args, false);
  if (!own || own.rest[0] !== 'type') return undefined;
  const [, kind, ...more] = own.rest;
  const create = (seq: number) => ifinfo(new Builder(RTM_NEWLINK, F_REQUEST | F_ACK | F_CREATE | F_EXCL, seq));
  if ((own.a.up || own.a.master !== undefined) && kind !== 'veth') return undefined;
  if (kind === 'bridge') {
    let vlanFiltering: number | undefined;
    if (more.length === 2 && more[0] === 'vlan_filtering' && (more[1] === '0' || more[1] === '1'))
      vlanFiltering = Number(more[1]);
    else if (more.length) return undefined;
    return {
      forgets: [own.a.name],
      requests: (_, seq) => {
        const b = create(seq);
        putAttrs(b, own.a, undefined);
        b.nest(IFLA_LINKINFO, (li) => {
          li.attrString(IFLA_INFO_KIND, 'bridge');
          if (vlanFiltering !== undefined)
            li.nest(IFLA_INFO_DATA, (d) => d.attr(IFLA_BR_VLAN_FILTERING, Uint8Array.of(vlanFiltering)));
        });
        return ack(b);
      },
    };
  }
  if (kind === 'ifb' && more.length === 0)
    return {
      forgets: [own.a.name],
      requests: (_, seq) => {
        const b = create(seq);
        putAttrs(b, own.a, undefined);
        b.nest(IFLA_LINKINFO, (li) => li.attrString(IFLA_INFO_KIND, 'ifb'));
        return ack(b);
      },
    };
  if (kind !== 'veth' || more[0] !== 'peer') return undefined;
  const peer = linkAttrs(more.slice(1), true);
  if (!peer || peer.rest.length) return undefined;
  const up = own.a.up ? IFF_UP : 0;
  return {
    forgets: peer.a.netns ? [own.a.name] : [own.a.name, peer.a.name],
    ...(own.a.master !== undefined ? { master: own.a.master } : {}),
    ...(peer.a.netns ? { netns: peer.a.netns } : {}),
    requests: (l, seq) => {
      const b = ifinfo(new Builder(RTM_NEWLINK, F_REQUEST | F_ACK | F_CREATE | F_EXCL, seq), 0, up, up);
      putAttrs(b, own.a, undefined, l.master);
      b.nest(IFLA_LINKINFO, (li) => {
        li.attrString(IFLA_INFO_KIND, 'veth');
        li.nest(IFLA_INFO_DATA, (d) =>
          d.nest(VETH_INFO_PEER, (p) => {
            ifinfo(p);
            putAttrs(p, peer.a, l.nsFd);
          }),
        );
      });
      return ack(b);
    },
  };
}
