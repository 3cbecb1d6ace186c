// The node-side world the plugin touches directly, without a process: its own netns's /proc
// (interface names, sysctls), randomness and sleeping. Injected so golden tests never touch
// the machine they run on.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readSysctl, sysctlPath, writeSysctl } from '@cni-ts/process';

/** What the plugin reads and writes in its own (the node's) network namespace. */
export interface Host {
  /** Names of the links in our netns (/proc/net/dev: every link of the node, with its counters). */
  linkNames(): Set<string>;
  /** Whether a link of that name is in our netns, at a cost that does not grow with the node's links. */
  hasLink(name: string): boolean;
  /** Writes a sysctl of our netns unless it already has the value. */
  writeSysctl(name: string, value: string): void;
  /** Writes a sysctl of our netns without reading it first (of a link just created: its value is the default). */
  setSysctl(name: string, value: string): void;
  /** Reads a sysctl of our netns; undefined when it does not exist. */
  readSysctl(name: string): string | undefined;
  /** A link attribute from /sys/class/net/<name>/<attr> (trimmed); undefined when absent. */
  readLinkAttr(name: string, attr: string): string | undefined;
  /** True when the kernel has IPv6 in our netns (/proc/net/if_inet6 exists). */
  hasIpv6(): boolean;
  /** Cryptographically random bytes (veth names, MACs). */
  random(n: number): Buffer;
  /** Blocks for ms milliseconds (waiting for DAD or a port to come up). */
  sleep(ms: number): void;
}

/** A name the kernel accepts for a link (dev_valid_name: under 16 bytes, no '/', ':' or space). */
const PLAIN_IFNAME = /^[^\s/:]{1,15}$/;

/** The real host: /proc of the netns the plugin runs in. */
export const systemHost: Host = {
  linkNames() {
    const names = new Set<string>();
    for (const line of readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2)) {
      const name = line.split(':')[0]?.trim();
      if (name) names.add(name);
    }
    return names;
  },
  // /proc/net/dev_snmp6/<name> is there for each link of our netns with IPv6 (the common case: one
  // lookup); /proc/net/dev renders every link's counters (5.7 ms at 500 links, docs/performance.md),
  // so it is read only when that finds nothing (no such link, a link without IPv6, an odd name)
  hasLink(name) {
    if (PLAIN_IFNAME.test(name) && name !== '.' && name !== '..' && existsSync(`/proc/self/net/dev_snmp6/${name}`))
      return true;
    return this.linkNames().has(name);
  },
  writeSysctl,
  // each lookup below /proc/sys/net from a node netns walks past the dentries of the pod netns
  // (0.3-0.5 ms with 250 pods): a value known to differ is written without reading it first
  setSysctl(name, value) {
    writeFileSync(sysctlPath(name), value);
  },
  readSysctl(name) {
    try {
      return readSysctl(name);
    } catch {
      return undefined;
    }
  },
  readLinkAttr(name, attr) {
    try {
      return readFileSync(`/sys/class/net/${name}/${attr}`, 'utf8').trim();
    } catch {
      return undefined;
    }
  },
  // not /proc/sys/net/ipv6: a node netns's first lookup below /proc/sys/net walks past the dentry
  // of every other netns that has looked there (0.3-0.5 ms with 250 pods); /proc/self/net is ours
  hasIpv6: () => existsSync('/proc/self/net/if_inet6'),
  // Web Crypto, not node:crypto, whose import costs a bun-compiled plugin ~2.5 ms per run
  random: (n) => Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(n))),
  sleep(ms) {
    if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  },
};

/** "veth" + 8 hex digits of 4 random bytes (upstream RandomVethName), avoiding the names given. */
export function randomVethName(host: Host, taken: ReadonlySet<string> = new Set()): string {
  for (let i = 0; i < 10; i++) {
    const name = `veth${host.random(4).toString('hex')}`;
    if (!taken.has(name)) return name;
  }
  throw new Error('failed to find a unique veth name after 10 tries');
}

/** A random locally administered unicast MAC, as the kernel picks for a new bridge. */
export function randomMac(host: Host): string {
  const b = host.random(6);
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
