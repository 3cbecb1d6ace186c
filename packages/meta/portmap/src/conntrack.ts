// Stale UDP conntrack entries: a UDP flow to a hostPort keeps the NAT decision it was created
// with for as long as packets keep coming, so a mapping that moved to another pod would never be
// used (upstream #123, #1190). ADD deletes every entry for the mapped UDP host ports (as upstream);
// DEL deletes the entries that still lead to the removed pod (upstream does nothing on DEL).
import { type Executor, ProcessError } from '@cni-ts/process';

/** Entries to delete: UDP to this host port, and when podIP is set only those answered by that pod. */
export interface UdpFlow {
  port: number;
  podIP?: string;
}

/** The conntrack arguments deleting one kind of flow. */
export function conntrackArgs(family: 4 | 6, f: UdpFlow): string[] {
  const reply = f.podIP ? ['--reply-src', f.podIP] : [];
  return ['-D', '-f', family === 4 ? 'ipv4' : 'ipv6', '-p', 'udp', '--orig-port-dst', String(f.port), ...reply];
}

/**
 * Deletes the flows (one `conntrack -D` each; "0 flow entries" is success). Failures are only
 * logged, as upstream: traffic still works, it just takes the old path until the entry expires.
 */
export function flushUdp(exec: Executor, family: 4 | 6, flows: readonly UdpFlow[], log: (m: string) => void): void {
  const seen = new Set<string>();
  for (const f of flows) {
    const args = conntrackArgs(family, f);
    const key = args.join(' ');
    if (seen.has(key)) continue;
    seen.add(key);
    try {
      const r = exec.run('conntrack', args);
      if (r.status !== 0 && !/0 flow entries/.test(r.stderr))
        log(`failed to delete stale UDP conntrack entries (conntrack ${key}): ${r.stderr.trim()}`);
    } catch (e) {
      log(`failed to delete stale UDP conntrack entries: ${(e as Error).message}`);
      if (e instanceof ProcessError && e.kind === 'not-found') return;
    }
  }
}
