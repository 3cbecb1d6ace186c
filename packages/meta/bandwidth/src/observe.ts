// Kernel state as `ip -j -d` and `tc -j -raw` report it, reduced to what the plugin needs: the
// pod's interface and its host-side veth peer, and the qdiscs and filters on a device.
import {
  type Executor,
  type TcFilter,
  type TcQdisc,
  ipBatch,
  ipLinksOfKind,
  iprouteToken,
  isKind,
  netlinkError,
  tcBatch,
} from '@cni-ts/process';
import { lenientResult } from '@cni-ts/skel';
import { type Result, configError } from '@cni-ts/types';
import type { Host } from './host.js';

/** A link as the plugin sees it. */
export interface LinkState {
  name: string;
  ifindex: number;
  /** linkinfo kind ("veth", "ifb", …); undefined for plain devices. */
  kind?: string;
  /** For a veth: its peer's ifindex (in the peer's netns). */
  peerIndex?: number;
  mtu: number;
  mac: string;
  alias?: string;
}

interface RawLink {
  ifname?: string;
  ifindex?: number;
  link_index?: number;
  mtu?: number;
  address?: string;
  ifalias?: string;
  linkinfo?: { info_kind?: string };
}

/** Turns one `ip -j -d link show` document into LinkStates. */
export function parseLinks(doc: unknown): LinkState[] {
  if (!Array.isArray(doc)) return [];
  return (doc as RawLink[]).map((l) => {
    const out: LinkState = { name: l.ifname ?? '', ifindex: l.ifindex ?? 0, mtu: l.mtu ?? 0, mac: l.address ?? '' };
    if (l.linkinfo?.info_kind) out.kind = l.linkinfo.info_kind;
    if (l.link_index !== undefined) out.peerIndex = l.link_index;
    if (l.ifalias) out.alias = l.ifalias;
    return out;
  });
}

/** The pod's interface, seen from inside its netns (one nsenter process); code 7 when it is not there. */
export function podLink(exec: Executor, netns: string, ifname: string): LinkState {
  const missing = () =>
    configError(
      `container interface ${ifname} does not exist in ${netns}`,
      'list bandwidth after the plugin that creates the pod interface (bridge, ptp), for the same CNI_IFNAME',
    );
  const command = [['link', 'show', 'dev', ifname]];
  let link: LinkState | undefined;
  try {
    // the executor's typed rtnetlink path where it has one (no batch text, no document)
    const direct = exec.typedNetlink?.()?.link(ifname, netns);
    if (direct && 'failure' in direct) throw netlinkError('ip', command, direct.failure, netns);
    link = direct ? direct.links[0] : parseLinks(ipBatch(exec, command, { netns, options: ['-d'] })[0])[0];
  } catch (e) {
    if (isKind(e, 'missing')) throw missing(); // the one object this command names (the netns was checked before)
    throw e;
  }
  if (!link) throw missing();
  return link;
}

/** Shows the named links of our netns (one ip process); every name must exist. */
export function showLinks(exec: Executor, names: readonly string[]): LinkState[] {
  if (names.length === 0) return [];
  return ipBatch(
    exec,
    names.map((n) => ['link', 'show', 'dev', n]),
    { options: ['-d'] },
  ).flatMap(parseLinks);
}

/**
 * Every link of a kind in our netns: one rtnetlink dump the kernel filters by kind where the
 * executor can (no process), else one ip process; the same links either way.
 */
export function linksOfKind(exec: Executor, kind: string): LinkState[] {
  return (
    ipLinksOfKind(exec, kind) ??
    ipBatch(exec, [['link', 'show', 'type', kind]], { options: ['-d'] }).flatMap(parseLinks)
  );
}

/**
 * The host-side interfaces a result names (no sandbox), in order, except that the one listed right
 * before the first sandbox interface comes first: bridge and ptp list the pod's host veth there
 * (a bridge's result names the bridge before it, and bandwidth's own the ifb after the pod's), so
 * findHostVeth asks for that one alone first.
 */
export function hostSideNames(result: Result | undefined): string[] {
  return vethFirst((result?.interfaces ?? []).map((i) => ({ name: i.name, host: !i.sandbox })));
}

function vethFirst(ifs: ReadonlyArray<{ name: unknown; host: boolean }>): string[] {
  const names: string[] = [];
  let first: string | undefined;
  for (const [k, i] of ifs.entries()) {
    if (i.host && typeof i.name === 'string' && i.name) names.push(i.name);
    else if (!i.host && first === undefined && k > 0 && ifs[k - 1]!.host) first = names.at(-1);
  }
  return first === undefined ? names : [first, ...names.filter((n) => n !== first)];
}

/**
 * The host-side interface names of a raw prevResult, read through skel's lenient view (DEL): what
 * is not an interface with a string name is skipped, never an error. Decoding the whole result
 * would build the result schema, several ms of a DEL's CPU (docs/performance.md), for one list.
 */
export function rawHostSideNames(prev: unknown): string[] {
  const ifs = lenientResult(prev).interfaces.flatMap((i) => (i ? [{ name: i.name, host: !i.sandbox }] : []));
  return vethFirst(ifs);
}

/**
 * The host-side veth of the pod's interface: the link in our netns that is its veth peer (its
 * ifindex is the pod interface's peer index, and its own peer index is the pod interface's). The
 * candidates are prevResult's host-side interfaces (upstream requires the peer among them), read
 * from sysfs without a process and, when sysfs does not show the peer, with one `ip` process; when
 * prevResult names none, every veth of the node is a candidate. Code 7 when the pod's interface is
 * not a veth, or its peer is not in our netns.
 */
export function findHostVeth(exec: Executor, host: Host, pod: LinkState, listed: readonly string[]): LinkState {
  if (pod.kind !== 'veth' || !pod.peerIndex) {
    throw configError(
      `container interface ${pod.name} is not a veth (it is ${pod.kind ?? 'a plain device'}): bandwidth shapes veth pairs only`,
      'chain bandwidth after a plugin that connects the pod with a veth pair (bridge, ptp)',
    );
  }
  const isPeer = (l: LinkState | undefined): l is LinkState =>
    l !== undefined && l.ifindex === pod.peerIndex && l.peerIndex === pod.ifindex;
  // names a link can have (so none reaches outside /sys/class/net), each once
  const named = [...new Set(listed)].filter(isLinkName);
  let peer: LinkState | undefined;
  for (const n of named) {
    const l = fromSysfs(host, n);
    if (isPeer(l)) {
      peer = l;
      break;
    }
  }
  const isVethPeer = (l: LinkState) => l.kind === 'veth' && isPeer(l);
  if (!peer && listed.length) {
    // the likely one alone first (hostSideNames puts it first): each link shown costs its requests
    const [first, ...rest] = named;
    if (first !== undefined) peer = showPresent(exec, host, [first]).find(isVethPeer);
    if (!peer && rest.length) peer = showPresent(exec, host, rest).find(isVethPeer);
  } else if (!peer) peer = linksOfKind(exec, 'veth').find(isVethPeer);
  if (!peer) {
    throw configError(
      'no veth peer of container interface found in host ns',
      listed.length
        ? `the peer of ${pod.name} (ifindex ${pod.peerIndex}) is none of prevResult's host interfaces ${listed.join(', ')}`
        : `the peer of ${pod.name} (ifindex ${pod.peerIndex}) is not a veth in the plugin's network namespace`,
    );
  }
  return peer;
}

/**
 * True for a name the kernel accepts for a link (dev_valid_name: 1–15 bytes, no '/', ':' or space,
 * not . or ..) that an ip or tc batch can name (no '#', quotes it can write): prevResult's other
 * names are no link of ours, never looked up.
 */
export function isLinkName(name: string): boolean {
  if (!/^[^\s/:]{1,15}$/.test(name) || name === '.' || name === '..') return false;
  try {
    iprouteToken(name);
    return true;
  } catch {
    return false;
  }
}

// The named links of our netns (one ip process); when prevResult names a link that is gone, those
// that are left (the node's link names read then, not on every run: the list grows with the pods).
// ip's "does not exist" is not always read as missing (a name with a quote garbles the message),
// so any refusal of the batch is taken as that.
function showPresent(exec: Executor, host: Host, names: readonly string[]): LinkState[] {
  try {
    return showLinks(exec, names);
  } catch (e) {
    if (!isKind(e, 'missing') && !isKind(e, 'failed')) throw e;
    const present = host.linkNames();
    return showLinks(
      exec,
      names.filter((n) => present.has(n)),
    );
  }
}

// A link as sysfs shows it (ifindex, iflink — a veth's peer —, MTU); undefined when sysfs does not
// have it (read no further then: a runtime that entered the node's netns without mounting its sysfs
// finds none of the names). A peer match found here is a veth: only the pod's veth peer has these
// two indices.
function fromSysfs(host: Host, name: string): LinkState | undefined {
  const ifindex = Number(host.readLinkAttr(name, 'ifindex'));
  if (!ifindex) return undefined;
  const iflink = Number(host.readLinkAttr(name, 'iflink'));
  const mtu = Number(host.readLinkAttr(name, 'mtu'));
  if (!iflink || !mtu) return undefined;
  return { name, ifindex, peerIndex: iflink, mtu, mac: host.readLinkAttr(name, 'address') ?? '', kind: 'veth' };
}

/** A qdisc as `tc -j -raw qdisc show` reports it (tbf only: rate in B/s, limit in bytes, buffer in ticks). */
export type QdiscState = TcQdisc;

/** A filter's redirect as `tc -j filter show` reports it (the devices its mirred actions redirect to, in order). */
export type FilterState = TcFilter;

interface RawQdisc {
  kind?: string;
  handle?: string;
  root?: boolean;
  parent?: string;
  options?: { rate?: number; limit?: number; burst_raw?: string };
}

interface RawFilter {
  kind?: string;
  pref?: number;
  protocol?: string;
  options?: {
    fh?: string;
    flowid?: string;
    actions?: Array<{ kind?: string; mirred_action?: string; to_dev?: string }>;
  };
}

/** Turns one `tc -j -raw qdisc show` document into QdiscStates. */
export function parseQdiscs(doc: unknown): QdiscState[] {
  if (!Array.isArray(doc)) return [];
  return (doc as RawQdisc[]).map((q) => {
    const out: QdiscState = { kind: q.kind ?? '', handle: q.handle ?? '', root: q.root === true };
    if (q.parent) out.parent = q.parent;
    const o = q.options ?? {};
    if (typeof o.rate === 'number') out.rate = o.rate;
    if (typeof o.limit === 'number') out.limit = o.limit;
    if (typeof o.burst_raw === 'string') out.buffer = Number.parseInt(o.burst_raw, 16);
    return out;
  });
}

/** Turns one `tc -j filter show` document into FilterStates (the per-handle entries that carry actions). */
export function parseFilters(doc: unknown): FilterState[] {
  if (!Array.isArray(doc)) return [];
  return (doc as RawFilter[])
    .filter((f) => /::/.test(f.options?.fh ?? ''))
    .map((f) => ({
      kind: f.kind ?? '',
      pref: f.pref ?? 0,
      protocol: f.protocol ?? '',
      ...(f.options?.flowid ? { flowid: f.options.flowid } : {}),
      redirects: (f.options?.actions ?? [])
        .filter((a) => a.kind === 'mirred' && a.mirred_action === 'redirect')
        .map((a) => a.to_dev ?? ''),
    }));
}

/** What is on a veth (and its ifb), read in one tc process. */
export interface TcState {
  veth: QdiscState[];
  filters: FilterState[];
  ifb?: QdiscState[];
  /** The veth's index, where the listing looked it up (the typed path): its deletes need no lookup. */
  vethIndex?: number;
}

/** Reads the qdiscs of the veth (and the ifb, when it exists) and the veth's ingress filters. */
export function showTc(exec: Executor, veth: string, ifb: string | undefined): TcState {
  const commands = [
    ['qdisc', 'show', 'dev', veth],
    ['filter', 'show', 'dev', veth, 'parent', 'ffff:'],
    ...(ifb ? [['qdisc', 'show', 'dev', ifb]] : []),
  ];
  // the veth alone (DEL, ADD's replace): records straight from the dumps where the executor can
  const direct = ifb ? undefined : exec.typedNetlink?.()?.tcListing(veth);
  if (direct && 'failure' in direct) throw netlinkError('tc', commands, direct.failure);
  if (direct) return { veth: direct.qdiscs, filters: direct.filters, vethIndex: direct.index };
  const docs = tcBatch(exec, commands, { options: ['-j', '-raw'] });
  return {
    veth: parseQdiscs(docs[0]),
    filters: parseFilters(docs[1]),
    ...(ifb ? { ifb: parseQdiscs(docs[2]) } : {}),
  };
}
