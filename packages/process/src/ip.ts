// iproute2 through one `ip -batch -` (or `bridge -batch -`, `tc -batch -`) spawn per namespace,
// with every value written by iprouteToken and JSON output parsed per line.
import type { Executor, LinkBrief, NetlinkFailure } from './run.js';
import { ProcessError, classify } from './errors.js';
import { iprouteLine } from './iproute2.js';
import { inNetns } from './netns.js';
import { sysctlPath, sysctlShellArgs, writeSysctl } from './sysctl.js';

/** Options for an iproute2 batch. */
export interface IpOptions {
  /** Run inside the network namespace at this path (CNI_NETNS); default: the current one. */
  netns?: string;
  timeoutMs?: number;
  /** Global options before `-batch -`, e.g. ['-d'] for link details (batch lines cannot carry options). */
  options?: readonly string[];
  /** ipBatch only: sysctls written before the batch runs, by the same process (one spawn instead of two). */
  sysctls?: ReadonlyArray<readonly [string, string]>;
}

type Commands = ReadonlyArray<readonly string[]>;

/** The batch text for commands: one encoded line each (throws UnencodableError before anything runs). */
export function iprouteBatchText(commands: Commands): string {
  return `${commands.map(iprouteLine).join('\n')}\n`;
}

/**
 * Runs every command in one `ip -j -batch -` process and returns the JSON documents that the
 * showing commands printed, in order. On failure, the ProcessError says which command failed.
 * Where the executor can (`ipNetlink`: in Bun, for the commands of netlink/commands.ts, with no
 * global option but `-d`), the same batch runs through rtnetlink instead, with the same documents
 * (the fields netlink/docs.ts names) and errors.
 */
export function ipBatch(exec: Executor, commands: Commands, opts: IpOptions = {}): unknown[] {
  if (commands.length === 0) return [];
  const input = iprouteBatchText(commands); // refuses what ip could not read, on either path
  const { netns, sysctls = [] } = opts;
  // sysctls of our own netns are written here; another's by the process (or thread) entering it
  if (!netns) for (const [k, v] of sysctls) writeSysctl(k, v);
  // in the compiled plugins: rtnetlink in the namespace, no process (docs/performance.md)
  const options = opts.options ?? [];
  const details = options.length === 1 && options[0] === '-d';
  if ((options.length === 0 || details) && exec.ipNetlink) {
    const inNs = netns ? sysctls.map(([k, v]) => [sysctlPath(k), v] as const) : [];
    const nl = exec.ipNetlink(commands, netns, inNs, { details });
    if (nl && 'docs' in nl) return nl.docs;
    if (nl) throw batchError('ip', commands, nl.failure.stderr, nl.failure.status, netns);
  }
  const ipArgs = [...(opts.options ?? []), '-j', '-batch', '-'];
  const cmd =
    netns && sysctls.length
      ? inNetns(netns, 'sh', sysctlShellArgs(sysctls, ['ip', ...ipArgs]))
      : inNetns(netns, 'ip', ipArgs);
  const r = exec.run(cmd[0], cmd[1], { input, timeoutMs: opts.timeoutMs });
  if (r.status !== 0) throw batchError('ip', commands, r.stderr, r.status, netns);
  return parseJsonLines(r.stdout);
}

/** Runs every command in one `bridge -batch -` process (bridge VLAN entries, port flags). */
export function bridgeBatch(exec: Executor, commands: Commands, opts: IpOptions = {}): void {
  runBatch('bridge', exec, commands, opts);
}

/**
 * Runs every command in one `tc -batch -` process; returns the JSON documents printed (with
 * options ['-j']). Where the executor can (`tcNetlink`: in Bun, for the commands of
 * netlink/tc-commands.ts with the options -j, -raw, -force), the batch runs through rtnetlink
 * instead, whole, with the same documents (the fields netlink/tc-docs.ts names) and errors.
 */
export function tcBatch(exec: Executor, commands: Commands, opts: IpOptions = {}): unknown[] {
  if (commands.length > 0 && exec.tcNetlink) {
    iprouteBatchText(commands); // refuses what tc could not read, on either path
    const nl = exec.tcNetlink(commands, opts.netns, opts.options ?? []);
    if (nl && 'docs' in nl) return nl.docs;
    if (nl) throw batchError('tc', commands, nl.failure.stderr, nl.failure.status, opts.netns);
  }
  return runBatch('tc', exec, commands, opts);
}

/**
 * Every link of `kind` in our namespace as the executor's rtnetlink dump reports it (`linksOfKind`:
 * in Bun, one dump the kernel filters by kind); undefined when the executor cannot, and the caller
 * runs `ip -d link show type <kind>` (its documents carry the same fields). A failure throws the
 * ProcessError that command's failure would.
 */
export function ipLinksOfKind(exec: Executor, kind: string): LinkBrief[] | undefined {
  const nl = exec.linksOfKind?.(kind);
  if (!nl) return undefined;
  if ('links' in nl) return nl.links;
  throw batchError('ip', [['link', 'show', 'type', kind]], nl.failure.stderr, nl.failure.status);
}

/**
 * The ProcessError of a batch that failed through netlink (an Executor.typedNetlink operation): the one
 * ipBatch or tcBatch throws for the same commands and failure.
 */
export function netlinkError(
  tool: 'ip' | 'tc',
  commands: Commands,
  failure: NetlinkFailure,
  netns?: string,
): ProcessError {
  return batchError(tool, commands, failure.stderr, failure.status, netns);
}

/** Runs one `ip -j …` command and returns what it printed (undefined when it printed nothing). */
export function ipJson(exec: Executor, args: readonly string[], opts: IpOptions = {}): unknown {
  return ipBatch(exec, [args], opts)[0];
}

function runBatch(tool: 'bridge' | 'tc', exec: Executor, commands: Commands, opts: IpOptions): unknown[] {
  if (commands.length === 0) return [];
  const input = iprouteBatchText(commands);
  const [file, args] = inNetns(opts.netns, tool, [...(opts.options ?? []), '-batch', '-']);
  const r = exec.run(file, args, { input, timeoutMs: opts.timeoutMs });
  if (r.status !== 0) throw batchError(tool, commands, r.stderr, r.status, opts.netns);
  return parseJsonLines(r.stdout);
}

function parseJsonLines(stdout: string): unknown[] {
  const out: unknown[] = [];
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (t) out.push(JSON.parse(t));
  }
  return out;
}

// iproute2 reports "Command failed -:<line>"; every command is one line (iprouteToken never
// writes a continuation), so line N is command N-1. Some errors exit without saying the line.
/** The ProcessError of a batch of `tool` that exited with `status`, printing `stderr` (also what netlink/direct.ts throws). */
export function batchError(
  tool: string,
  commands: Commands,
  stderr: string,
  status: number,
  netns?: string,
): ProcessError {
  const m = /Command failed -:(\d+)/.exec(stderr);
  const index = m ? Number(m[1]) - 1 : -1;
  const args = commands[index];
  const sysctl = /(?:^|\n)cannot write sysctl (\S+)/.exec(stderr);
  const cmd = sysctl ? `sysctl ${sysctl[1]}` : `${tool} ${args ? args.join(' ') : '-batch'}`;
  const why =
    stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('Command failed'))
      .join('; ') || `exit status ${status}`;
  const where = netns ? ` (in netns ${netns})` : '';
  const { kind, object } = classify(stderr);
  return new ProcessError(kind, cmd, `${cmd}${where}: ${why}`, {
    status,
    stderr,
    ...(object !== undefined ? { object } : {}),
    ...(args && !sysctl ? { failed: { index, args } } : {}),
  });
}
