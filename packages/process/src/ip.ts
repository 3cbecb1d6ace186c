// iproute2 through one `ip -batch -` spawn per namespace, with JSON output parsed per line.
import type { Executor } from './run.js';
import { ProcessError, classifyStderr } from './errors.js';
import { inNetns } from './netns.js';
import { sysctlShellArgs, writeSysctl } from './sysctl.js';

/** Options for an ip batch. */
export interface IpOptions {
  /** Run inside the network namespace at this path (CNI_NETNS); default: the current one. */
  netns?: string;
  timeoutMs?: number;
  /** Global options before `-j -batch -`, e.g. ['-d'] for link details (batch lines cannot carry options). */
  options?: readonly string[];
  /** ipBatch only: sysctls written before the batch runs, by the same process (one spawn instead of two). */
  sysctls?: ReadonlyArray<readonly [string, string]>;
}

/**
 * Runs every command in one `ip -j -batch -` process and returns the JSON documents that the
 * showing commands printed, in order. On failure, the ProcessError names the failing command.
 */
export function ipBatch(exec: Executor, commands: ReadonlyArray<readonly string[]>, opts: IpOptions = {}): unknown[] {
  if (commands.length === 0) return [];
  const input = `${commands.map(batchLine).join('\n')}\n`;
  const ipArgs = [...(opts.options ?? []), '-j', '-batch', '-'];
  const sysctls = opts.sysctls ?? [];
  let cmd: [string, string[]];
  if (sysctls.length && opts.netns) {
    cmd = inNetns(opts.netns, 'sh', sysctlShellArgs(sysctls, ['ip', ...ipArgs]));
  } else {
    for (const [k, v] of sysctls) writeSysctl(k, v);
    cmd = inNetns(opts.netns, 'ip', ipArgs);
  }
  const r = exec.run(cmd[0], cmd[1], { input, timeoutMs: opts.timeoutMs });
  if (r.status !== 0) throw batchError('ip', commands, r.stderr, r.status, opts.netns);
  return parseJsonLines(r.stdout);
}

/** Runs every command in one `bridge -batch -` process (bridge VLAN entries, port flags). */
export function bridgeBatch(exec: Executor, commands: ReadonlyArray<readonly string[]>, opts: IpOptions = {}): void {
  if (commands.length === 0) return;
  const input = `${commands.map(batchLine).join('\n')}\n`;
  const [file, args] = inNetns(opts.netns, 'bridge', [...(opts.options ?? []), '-batch', '-']);
  const r = exec.run(file, args, { input, timeoutMs: opts.timeoutMs });
  if (r.status !== 0) throw batchError('bridge', commands, r.stderr, r.status, opts.netns);
}

/** Runs one `ip -j …` command and returns what it printed (undefined when it printed nothing). */
export function ipJson(exec: Executor, args: readonly string[], opts: IpOptions = {}): unknown {
  return ipBatch(exec, [args], opts)[0];
}

/** One batch line; arguments with spaces or quotes are double-quoted as iproute2's makeargs expects. */
export function batchLine(args: readonly string[]): string {
  return args.map((a) => (/^[^\s"'#\\]+$/.test(a) ? a : `"${a.replace(/(["\\])/g, '\\$1')}"`)).join(' ');
}

function parseJsonLines(stdout: string): unknown[] {
  const out: unknown[] = [];
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (t) out.push(JSON.parse(t));
  }
  return out;
}

function batchError(
  tool: string,
  commands: ReadonlyArray<readonly string[]>,
  stderr: string,
  status: number,
  netns?: string,
): ProcessError {
  const m = /Command failed -:(\d+)/.exec(stderr);
  const failed = m ? commands[Number(m[1]) - 1] : undefined;
  const sysctl = /(?:^|\n)cannot write sysctl (\S+)/.exec(stderr);
  const cmd = sysctl ? `sysctl ${sysctl[1]}` : `${tool} ${failed ? failed.join(' ') : '-batch'}`;
  const why =
    stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('Command failed'))
      .join('; ') || `exit status ${status}`;
  const where = netns ? ` (in netns ${netns})` : '';
  return new ProcessError(classifyStderr(stderr), cmd, `${cmd}${where}: ${why}`, { status, stderr });
}
