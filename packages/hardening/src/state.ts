// What a plugin run can leave on a node: the node netns' links, addresses, routes, iptables
// rules (both families, every table), nft ruleset and qdiscs, a pod netns' links, and the IPAM
// store's files and held locks. Snapshots are plain sorted strings, so a diff names what changed.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from '@cni-ts/testutils';

/** One kind of state (e.g. "links") as sorted lines. */
export type Snapshot = Record<string, string[]>;

const COUNTERS = /\[\d+:\d+\]|packets \d+ bytes \d+| linkdown/g;

async function tryRun(file: string, args: string[]): Promise<string> {
  try {
    return await sh(file, args);
  } catch (e) {
    return `! ${(e as Error).message.split('\n')[0]}`;
  }
}

function lines(text: string, keep: (l: string) => boolean = () => true): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(COUNTERS, '').trimEnd())
    .filter((l) => l !== '' && keep(l));
}

/** The kernel state of the netns `name` that plugins change. */
export async function netnsState(name: string): Promise<Snapshot> {
  const inNs = (file: string, args: string[]) => tryRun('ip', ['netns', 'exec', name, file, ...args]);
  const [linkText, addrText, r4, r6, ipt, ip6t, nft, qd] = await Promise.all([
    tryRun('ip', ['-n', name, '-j', '-d', 'link', 'show']),
    tryRun('ip', ['-n', name, '-j', 'addr', 'show']),
    tryRun('ip', ['-n', name, '-4', 'route', 'show', 'table', 'all']),
    tryRun('ip', ['-n', name, '-6', 'route', 'show', 'table', 'all']),
    inNs('iptables-save', []),
    inNs('ip6tables-save', []),
    inNs('nft', ['list', 'ruleset']),
    tryRun('tc', ['-n', name, 'qdisc', 'show']),
  ]);
  const links = JSON.parse(linkText || '[]') as any[];
  const addrs = JSON.parse(addrText || '[]') as any[];
  return {
    links: links
      .map(
        (l) =>
          `${l.ifname} kind=${l.linkinfo?.info_kind ?? '-'} master=${l.master ?? '-'} up=${l.flags?.includes('UP')}`,
      )
      .sort(),
    addrs: addrs
      .flatMap((l) =>
        (l.addr_info ?? [])
          .filter((a: any) => a.scope !== 'link')
          .map((a: any) => `${l.ifname} ${a.local}/${a.prefixlen}`),
      )
      .sort(),
    routes: [...lines(r4), ...lines(r6, (l) => !/^(local|multicast|anycast) /.test(l))].sort(),
    iptables: lines(ipt, (l) => !l.startsWith('#')),
    ip6tables: lines(ip6t, (l) => !l.startsWith('#')),
    nft: lines(nft),
    qdiscs: lines(qd).sort(),
  };
}

/** The files of an IPAM data directory (relative paths, with mode), lock and cursor files included. */
export function storeFiles(dataDir: string): string[] {
  if (!existsSync(dataDir)) return [];
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dataDir, rel))) {
      const p = join(rel, name);
      const st = statSync(join(dataDir, p));
      if (st.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk('');
  return out.sort();
}

/** The reservation files of a data directory (lock files and round-robin cursors left out: they stay by design). */
export function reservations(dataDir: string): string[] {
  return storeFiles(dataDir).filter((f) => !/(^|\/)(lock|last_reserved_ip\.\d+)$/.test(f));
}

/** Paths under `dir` that some process holds a flock or POSIX lock on (from /proc/locks). */
export function heldLocks(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const inodes = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else inodes.set(String(statSync(p).ino), p);
    }
  };
  walk(dir);
  const held: string[] = [];
  for (const l of readFileSync('/proc/locks', 'utf8').split('\n')) {
    const m = / (\S+):(\S+):(\d+) /.exec(l);
    if (m && inodes.has(m[3]!) && !l.includes('->')) held.push(inodes.get(m[3]!)!);
  }
  return held;
}

/** The differences between two snapshots, one line each ("+ kind line" appeared, "- kind line" vanished). */
export function diffState(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const kind of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[kind] ?? [];
    const b = after[kind] ?? [];
    const count = (list: string[]) => list.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
    const ca = count(a);
    const cb = count(b);
    for (const [l, n] of cb) for (let i = ca.get(l) ?? 0; i < n; i++) out.push(`+ ${kind}: ${l}`);
    for (const [l, n] of ca) for (let i = cb.get(l) ?? 0; i < n; i++) out.push(`- ${kind}: ${l}`);
    if (out.length === 0 && a.join('\n') !== b.join('\n')) out.push(`~ ${kind}: same lines, another order`);
  }
  return out;
}
