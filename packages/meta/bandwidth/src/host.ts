// What the plugin reads of its own (the node's) network namespace without starting a process,
// through the run's file calls (libc in Bun: bandwidth.ts). Injected so contract tests never touch
// the machine they run on.
import { fs } from '@cni-ts/process';

/** The node-side reads the plugin makes directly. */
export interface Host {
  /** Names of the links in our netns (/proc/net/dev, which is per network namespace). */
  linkNames(): Set<string>;
  /** A link attribute from /sys/class/net/<name>/<attr> (trimmed); undefined when absent. */
  readLinkAttr(name: string, attr: string): string | undefined;
}

/** The real host: /proc of the netns the plugin runs in. */
export const systemHost: Host = {
  linkNames() {
    const names = new Set<string>();
    for (const line of fs().readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2)) {
      const name = line.split(':')[0]?.trim();
      if (name) names.add(name);
    }
    return names;
  },
  readLinkAttr(name, attr) {
    try {
      return fs().readFileSync(`/sys/class/net/${name}/${attr}`, 'utf8').trim();
    } catch {
      return undefined;
    }
  },
};
