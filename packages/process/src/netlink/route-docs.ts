// The kernel's route dump as `ip -j [-d] route show table all root <0/0>` prints it (iproute2
// 6.1's iproute.c print_route), restricted to the fields the plugins read: type, dst, gateway,
// dev, table, and a multipath route's nexthops (gateway, dev). Pure but for the name lookups it
// is given.
import { formatAddr } from './addr.js';
import { Builder, F_DUMP, F_REQUEST, type Message, attrBytes, attrU32, attrs } from './message.js';

const RTM_GETROUTE = 26;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_MULTIPATH = 9;
const RTA_TABLE = 15;
const RTM_F_CLONED = 0x200;
// rtnl_rtntype_n2a
function routeTypes() {
  return [
    'none',
    'unicast',
    'local',
    'broadcast',
    'anycast',
    'multicast',
    'blackhole',
    'unreachable',
    'prohibit',
    'throw',
    'nat',
    'xresolve',
  ];
}
// rtnl_rttable_n2a's reserved names (the numbers /etc/iproute2/rt_tables may name are printed as numbers)
function tableNames(): Readonly<Record<number, string>> {
  return { 0: 'unspec', 253: 'default', 254: 'main', 255: 'local' };
}

/** One route as `ip -j route show` prints it, for the fields above. */
export interface RouteDoc {
  type: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table: string;
  nexthops?: Array<{ gateway?: string; dev?: string }>;
}

/** The dump request of every route of one family, every table (what `ip route show table all` sends). */
export function routeDump(family: number, seq: number): Uint8Array {
  // struct rtmsg, all zero but the family: no kernel-side filter
  return new Builder(RTM_GETROUTE, F_REQUEST | F_DUMP, seq).u8(family).u8(0).u8(0).u8(0).u32(0).u32(0).done();
}

/**
 * The routes of a dump as ip prints them (cloned routes left out, as ip leaves them out without
 * `cache`); `nameOf` gives a link's name by index (ip's `if<N>` when it has none).
 */
export function routeDocs(msgs: readonly Message[], nameOf: (index: number) => string | undefined): RouteDoc[] {
  const out: RouteDoc[] = [];
  const dev = (index: number) => nameOf(index) ?? `if${index}`;
  for (const m of msgs) {
    const b = m.body;
    if (b.byteLength < 12 || b.getUint32(8, true) & RTM_F_CLONED) continue;
    const family = b.getUint8(0);
    const dstLen = b.getUint8(1);
    const a = attrs(b, 12);
    const table = attrU32(a.get(RTA_TABLE)) ?? b.getUint8(4);
    const dst = a.get(RTA_DST);
    const host = family === 2 ? 32 : 128;
    const doc: RouteDoc = {
      type: routeTypes()[b.getUint8(7)] ?? String(b.getUint8(7)),
      dst: dst
        ? `${formatAddr(attrBytes(dst))}${dstLen === host ? '' : `/${dstLen}`}`
        : dstLen
          ? `0/${dstLen}`
          : 'default',
      table: tableNames()[table] ?? String(table),
    };
    const gw = a.get(RTA_GATEWAY);
    if (gw) doc.gateway = formatAddr(attrBytes(gw));
    const oif = attrU32(a.get(RTA_OIF));
    if (oif !== undefined) doc.dev = dev(oif);
    const mp = a.get(RTA_MULTIPATH);
    if (mp) {
      // struct rtnexthop: rtnh_len u16, flags u8, hops u8, ifindex s32, then its attributes
      const hops: Array<{ gateway?: string; dev?: string }> = [];
      for (let off = 0; off + 8 <= mp.byteLength; ) {
        const len = mp.getUint16(off, true);
        if (len < 8 || off + len > mp.byteLength) break;
        const hop: { gateway?: string; dev?: string } = {};
        const na = attrs(new DataView(mp.buffer, mp.byteOffset + off, len), 8);
        const g = na.get(RTA_GATEWAY);
        if (g) hop.gateway = formatAddr(attrBytes(g));
        hop.dev = dev(mp.getInt32(off + 4, true));
        hops.push(hop);
        off += (len + 3) & ~3;
      }
      doc.nexthops = hops;
    }
    out.push(doc);
  }
  return out;
}
