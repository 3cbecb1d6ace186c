// Whether an nftables table exists, asked of the kernel in one nfnetlink request (NFT_MSG_GETTABLE
// by name) instead of an `nft -j list` process: a DEL that finds no table of the other
// masquerade backend has nothing to list (docs/performance.md). Only in Bun (bun:ffi).
import { Builder, F_ACK, F_REQUEST } from './message.js';
import { type Rtnl, RtnlError, openNetlink } from './socket.js';

const NETLINK_NETFILTER = 12;
const NFT_MSG_GETTABLE = (10 << 8) | 1; // NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETTABLE
const NFTA_TABLE_NAME = 1;
const ENOENT = 2;
/** nft's family words and their NFPROTO_* numbers. */
const FAMILIES: Readonly<Record<string, number>> = { inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 };

/**
 * True when table `name` of `family` (nft's word: "inet", "ip", …) exists in our namespace, false
 * when the kernel says it does not; undefined when it cannot tell (no bun:ffi, an unknown family,
 * nf_tables refusing the request for any other reason): then the caller asks `nft`.
 */
export function nftTableExists(family: string, name: string): boolean | undefined {
  const fam = FAMILIES[family];
  if (fam === undefined || name === '' || name.length > 255) return undefined;
  let sock: Rtnl | null;
  try {
    sock = openNetlink(NETLINK_NETFILTER);
  } catch {
    return undefined;
  }
  if (!sock) return undefined;
  try {
    // nfgenmsg: family, version 0, res_id 0 (big-endian; zero either way)
    const msg = new Builder(NFT_MSG_GETTABLE, F_REQUEST | F_ACK, 1)
      .u8(fam)
      .u8(0)
      .u16(0)
      .attrString(NFTA_TABLE_NAME, name)
      .done();
    sock.exchange({ msg, answer: 'one' });
    return true;
  } catch (e) {
    return e instanceof RtnlError && e.errno === ENOENT ? false : undefined;
  } finally {
    sock.close();
  }
}
