// Reading the routes of our protocol and applying route changes: one `ip -batch` per change.
import { type Executor, ProcessError, ipBatch, ipJson } from '@cni-ts/process';
import { type ObservedRoute, type PodRoute, diffRoutes } from './plan-routes.js';

/** The routes of protocol `proto` in the main table, IPv4 and IPv6. */
export function observeRoutes(exec: Executor, proto: number): ObservedRoute[] {
  const out: ObservedRoute[] = [];
  for (const family of ['-4', '-6']) {
    const rows = (ipJson(exec, ['route', 'show', 'proto', String(proto)], { options: [family] }) ?? []) as Array<{
      dst?: string;
      gateway?: string;
    }>;
    for (const r of rows) {
      if (!r.dst) continue;
      const dst = r.dst.includes('/') ? r.dst : `${r.dst}/${family === '-4' ? 32 : 128}`;
      out.push(r.gateway ? { dst, gateway: r.gateway } : { dst });
    }
  }
  return out;
}

/** A route command `ip` refused, with its reason. */
export interface FailedRoute {
  command: string;
  error: string;
}

/**
 * Makes the routes of protocol `proto` exactly `want` in one `ip -force -batch` (a refused line,
 * e.g. a peer whose InternalIP is not on a connected network, does not stop the others).
 * Returns the commands it ran and those that failed; a route already gone counts as removed.
 */
export function syncRoutes(
  exec: Executor,
  want: readonly PodRoute[],
  proto: number,
): { commands: string[][]; failed: FailedRoute[] } {
  const commands = diffRoutes(want, observeRoutes(exec, proto), proto);
  try {
    ipBatch(exec, commands, { options: ['-force'] });
    return { commands, failed: [] };
  } catch (e) {
    if (!(e instanceof ProcessError)) throw e;
    const failed = failedLines(e.stderr, commands).filter(
      (f) => !(f.command.startsWith('route del') && /No such process/.test(f.error)),
    );
    if (failed.length === 0 && !/Command failed/.test(e.stderr)) throw e;
    return { commands, failed };
  }
}

// ip -force prints each failure as its error line(s) followed by "Command failed -:<line>"
function failedLines(stderr: string, commands: readonly string[][]): FailedRoute[] {
  const out: FailedRoute[] = [];
  let why: string[] = [];
  for (const line of stderr.split('\n').map((l) => l.trim())) {
    const m = /^Command failed -:(\d+)$/.exec(line);
    if (!m) {
      if (line) why.push(line);
      continue;
    }
    const cmd = commands[Number(m[1]) - 1];
    out.push({ command: cmd ? cmd.join(' ') : `line ${m[1]}`, error: why.join('; ') || 'failed' });
    why = [];
  }
  return out;
}
