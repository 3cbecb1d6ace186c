// The iptables layout, as upstream's portmap builds it (chain names, rule text and comments byte
// for byte, so a node can move between the Go plugin and ours), planned as data from a snapshot
// of the tables. Rules are written in the form iptables-save prints them, so what was planned
// and what is there compare as text. Per address family, in the nat table:
//
//   PREROUTING ──┐  -m addrtype --dst-type LOCAL
//   OUTPUT ──────┴──► CNI-HOSTPORT-DNAT     (shared; never deleted)
//                        │ -p tcp -m comment --comment "dnat name: \"<net>\" id: \"<cid>\""
//                        │    -m multiport --dports 8080,8443 [conditionsV4|V6]   (≤ 15 ports a rule)
//                        └──► CNI-DN-<sha512(net+cid)[:21]>   (this container's; rebuilt by ADD)
//                               -s <pod subnet> -p tcp -m tcp --dport 8080 -j <set-mark chain>  hairpin
//                               -s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j <set-mark chain>  IPv4 localhost
//                               -p tcp -m tcp --dport 8080 -j DNAT --to-destination <pod>:80
//   CNI-HOSTPORT-SETMARK   -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000
//   POSTROUTING (rule 1) ──► CNI-HOSTPORT-MASQ   -m mark --mark 0x2000/0x2000 -j MASQUERADE
//
// (SETMARK and MASQ only with snat and without externalSetMarkChain; the mark rules only with snat.)
// Ours only, IPv4 with snat: route_localnet on the pod-facing interface lets 127/8 cross it, so
// the filter table drops new connections to 127/8 from anything but the node itself (upstream #481):
//
//   INPUT (rule 1) ──► CNI-HOSTPORT-LOCALNET   ! -s 127.0.0.0/8 -d 127.0.0.0/8 ! -i lo
//                                               -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
import { formatNetwork } from '@cni-ts/netaddr';
import {
  type Change,
  type ChainFilter,
  type Family,
  type Rule,
  type TableName,
  type TableState,
  chainExists,
  formatChainName,
  restoreToken,
  hasRule,
  removeChain,
  rule,
  ruleComment,
  ruleTarget,
  rulesJumpingTo,
  rulesOf,
  sameRule,
} from '@cni-ts/iptables';
import type { PortmapConf } from './config.js';
import type { ContainerNet } from './container.js';
import { type Protocol, mappingsFor } from './values.js';

export const DNAT_CHAIN = 'CNI-HOSTPORT-DNAT';
export const SETMARK_CHAIN = 'CNI-HOSTPORT-SETMARK';
export const MASQ_CHAIN = 'CNI-HOSTPORT-MASQ';
export const LOCALNET_CHAIN = 'CNI-HOSTPORT-LOCALNET';
/** The top-level chain of plugin versions before 0.7 (its per-container chains are still removed). */
export const OLD_SNAT_CHAIN = 'CNI-HOSTPORT-SNAT';
const MULTIPORT_MAX = 15;

/** Whose rules: the network and the container. */
export interface Owner {
  network: string;
  containerId: string;
}

/** This container's chain, `CNI-DN-` and 21 hex digits (upstream MustFormatChainNameWithPrefix). */
export function dnatChainName(o: Owner): string {
  return formatChainName(o.network, o.containerId, 'DN-');
}

/** The per-container chain of old plugin versions, removed by DEL. */
export function oldSnatChainName(o: Owner): string {
  return formatChainName(o.network, o.containerId, 'SN-');
}

/** The comment on the jump rules, cut at 255 characters as upstream's trimComment. */
export function jumpComment(o: Owner): string {
  const c = `dnat name: "${o.network}" id: "${o.containerId}"`;
  return c.length <= 255 ? c : `${c.slice(0, 253)}...`;
}

/** The mark as upstream formats it (Go's %#x of 1<<bit, value/mask). */
export function markOf(bit: number): string {
  const v = `0x${(2 ** bit).toString(16)}`;
  return `${v}/${v}`;
}

/** A chain shared by every container: its table, its fixed rules, and the rules that enter it. */
export interface SharedChain {
  table: TableName;
  name: string;
  rules: Rule[];
  entries: Array<{ rule: Rule; first: boolean }>;
}

/** The shared chains an ADD needs in this family, in the order they must be created. */
export function sharedChains(conf: PortmapConf, family: Family): SharedChain[] {
  const out: SharedChain[] = [];
  const ownMark = conf.snat && conf.externalSetMarkChain === undefined;
  if (ownMark) {
    const mark = markOf(conf.markMasqBit);
    const comment = (c: string) => ['-m', 'comment', '--comment', c];
    out.push({
      table: 'nat',
      name: SETMARK_CHAIN,
      rules: [rule('nat', SETMARK_CHAIN, ...comment('CNI portfwd masquerade mark'), '-j', 'MARK', '--set-xmark', mark)],
      entries: [],
    });
    out.push({
      table: 'nat',
      name: MASQ_CHAIN,
      rules: [rule('nat', MASQ_CHAIN, '-m', 'mark', '--mark', mark, '-j', 'MASQUERADE')],
      entries: [
        {
          rule: rule('nat', 'POSTROUTING', ...comment('CNI portfwd requiring masquerade'), '-j', MASQ_CHAIN),
          first: true,
        },
      ],
    });
  }
  const local = ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', DNAT_CHAIN];
  out.push({
    table: 'nat',
    name: DNAT_CHAIN,
    rules: [],
    entries: [
      { rule: rule('nat', 'PREROUTING', ...local), first: false },
      { rule: rule('nat', 'OUTPUT', ...local), first: false },
    ],
  });
  if (family === 4 && conf.snat) out.push(localnetChain());
  return out;
}

function localnetChain(): SharedChain {
  const drop = ['!', '-s', '127.0.0.0/8', '-d', '127.0.0.0/8', '!', '-i', 'lo'];
  const state = ['-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT'];
  return {
    table: 'filter',
    name: LOCALNET_CHAIN,
    rules: [rule('filter', LOCALNET_CHAIN, ...drop, ...state, '-j', 'DROP')],
    entries: [
      {
        rule: rule(
          'filter',
          'INPUT',
          ...['-m', 'comment', '--comment', 'CNI portfwd: no new connections to 127/8 from off the node'],
          ...['-j', LOCALNET_CHAIN],
        ),
        first: true,
      },
    ],
  };
}

/** This container's rules in one family: its chain's rules, and the jumps to it from CNI-HOSTPORT-DNAT. */
export function containerRules(conf: PortmapConf, o: Owner, net: ContainerNet): { chain: Rule[]; jumps: Rule[] } {
  const name = dnatChainName(o);
  const setMark = conf.externalSetMarkChain ?? SETMARK_CHAIN;
  const chain: Rule[] = [];
  for (const m of mappingsFor(conf.mappings, net.family)) {
    const dst = m.hostIP && !m.hostIP.unspecified ? ['-d', `${m.hostIP.text}/${net.family === 4 ? 32 : 128}`] : [];
    const match = ['-p', m.protocol, '-m', m.protocol, '--dport', String(m.hostPort)];
    if (conf.snat) {
      const hairpin = conf.masqAll ? [] : ['-s', formatNetwork(net.prefix)];
      chain.push(rule('nat', name, ...hairpin, ...dst, ...match, '-j', setMark));
      if (net.family === 4 && !conf.masqAll)
        chain.push(rule('nat', name, '-s', '127.0.0.1/32', ...dst, ...match, '-j', setMark));
    }
    const to = net.family === 4 ? `${net.ip}:${m.containerPort}` : `[${net.ip}]:${m.containerPort}`;
    chain.push(rule('nat', name, ...dst, ...match, '-j', 'DNAT', '--to-destination', to));
  }
  return { chain, jumps: jumpRules(conf, o, net.family) };
}

/** The jumps from CNI-HOSTPORT-DNAT to this container's chain in one family (they need no pod address). */
export function jumpRules(conf: PortmapConf, o: Owner, family: Family): Rule[] {
  const name = dnatChainName(o);
  const conditions = conditionsOf(conf, family) ?? [];
  const jumps: Rule[] = [];
  for (const [proto, ports] of portsByProtocol(conf)) {
    for (let i = 0; i < ports.length; i += MULTIPORT_MAX) {
      const list = ports.slice(i, i + MULTIPORT_MAX).join(',');
      const head = ['-p', proto, '-m', 'comment', '--comment', jumpComment(o), '-m', 'multiport', '--dports', list];
      jumps.push(rule('nat', DNAT_CHAIN, ...head, ...conditions, '-j', name));
    }
  }
  return jumps;
}

/** The configured conditions of one family's jump rules. */
export function conditionsOf(conf: PortmapConf, family: Family): string[] | undefined {
  return family === 4 ? conf.conditionsV4 : conf.conditionsV6;
}

// Host ports of every mapping (of either family, as upstream), grouped by protocol in name order.
function portsByProtocol(conf: PortmapConf): Array<[Protocol, number[]]> {
  const by = new Map<Protocol, number[]>();
  for (const m of conf.mappings) by.set(m.protocol, [...(by.get(m.protocol) ?? []), m.hostPort]);
  return [...by.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
}

/** What a table snapshot must show before ADD may use it: the external mark chain exists. */
export function setupProblem(conf: PortmapConf, nat: TableState, family: Family): string | undefined {
  const ext = conf.externalSetMarkChain;
  if (!conf.snat || ext === undefined || chainExists(nat, ext)) return undefined;
  return `externalSetMarkChain "${ext}" does not exist in the IPv${family} nat table`;
}

/**
 * The rules portmap reads: those of the built-in chains it enters from, of the shared
 * CNI-HOSTPORT chains and, with an owner, of that container's chains. Other chains (other pods',
 * kube-proxy's) are listed but not parsed; with an owner, of the chains holding a jump per pod
 * (CNI-HOSTPORT-DNAT, the legacy CNI-HOSTPORT-SNAT) only the lines naming the owner's chains are,
 * so a read costs about the same with 1 pod or 1000. GC (no owner) reads every pod's jump.
 */
export function chainsOf(o?: Owner): ChainFilter {
  if (!o) return (c) => c.startsWith('CNI-HOSTPORT-') || isEntryChain(c);
  const own = [dnatChainName(o), oldSnatChainName(o)];
  const names = (line: string) => own.some((name) => line.includes(name));
  return (c, line) =>
    c === DNAT_CHAIN || c === OLD_SNAT_CHAIN
      ? names(line)
      : c.startsWith('CNI-HOSTPORT-') || isEntryChain(c) || own.includes(c);
}
// comparisons, not Sets built at load (what a run evaluates at load costs JavaScriptCore blocks)
function isEntryChain(c: string): boolean {
  return c === 'PREROUTING' || c === 'OUTPUT' || c === 'POSTROUTING' || c === 'INPUT';
}

/** The tables an ADD or CHECK reads in a family. */
export function tablesFor(conf: PortmapConf, family: Family): TableName[] {
  return family === 4 && conf.snat ? ['nat', 'filter'] : ['nat'];
}

/** Snapshots of the tables of one family (filter only when tablesFor names it). */
export type Tables = { nat: TableState; filter?: TableState };

/** The changes of one ADD in one family, and whether any touches shared chains (then it runs under the lock). */
export function planSetup(
  tables: Tables,
  conf: PortmapConf,
  o: Owner,
  net: ContainerNet,
): { changes: Change[]; shared: boolean } {
  const shared: Change[] = [];
  for (const sc of sharedChains(conf, net.family)) {
    const state = sc.table === 'nat' ? tables.nat : tables.filter;
    if (!state) continue;
    const exists = chainExists(state, sc.name);
    if (!exists) shared.push({ op: 'create', table: sc.table, chain: sc.name });
    for (const r of sc.rules) if (!exists || !hasRule(state, r)) shared.push({ op: 'append', rule: r });
    for (const e of sc.entries) {
      if (hasRule(state, e.rule)) continue;
      shared.push(e.first ? { op: 'insert', rule: e.rule, position: 1 } : { op: 'append', rule: e.rule });
    }
  }
  const name = dnatChainName(o);
  const { chain, jumps } = containerRules(conf, o, net);
  // a new chain is created after the shared ones (Go's creation order, which `nft list` shows);
  // an existing one is declared, which empties it for the refill
  const own: Change[] = [{ op: chainExists(tables.nat, name) ? 'declare' : 'create', table: 'nat', chain: name }];
  for (const r of chain) own.push({ op: 'append', rule: r });
  const old = rulesJumpingTo(tables.nat, name);
  const unchanged = old.length === jumps.length && old.every((r, i) => sameRule(r, jumps[i]!));
  if (!unchanged) {
    for (const r of old) own.push({ op: 'delete', rule: r });
    for (const j of jumps) own.push({ op: 'append', rule: j });
  }
  return { changes: [...shared, ...own], shared: shared.length > 0 };
}

/** The changes that remove a container's chains and every rule jumping to them (none when absent). */
export function planTeardown(nat: TableState, o: Owner): Change[] {
  return [...removeChain(nat, dnatChainName(o)), ...removeChain(nat, oldSnatChainName(o))];
}

/** UDP host ports and pod addresses this container's chain forwards (what DEL flushes from conntrack). */
export function udpForwards(nat: TableState, o: Owner): Array<{ port: number; podIP: string }> {
  const out: Array<{ port: number; podIP: string }> = [];
  for (const r of rulesOf(nat, dnatChainName(o))) {
    const s = r.spec;
    const at = (flag: string) => s[s.indexOf(flag) + 1];
    if (ruleTarget(r) !== 'DNAT' || at('-p') !== 'udp' || !s.includes('--dport')) continue;
    const to = /^\[?([0-9a-fA-F.:]+?)\]?:\d+$/.exec(at('--to-destination') ?? '');
    if (to) out.push({ port: Number(at('--dport')), podIP: to[1]! });
  }
  return out;
}

/**
 * What CHECK finds missing in one family: this container's chain and rules, its jumps, and the
 * shared chains' entry rules. Jumps with conditions cannot be compared as text (iptables prints
 * matches its own way), so they are returned for `iptables -C` instead.
 */
export function checkSetup(
  tables: Tables,
  conf: PortmapConf,
  o: Owner,
  net: ContainerNet,
): { problems: string[]; verify: Rule[] } {
  const problems: string[] = [];
  const name = dnatChainName(o);
  const show = (r: Rule) => `rule "${ruleText(r)}" is missing from the IPv${net.family} nat table`;
  if (!chainExists(tables.nat, name)) problems.push(`chain ${name} is missing from the IPv${net.family} nat table`);
  const { chain, jumps } = containerRules(conf, o, net);
  const have = rulesOf(tables.nat, name);
  for (const r of chain) if (!have.some((h) => sameRule(h, r))) problems.push(show(r));
  const conditioned = ((net.family === 4 ? conf.conditionsV4 : conf.conditionsV6) ?? []).length > 0;
  for (const j of conditioned ? [] : jumps) if (!hasRule(tables.nat, j)) problems.push(show(j));
  for (const sc of sharedChains(conf, net.family).filter((c) => c.table === 'nat')) {
    if (!chainExists(tables.nat, sc.name))
      problems.push(`chain ${sc.name} is missing from the IPv${net.family} nat table`);
    for (const r of [...sc.rules, ...sc.entries.map((e) => e.rule)])
      if (!hasRule(tables.nat, r)) problems.push(show(r));
  }
  return { problems, verify: conditioned ? jumps : [] };
}

/** A rule as iptables-save prints it (for messages). */
export function ruleText(r: Rule): string {
  return ['-A', r.chain, ...r.spec].map(restoreToken).join(' ');
}

/**
 * GC: removes the chains of this network's containers that are not in `keep`. A chain counts
 * as this network's only when a jump's comment names the network and the chain is the hash of
 * that network and container, so other networks and plugins are untouched.
 */
export function planGc(nat: TableState, network: string, keep: ReadonlySet<string>): Change[] {
  const stale = new Set<string>();
  const commentRe = /^dnat name: "([^"]*)" id: "([^"]*)"$/;
  for (const r of rulesOf(nat, DNAT_CHAIN)) {
    const m = commentRe.exec(ruleComment(r) ?? '');
    if (!m || m[1] !== network || keep.has(m[2]!)) continue;
    const name = dnatChainName({ network, containerId: m[2]! });
    if (ruleTarget(r) === name) stale.add(m[2]!);
  }
  return [...stale].flatMap((containerId) => planTeardown(nat, { network, containerId }));
}
