// `cni-ts inspect`: what CNI plugins — ours and the Go ones, which share names and formats —
// left on this node, and which of it belongs to no live attachment. An attachment is live when
// its cached netns still exists; everything a plugin creates per attachment carries a name or
// comment derived from (network, container ID, ifname), so ownership is computed, not guessed:
//
//   result cache   <cacheDir>/results/<net>-<id>-<if>           (libcni)
//   reservations   <dataDir>/<net>/<ip>: "<id>\r\n<if>"          (host-local)
//   iptables nat   CNI-<h(net+id)> masquerade, CNI-DN-<h(net+id)> port mappings (bridge, portmap)
//   nftables       inet cni_plugins_masquerade (comment <h(net)>-<h(if:id)>…), ip/ip6 cni_hostport
//                  (comment <id>), bridge nat spoof check (comment macspoofchk-<id>-<if>)
//   links          ifb bwp<h(net+id)> (bandwidth)
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatChainName, hashWithPrefix, parseSave, sha512Hex } from '@cni-ts/iptables';
import {
  type NetworkAttachment,
  cachedAttachments,
  confListFromBytes,
  currentResult,
  decodeResultBytes,
  listConfFiles,
  pluginObject,
} from '@cni-ts/libcni';
import { parseNftJson } from '@cni-ts/nftables';
import { execa } from 'execa';

/** host-local's default store. */
export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';

/** What inspect reads. */
export interface InspectOptions {
  cacheDir: string;
  netconfpath: string;
  /** host-local stores to read instead of the default one (the configured dataDirs are read too). */
  dataDirs: readonly string[];
}

/** A cached attachment as found. */
export interface FoundAttachment {
  network: string;
  containerID: string;
  ifName: string;
  netns: string;
  addresses: string[];
  /** Its netns still exists. */
  live: boolean;
  file: string;
}

/** A host-local reservation file. */
export interface FoundReservation {
  dataDir: string;
  network: string;
  address: string;
  containerID: string;
  ifName: string;
}

/** A per-attachment iptables chain (nat table), with the owner its jump rule's comment names. */
export interface FoundChain {
  family: 4 | 6;
  chain: string;
  kind: 'masquerade' | 'port mappings';
  comment: string;
}

/** A per-attachment nftables rule. */
export interface FoundNftRule {
  family: string;
  table: string;
  chain: string;
  handle: number;
  comment: string;
}

/** Everything inspect found, before judging it. */
export interface Observed {
  attachments: FoundAttachment[];
  reservations: FoundReservation[];
  chains: FoundChain[];
  nftRules: FoundNftRule[];
  ifbs: string[];
  /** What could not be read (a missing tool, an unreadable directory). */
  notes: string[];
}

/** One thing on the node and whether it belongs to a live attachment. */
export interface Finding {
  kind: 'attachment' | 'reservation' | 'iptables' | 'nftables' | 'ifb';
  what: string;
  /** Who it belongs to, as far as its name or comment says ("network/container/ifname"). */
  owner: string;
  leak: boolean;
  why?: string;
}

/** The report: every finding, leaks flagged. */
export interface Report {
  findings: Finding[];
  leaks: number;
  notes: string[];
}

// ---- judging (pure) ----

const ownerOf = (a: { network: string; containerID: string; ifName: string }) =>
  `${a.network}/${a.containerID}/${a.ifName}`;

/** Judges what was found: anything that belongs to no live attachment is a leak. */
export function analyse(o: Observed): Report {
  const live = o.attachments.filter((a) => a.live);
  const findings: Finding[] = [];
  for (const a of o.attachments)
    findings.push({
      kind: 'attachment',
      what: `${a.netns || '(no netns)'} ${a.addresses.join(' ')}`.trim(),
      owner: ownerOf(a),
      leak: !a.live,
      ...(a.live ? {} : { why: 'its netns is gone and no DEL ran (GC removes it)' }),
    });
  for (const r of o.reservations) {
    const owned = live.some(
      (a) => a.network === r.network && a.containerID === r.containerID && (!r.ifName || r.ifName === a.ifName),
    );
    findings.push({
      kind: 'reservation',
      what: `${r.address} in ${join(r.dataDir, r.network)}`,
      owner: `${r.network}/${r.containerID}/${r.ifName || '?'}`,
      leak: !owned,
      ...(owned ? {} : { why: 'no live attachment holds this address' }),
    });
  }
  const chainNames = new Set(
    live.flatMap((a) => [formatChainName(a.network, a.containerID), formatChainName(a.network, a.containerID, 'DN-')]),
  );
  for (const c of o.chains) {
    const owned = chainNames.has(c.chain);
    findings.push({
      kind: 'iptables',
      what: `${c.family === 4 ? 'iptables' : 'ip6tables'} nat ${c.chain} (${c.kind})`,
      owner: ownerFromComment(c.comment),
      leak: !owned,
      ...(owned ? {} : { why: 'named after no live attachment' }),
    });
  }
  for (const r of o.nftRules) {
    const owner = nftOwner(r, live);
    findings.push({
      kind: 'nftables',
      what: `${r.family} ${r.table} ${r.chain} handle ${r.handle}`,
      owner: owner ?? nftNamedOwner(r.comment),
      leak: owner === undefined,
      ...(owner ? {} : { why: 'its comment names no live attachment' }),
    });
  }
  const ifbNames = new Map(live.map((a) => [`bwp${sha512Hex(a.network + a.containerID).slice(0, 12)}`, a]));
  for (const name of o.ifbs) {
    const a = ifbNames.get(name);
    findings.push({
      kind: 'ifb',
      what: `link ${name}`,
      owner: a ? ownerOf(a) : '?',
      leak: !a,
      ...(a ? {} : { why: 'named after no live attachment' }),
    });
  }
  return { findings, leaks: findings.filter((f) => f.leak).length, notes: o.notes };
}

function ownerFromComment(comment: string): string {
  const m = /name: "((?:[^"\\]|\\.)*)" id: "((?:[^"\\]|\\.)*)"/.exec(comment);
  return m ? `${m[1]}/${m[2]}` : '?';
}

// the live attachment an nft rule's comment belongs to
function nftOwner(r: FoundNftRule, live: readonly FoundAttachment[]): string | undefined {
  const a = live.find((x) => {
    if (r.table === 'cni_plugins_masquerade')
      return r.comment.startsWith(
        `${hashWithPrefix(16, '', x.network)}-${hashWithPrefix(16, '', `${x.ifName}:${x.containerID}`)}`,
      );
    if (r.table === 'cni_hostport') return r.comment === x.containerID;
    return r.comment === `macspoofchk-${x.containerID}-${x.ifName}`;
  });
  return a ? ownerOf(a) : undefined;
}

function nftNamedOwner(comment: string): string {
  const masq = /net: ([^,]*), if: ([^,]*), id: (.*)$/.exec(comment);
  if (masq) return `${masq[1]}/${masq[3]}/${masq[2]}`;
  return comment.replace(/^macspoofchk-/, '') || '?';
}

// ---- observing (reads files, runs iptables-save, nft, ip) ----

/** Reads the node: the result cache, host-local stores, iptables, nftables and links. */
export async function observe(opts: InspectOptions): Promise<Observed> {
  const notes: string[] = [];
  const cached = cachedAttachments(opts.cacheDir);
  const attachments = cached.map((a) => foundAttachment(a));
  const given = opts.dataDirs.length ? opts.dataDirs : [DEFAULT_DATA_DIR];
  const dataDirs = new Set([...given, ...configuredDataDirs(opts.netconfpath, cached)]);
  const reservations = [...dataDirs]
    .flatMap((d) => readStore(d, notes))
    .sort((a, b) => a.network.localeCompare(b.network) || a.address.localeCompare(b.address));
  const [v4, v6, nft, ifbs] = await Promise.all([
    iptablesChains(4, notes),
    iptablesChains(6, notes),
    nftRules(notes),
    ifbLinks(notes),
  ]);
  return { attachments, reservations, chains: [...v4, ...v6], nftRules: nft, ifbs, notes };
}

function foundAttachment(a: NetworkAttachment): FoundAttachment {
  let addresses: string[] = [];
  try {
    const rec = JSON.parse(readFileSync(a.file, 'utf8')) as { result?: unknown };
    if (rec.result)
      addresses = (currentResult(decodeResultBytes(JSON.stringify(rec.result))).ips ?? []).map((i) => i.address);
  } catch {
    // a result that does not decode shows no addresses
  }
  return {
    network: a.network,
    containerID: a.containerID,
    ifName: a.ifName,
    netns: a.netns,
    addresses,
    live: a.netns !== '' && existsSync(a.netns),
    file: a.file,
  };
}

// host-local dataDirs named by the node's configurations and by the cached attachments' lists
function configuredDataDirs(netconfpath: string, cached: readonly NetworkAttachment[]): string[] {
  const lists = listConfFiles(netconfpath).flatMap((e) => (e.list ? [e.list] : []));
  for (const a of cached) {
    try {
      lists.push(confListFromBytes(a.config));
    } catch {
      // an unreadable cached config names no store
    }
  }
  const dirs: string[] = [];
  for (const l of lists)
    for (const p of l.plugins) {
      const ipam = (pluginObject(p).ipam ?? {}) as { type?: string; dataDir?: string };
      if (ipam.type === 'host-local' && ipam.dataDir) dirs.push(ipam.dataDir);
    }
  return dirs;
}

function readStore(dataDir: string, notes: string[]): FoundReservation[] {
  if (!existsSync(dataDir)) return [];
  const out: FoundReservation[] = [];
  let networks: string[];
  try {
    networks = readdirSync(dataDir);
  } catch (e) {
    notes.push(`cannot read ${dataDir}: ${(e as Error).message}`);
    return [];
  }
  for (const network of networks) {
    let files: string[];
    try {
      files = readdirSync(join(dataDir, network));
    } catch {
      continue;
    }
    for (const f of files) {
      if (f === 'lock' || f.startsWith('last_reserved_ip.') || !/^[0-9a-f.:]+$/i.test(f)) continue;
      let owner = '';
      try {
        owner = readFileSync(join(dataDir, network, f), 'utf8');
      } catch {
        continue;
      }
      const cut = owner.indexOf('\r\n');
      out.push({
        dataDir,
        network,
        address: f,
        containerID: (cut < 0 ? owner : owner.slice(0, cut)).trim(),
        ifName: cut < 0 ? '' : owner.slice(cut + 2).trim(),
      });
    }
  }
  return out;
}

const PER_ATTACHMENT_CHAIN = /^CNI-(DN-)?[0-9a-f]+$/;

async function iptablesChains(family: 4 | 6, notes: string[]): Promise<FoundChain[]> {
  const tool = family === 4 ? 'iptables-save' : 'ip6tables-save';
  const r = await execa(tool, ['-t', 'nat'], { reject: false });
  if (r.exitCode !== 0) {
    notes.push(`${tool} failed: ${String(r.stderr || r.message).trim()}`);
    return [];
  }
  const state = parseSave(r.stdout, 'nat');
  return state.chains
    .filter((c) => PER_ATTACHMENT_CHAIN.test(c) && c.length === 28)
    .map((chain) => {
      const jump = state.rules.find((x) => x.spec.at(-1) === chain && x.spec.at(-2) === '-j');
      const i = jump ? jump.spec.indexOf('--comment') : -1;
      return {
        family,
        chain,
        kind: chain.startsWith('CNI-DN-') ? 'port mappings' : 'masquerade',
        comment: i >= 0 ? (jump?.spec[i + 1] ?? '') : '',
      };
    });
}

const NFT_TABLES = new Set(['cni_plugins_masquerade', 'cni_hostport']);

async function nftRules(notes: string[]): Promise<FoundNftRule[]> {
  const r = await execa('nft', ['-j', 'list', 'ruleset'], { reject: false });
  if (r.exitCode !== 0) {
    notes.push(`nft failed: ${String(r.stderr || r.message).trim()}`);
    return [];
  }
  return parseNftJson(r.stdout)
    .rules.filter(
      (x) =>
        x.comment &&
        (NFT_TABLES.has(x.table) ||
          (x.family === 'bridge' && x.table === 'nat' && x.comment.startsWith('macspoofchk-'))),
    )
    .map((x) => ({ family: x.family, table: x.table, chain: x.chain, handle: x.handle, comment: x.comment ?? '' }));
}

async function ifbLinks(notes: string[]): Promise<string[]> {
  const r = await execa('ip', ['-j', 'link', 'show', 'type', 'ifb'], { reject: false });
  if (r.exitCode !== 0) {
    notes.push(`ip link failed: ${String(r.stderr || r.message).trim()}`);
    return [];
  }
  const links = (r.stdout.trim() ? JSON.parse(r.stdout) : []) as Array<{ ifname: string }>;
  return links.map((l) => l.ifname).filter((n) => /^bwp[0-9a-f]{12}$/.test(n));
}
