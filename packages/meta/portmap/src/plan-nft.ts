// The nftables layout, as upstream's portmap (plugins v1.9+) writes it through knftables, as
// `nft -f` text; one transaction per change, both families in it. Per family (`ip`, `ip6`):
//
//   table <ip|ip6> cni_hostport                      comment "CNI portmap plugin"
//     chain prerouting   nat prerouting -100  ──┐  [conditions] fib daddr type local
//     chain output       nat output -100  ──────┴──► jump hostports_all   (flushed and refilled by every ADD)
//     chain hostports_all:  jump hostip_hostports; jump hostports
//     chain hostip_hostports                     (legacy, kept empty)
//     chain hostports:      [ip daddr <hostIP>] tcp dport 8080 dnat to <pod>:80        comment "<cid>"
//     chain masquerading nat postrouting 100 (with snat):
//                           ip saddr <pod> ip daddr <pod> masquerade                  comment "<cid>"
//                           ip saddr 127.0.0.1 ip daddr <pod> masquerade   (IPv4)     comment "<cid>"
//     chain localnet     filter input 0 (ours, IPv4 with snat; refilled by every ADD): route_localnet
//                        lets 127/8 cross the pod interface, so new connections to 127/8 from off
//                        the node are dropped (upstream #481), as the iptables backend does
//
// Rules are found again by their comment, the container ID; ADD first deletes this container's
// rules for the same pod address (a repeated ADD), DEL deletes all of them.
import { type NftListing, type NftRule, nftString } from '@cni-ts/nftables';
import type { PortmapConf } from './config.js';
import type { ContainerNet } from './container.js';
import { mappingsFor } from './values.js';

export const NFT_TABLE = 'cni_hostport';
/** nft's family word of each IP family. */
export const NFT_FAMILY = { 4: 'ip', 6: 'ip6' } as const;
/** The chains holding per-container rules. */
export const RULE_CHAINS = ['hostports', 'hostip_hostports', 'masquerading'] as const;

/** What to pass to nftList to read one family's table. */
export function nftTableArgs(family: 4 | 6): string[] {
  return ['table', NFT_FAMILY[family], NFT_TABLE];
}

/** The rule of the localnet chain (the iptables backend's CNI-HOSTPORT-LOCALNET in nft words). */
export const LOCALNET_DROP =
  'iifname != "lo" ip saddr != 127.0.0.0/8 ip daddr 127.0.0.0/8 ct state != { established, related } ct status & dnat == 0 drop';

function base(t: string, name: string, hook: string, prio: number): string {
  return `add chain ${t} ${name} { type nat hook ${hook} priority ${prio} ; }\n`;
}

/** The rule bodies (without comment) of one container address: hostports rules, then masquerading rules. */
export function nftContainerRules(
  conf: PortmapConf,
  net: ContainerNet,
): { hostports: string[]; masquerading: string[] } {
  const ipX = NFT_FAMILY[net.family];
  const hostports = mappingsFor(conf.mappings, net.family).map((m) => {
    const daddr = m.hostIP && !m.hostIP.unspecified ? `${ipX} daddr ${m.hostIP.text} ` : '';
    const to = net.family === 4 ? `${net.ip}:${m.containerPort}` : `[${net.ip}]:${m.containerPort}`;
    return `${daddr}${m.protocol} dport ${m.hostPort} dnat to ${to}`;
  });
  const masquerading: string[] = [];
  if (conf.snat) {
    const src = conf.masqAll ? (net.family === 4 ? '0.0.0.0/0' : '::/0') : net.ip;
    masquerading.push(`${ipX} saddr ${src} ${ipX} daddr ${net.ip} masquerade`);
    if (net.family === 4 && !conf.masqAll)
      masquerading.push(`${ipX} saddr 127.0.0.1 ${ipX} daddr ${net.ip} masquerade`);
  }
  return { hostports, masquerading };
}

/**
 * The script that sets up one container address: the table and chains (added when missing, the
 * entry chains flushed and refilled, as upstream), stale rules of this container for this
 * address deleted, and its rules added. `listing` is the family's table as it is now.
 */
export function nftSetup(conf: PortmapConf, containerId: string, net: ContainerNet, listing: NftListing): string {
  const t = `${NFT_FAMILY[net.family]} ${NFT_TABLE}`;
  const cond = ((net.family === 4 ? conf.conditionsV4 : conf.conditionsV6) ?? []).map((c) => `${c} `).join('');
  const comment = ` comment ${nftString(containerId)}`;
  const { hostports, masquerading } = nftContainerRules(conf, net);
  let s = `add table ${t} { comment "CNI portmap plugin" ; }\n`;
  s += `add chain ${t} hostports\nadd chain ${t} hostip_hostports\nadd chain ${t} hostports_all\n`;
  s += `flush chain ${t} hostports_all\n`;
  s += `add rule ${t} hostports_all jump hostip_hostports\nadd rule ${t} hostports_all jump hostports\n`;
  for (const [name, hook] of [
    ['prerouting', 'prerouting'],
    ['output', 'output'],
  ] as const) {
    s += base(t, name, hook, -100);
    s += `flush chain ${t} ${name}\nadd rule ${t} ${name} ${cond}fib daddr type local jump hostports_all\n`;
  }
  if (conf.snat) s += base(t, 'masquerading', 'postrouting', 100);
  if (conf.snat && net.family === 4) {
    s += `add chain ${t} localnet { type filter hook input priority 0 ; }\nflush chain ${t} localnet\n`;
    s += `add rule ${t} localnet ${LOCALNET_DROP}\n`;
  }
  s += deleteLines(
    t,
    ownRules(listing, containerId).filter((r) => mentions(r, net.ip)),
  );
  for (const h of hostports) s += `add rule ${t} hostports ${h}${comment}\n`;
  for (const m of masquerading) s += `add rule ${t} masquerading ${m}${comment}\n`;
  return s;
}

/** The script deleting every rule of a container in the listed tables ('' when there are none). */
export function nftTeardown(listings: ReadonlyArray<[4 | 6, NftListing]>, containerId: string): string {
  return listings.map(([f, l]) => deleteLines(`${NFT_FAMILY[f]} ${NFT_TABLE}`, ownRules(l, containerId))).join('');
}

/** GC: the script deleting rules whose container is not in `keep`. */
export function nftGc(listings: ReadonlyArray<[4 | 6, NftListing]>, keep: ReadonlySet<string>): string {
  return listings
    .map(([f, l]) => {
      const stale = l.rules.filter(
        (r) => (RULE_CHAINS as readonly string[]).includes(r.chain) && r.comment && !keep.has(r.comment),
      );
      return deleteLines(`${NFT_FAMILY[f]} ${NFT_TABLE}`, stale);
    })
    .join('');
}

/** The rules of one container (by comment) in the per-container chains. */
export function ownRules(listing: NftListing, containerId: string): NftRule[] {
  return listing.rules.filter((r) => (RULE_CHAINS as readonly string[]).includes(r.chain) && r.comment === containerId);
}

/** The parts of `nft -j` rule expressions portmap reads. */
interface NftExpr {
  match?: { op?: string; left?: { payload?: { protocol?: string; field?: string } }; right?: unknown };
  dnat?: { addr?: string; port?: number };
  masquerade?: unknown;
}

function exprs(r: NftRule): NftExpr[] {
  return (r.expr ?? []) as NftExpr[];
}

/** UDP host ports and pod addresses a container's hostports rules forward (what DEL flushes from conntrack). */
export function nftUdpForwards(listing: NftListing, containerId: string): Array<{ port: number; podIP: string }> {
  const out: Array<{ port: number; podIP: string }> = [];
  for (const r of ownRules(listing, containerId)) {
    const ex = exprs(r);
    const port = ex.find((e) => e.match?.left?.payload?.protocol === 'udp' && e.match.left.payload.field === 'dport')
      ?.match?.right;
    const addr = ex.find((e) => e.dnat)?.dnat?.addr;
    if (typeof port === 'number' && typeof addr === 'string') out.push({ port, podIP: addr });
  }
  return out;
}

function deleteLines(t: string, rules: readonly NftRule[]): string {
  return rules.map((r) => `delete rule ${t} ${r.chain} handle ${r.handle}\n`).join('');
}

// True when a rule's expressions name the address (its DNAT target or a masquerade match).
function mentions(r: NftRule, ip: string): boolean {
  return JSON.stringify(r.expr ?? []).includes(`"${ip}"`);
}

/** A rule as CHECK compares it: the dport, daddr and DNAT target, or the saddr and daddr of a masquerade. */
export function describeNftRule(r: NftRule): string {
  const parts: string[] = [];
  for (const e of exprs(r)) {
    const p = e.match?.left?.payload;
    if (p) parts.push(`${p.protocol} ${p.field} ${str(e.match?.right)}`);
    else if (e.dnat) {
      const addr = String(e.dnat.addr);
      parts.push(`dnat to ${addr.includes(':') ? `[${addr}]` : addr}:${e.dnat.port}`);
    } else if ('masquerade' in e) parts.push('masquerade');
  }
  return parts.join(' ');
}

function str(v: unknown): string {
  if (v && typeof v === 'object' && 'prefix' in v) {
    const p = (v as { prefix: { addr: string; len: number } }).prefix;
    return `${p.addr}/${p.len}`;
  }
  return String(v);
}

/** What CHECK finds missing of one container address's rules in its family's table. */
export function nftCheck(conf: PortmapConf, containerId: string, net: ContainerNet, listing: NftListing): string[] {
  const t = `${NFT_FAMILY[net.family]} ${NFT_TABLE}`;
  const problems: string[] = [];
  for (const chain of ['prerouting', 'output', 'hostports_all', 'hostports', ...(conf.snat ? ['masquerading'] : [])])
    if (!listing.chains.some((c) => c.name === chain)) problems.push(`chain ${chain} is missing from table ${t}`);
  const have = ownRules(listing, containerId).map((r) => `${r.chain}: ${describeNftRule(r)}`);
  const { hostports, masquerading } = nftContainerRules(conf, net);
  for (const [chain, bodies] of [
    ['hostports', hostports],
    ['masquerading', masquerading],
  ] as const) {
    for (const b of bodies)
      if (!have.includes(`${chain}: ${b}`))
        problems.push(`rule "${b}" with comment "${containerId}" is missing from ${t} ${chain}`);
  }
  return problems;
}
