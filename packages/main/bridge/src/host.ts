// The node-side world the plugin touches directly, without a process: its own netns's /proc
// (interface names, sysctls), randomness and sleeping. Injected so golden tests never touch
// the machine they run on.
import { existsSync, readFileSync } from 'node:fs';
import { readSysctl, writeSysctl } from '@cni-ts/process';

/** What the plugin reads and writes in its own (the node's) network namespace. */
export interface Host {
  /** Names of the links in our netns (/proc/net/dev): a cheap existence test, no process. */
  linkNames(): Set<string>;
  /** Writes a sysctl of our netns unless it already has the value. */
  writeSysctl(name: string, value: string): void;
  /** Reads a sysctl of our netns; undefined when it does not exist. */
  readSysctl(name: string): string | undefined;
  /** A link attribute from /sys/class/net/<name>/<attr> (trimmed); undefined when absent. */
  readLinkAttr(name: string, attr: string): string | undefined;
  /** True when the kernel has IPv6 (/proc/sys/net/ipv6 exists). */
  hasIpv6(): boolean;
  /** Cryptographically random bytes (veth names, MACs). */
  random(n: number): Buffer;
  /** Blocks for ms milliseconds (waiting for DAD or a port to come up). */
  sleep(ms: number): void;
}

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
  writeSysctl,
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
  hasIpv6: () => existsSync('/proc/sys/net/ipv6'),
  // Web Crypto, not node:crypto, whose import costs a bun-compiled plugin ~2.5 ms per run
  random: (n) => Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(n))),
  sleep(ms) {
    if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  },
};

/** "veth" + 8 hex digits of 4 random bytes (upstream RandomVethName), avoiding names in use. */
export function randomVethName(host: Host, taken: ReadonlySet<string>): string {
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
