// Starting processes: one synchronous spawn per call, with a timeout, and no shell.
import { ProcessError, classify } from './errors.js';
import { type NetlinkOutcome, netlinkBatch } from './netlink/batch.js';
import { type NftFamily, type NftOp, type NftOutcome, type NftReader, nftTransaction } from './netlink/nf-write.js';
import { type NfCommentMatch, type NfRule, nftChainRules, nftTableExists } from './netlink/nfnetlink.js';

export type { NfCommentMatch, NfExpr, NfRule } from './netlink/nfnetlink.js';
export type { NftExprSpec, NftFamily, NftHook, NftOp, NftOutcome, NftReader } from './netlink/nf-write.js';
import { type Rtnl, loadLibc, openRtnl, withRtnl } from './netlink/socket.js';
import { readSysctls } from './netlink/devconf.js';
import { tcNetlinkBatch } from './netlink/tc-batch.js';
import { type LinksOutcome, linksOfKind } from './netlink/link-dump.js';
import { type NetlinkDirect, netlinkDirect } from './netlink/typed.js';

export type { LinkBrief, LinksOutcome } from './netlink/link-dump.js';
export type { NetlinkDirect } from './netlink/typed.js';
export type { NetlinkFailure, NetlinkOutcome } from './netlink/batch.js';
export type { TcFilter, TcQdisc } from './netlink/tc-docs.js';
export type { IngressPlan, TeardownOutcome } from './netlink/tc-teardown.js';

/** Options for one command. */
export interface RunOptions {
  /** Written to the command's stdin. */
  input?: string;
  /** Killed (SIGKILL) after this many milliseconds; default TOOL_TIMEOUT_MS. */
  timeoutMs?: number;
  /** The whole environment of the child; default: ours. */
  env?: Record<string, string | undefined>;
}

/** What a finished command left behind. */
export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs commands. Fakes implement this in contract tests; `systemExecutor` is the real one. */
export interface Executor {
  /** Runs file with args; returns any exit status, throws ProcessError 'not-found' or 'timeout'. */
  run(file: string, args: readonly string[], opts?: RunOptions): RunResult;
  /**
   * Runs an `ip -j -batch -` without a process, through rtnetlink in the namespace (after writing
   * the sysctls, /proc/sys paths and values, there); undefined when it cannot (a command outside
   * the subset, no bun:ffi), and ipBatch spawns `ip` instead. Fakes leave it out, so golden
   * tests pin the `ip` commands.
   */
  ipNetlink?(
    commands: ReadonlyArray<readonly string[]>,
    netns: string | undefined,
    sysctls: ReadonlyArray<readonly [string, string]>,
    opts: { details: boolean },
  ): NetlinkOutcome | undefined;
  /**
   * An rtnetlink socket in the namespace at `netns` (our own when undefined) for requests written
   * in place (netlink/direct.ts); undefined when it cannot (no bun:ffi, CNI_TS_NETLINK=0), and the
   * caller runs its ip batch instead. Throws NetnsError where nsenter would fail. Fakes leave it
   * out, so golden tests pin the `ip` commands.
   */
  rtnl?(netns: string | undefined): Rtnl | undefined;
  /**
   * Whether nftables table `name` of `family` exists in our namespace, asked of the kernel
   * without a process; undefined when it cannot tell (nftList then runs `nft`). Fakes leave it
   * out, so golden tests pin the `nft` commands.
   */
  nftTableExists?(family: string, name: string): boolean | undefined;
  /**
   * The rules of the chains `chains` of nftables table `table` of `family`, in order (with
   * `comment`, only those carrying it, or a comment starting with its `prefix`), asked of the kernel without a process (a missing table or
   * chain has none); undefined when it cannot tell (then `nft -j list`). Fakes leave it out, so
   * golden tests pin the `nft` commands.
   */
  nftChainRules?(
    family: string,
    table: string,
    chains: readonly string[],
    comment?: NfCommentMatch,
  ): NfRule[] | undefined;
  /**
   * One nf_tables transaction on `table` of `family` without a process (netlink/nf-write.ts):
   * `plan` reads, returns the ops, and they are applied in one atomic batch; undefined when it
   * cannot (no bun:ffi, CNI_TS_NETLINK=0), nothing applied. Fakes leave it out, so golden tests
   * pin the `iptables-restore` input.
   */
  nftTransaction?(
    family: NftFamily,
    table: string,
    plan: (read: NftReader) => readonly NftOp[],
  ): NftOutcome | undefined;
  /**
   * Runs a `tc -batch -` (with tc's global `options`) without a process, through rtnetlink;
   * undefined when it cannot (a command or option outside netlink/tc-commands.ts, no bun:ffi),
   * and tcBatch spawns `tc`. Fakes leave it out, so golden tests pin the `tc` commands.
   */
  tcNetlink?(
    commands: ReadonlyArray<readonly string[]>,
    netns: string | undefined,
    options: readonly string[],
  ): NetlinkOutcome | undefined;
  /**
   * Every link of `kind` in our namespace, what `ip -d link show type <kind>` shows, through one
   * rtnetlink dump the kernel filters by kind (netlink/link-dump.ts); undefined when it cannot (no
   * bun:ffi, CNI_TS_NETLINK=0), and ipLinksOfKind runs `ip`. Fakes leave it out, so golden tests
   * pin the `ip` command.
   */
  linksOfKind?(kind: string): LinksOutcome | undefined;
  /**
   * Typed rtnetlink work without batch text or documents (netlink/typed.ts) for a plugin that
   * knows what it asks: the same requests and failures as its batches through ipNetlink and
   * tcNetlink; undefined when it cannot (no bun:ffi, CNI_TS_NETLINK=0 or ip), and the plugin runs
   * its batches. Fakes leave it out, so golden tests pin the `ip` and `tc` commands.
   */
  typedNetlink?(): NetlinkDirect | undefined;
  /**
   * Sysctls of our namespace read through rtnetlink (netlink/devconf.ts: the forwarding switches,
   * an interface's IPv4 and IPv6 settings), each as /proc/sys prints it, or undefined where it
   * cannot read that one; undefined altogether when it cannot (no bun:ffi, CNI_TS_NETLINK=0), and
   * the caller reads /proc/sys. Fakes leave it out, so golden tests see the /proc/sys reads.
   */
  sysctlsNetlink?(names: readonly string[]): Array<string | undefined> | undefined;
}

/** CNI_TS_NETLINK=ip keeps rtnetlink for ip batches only (tc batches spawn `tc`); CNI_TS_NETLINK=0 makes every ip and tc batch spawn `ip` / `tc` (the fallback path: tests, the bench, an operator's way out). */
export function netlinkDisabled(): boolean {
  return process.env.CNI_TS_NETLINK === '0';
}

/**
 * How long one external command may run before it is killed and reported as a 'timeout' (CNI
 * code 11, try again). A runtime gives the whole plugin call far longer — CRI-O 60 s per CNI
 * call, kubelet 2 min per RunPodSandbox (--runtime-request-timeout), containerd no limit of its
 * own — and our commands take milliseconds, so a command still running after 15 s is hung, and
 * the pod gets a clear error in time to be retried instead of a runtime deadline.
 */
export const TOOL_TIMEOUT_MS = 15_000;

/**
 * The executor that really spawns (no execa: see docs/startup.md): Bun.spawnSync in Bun, Node's
 * spawnSync elsewhere. node:child_process in Bun is a JavaScript layer over the same spawn whose
 * module load and argument handling cost a compiled plugin about 4 ms of CPU per run that
 * spawns, 1.6 ms of it for merely importing it (docs/performance.md), so it is loaded only under
 * Node, on first use.
 */
export const systemExecutor: Executor = {
  ipNetlink(commands, netns, sysctls, opts) {
    return netlinkDisabled() ? undefined : netlinkBatch(commands, netns, sysctls, opts);
  },
  rtnl(netns) {
    return netlinkDisabled() ? undefined : (openRtnl(netns) ?? undefined);
  },
  nftTableExists(family, name) {
    return netlinkDisabled() ? undefined : nftTableExists(family, name);
  },
  nftChainRules(family, table, chains, comment) {
    return netlinkDisabled() ? undefined : nftChainRules(family, table, chains, comment);
  },
  nftTransaction(family, table, plan) {
    return netlinkDisabled() ? undefined : nftTransaction(family, table, plan);
  },
  tcNetlink(commands, netns, options) {
    return netlinkDisabled() || process.env.CNI_TS_NETLINK === 'ip'
      ? undefined
      : tcNetlinkBatch(commands, netns, options);
  },
  linksOfKind(kind) {
    return netlinkDisabled() ? undefined : linksOfKind(kind);
  },
  typedNetlink() {
    return netlinkDisabled() || process.env.CNI_TS_NETLINK === 'ip' || !loadLibc() ? undefined : netlinkDirect;
  },
  sysctlsNetlink(names) {
    if (netlinkDisabled()) return undefined;
    const r = withRtnl(undefined, (sock) => readSysctls(sock, names));
    return Array.isArray(r) ? r : undefined;
  },
  run(file, args, opts = {}) {
    const bun = (globalThis as { Bun?: BunSpawn }).Bun;
    return bun ? bunRun(bun, file, args, opts) : nodeRun(file, args, opts);
  },
};

const MAX_BUFFER = 64 * 1024 * 1024;

/** The part of Bun's global that bunRun uses (no @types/bun in this repo). */
interface BunSpawn {
  spawnSync(
    cmd: string[],
    opts: {
      stdin: Uint8Array;
      stdout: 'pipe';
      stderr: 'pipe';
      env: Record<string, string | undefined>;
      timeout: number;
      killSignal: string;
      maxBuffer: number;
    },
  ): {
    exitCode: number | null;
    signalCode?: string | null;
    exitedDueToTimeout?: boolean;
    stdout: Uint8Array;
    stderr: Uint8Array;
  };
}

function notFound(file: string, command: string, cause: unknown): ProcessError {
  return new ProcessError('not-found', command, `${file}: command not found (is it installed and on PATH?)`, { cause });
}

function timedOut(command: string, opts: RunOptions, stderr: string, cause?: unknown): ProcessError {
  const s = (opts.timeoutMs ?? TOOL_TIMEOUT_MS) / 1000;
  return new ProcessError(
    'timeout',
    command,
    `${command}: did not finish within ${s} s and was killed (the tool hangs or waits for a kernel lock); try again later`,
    { ...(cause !== undefined ? { cause } : {}), stderr },
  );
}

function bunRun(bun: BunSpawn, file: string, args: readonly string[], opts: RunOptions): RunResult {
  const command = describe(file, args);
  let r: ReturnType<BunSpawn['spawnSync']>;
  try {
    r = bun.spawnSync([file, ...args], {
      stdin: Buffer.from(opts.input ?? ''),
      stdout: 'pipe',
      stderr: 'pipe',
      // the environment as it is now, as Node's spawnSync passes it (Bun's default is the one at start)
      env: opts.env ?? process.env,
      timeout: opts.timeoutMs ?? TOOL_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      maxBuffer: MAX_BUFFER,
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(file, command, e);
    throw new ProcessError('failed', command, `${command}: ${(e as Error).message}`, { cause: e });
  }
  const stdout = Buffer.from(r.stdout).toString('utf8');
  const stderr = Buffer.from(r.stderr).toString('utf8');
  if (r.exitedDueToTimeout) throw timedOut(command, opts, stderr);
  if (r.signalCode) throw new ProcessError('failed', command, `${command}: killed by ${r.signalCode}`, { stderr });
  return { status: r.exitCode ?? 1, stdout, stderr };
}

function nodeRun(file: string, args: readonly string[], opts: RunOptions): RunResult {
  const { spawnSync } = process.getBuiltinModule('node:child_process');
  const r = spawnSync(file, args as string[], {
    input: opts.input ?? '',
    env: opts.env as NodeJS.ProcessEnv | undefined,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? TOOL_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: MAX_BUFFER,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const command = describe(file, args);
  // A command that exits before reading all its stdin (a failed sysctl write before `ip -batch`)
  // makes Node report EPIPE; it did run, and its status and stderr say what happened.
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'EPIPE' && r.status !== null)
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw notFound(file, command, r.error);
    if (code === 'ETIMEDOUT') throw timedOut(command, opts, r.stderr ?? '', r.error);
    throw new ProcessError('failed', command, `${command}: ${r.error.message}`, { cause: r.error });
  }
  if (r.signal) throw new ProcessError('failed', command, `${command}: killed by ${r.signal}`, { stderr: r.stderr });
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command and throws a classified ProcessError when it exits non-zero. */
export function runChecked(exec: Executor, file: string, args: readonly string[], opts?: RunOptions): RunResult {
  const r = exec.run(file, args, opts);
  if (r.status !== 0) {
    const command = describe(file, args);
    const why = r.stderr.trim() || r.stdout.trim() || `exit status ${r.status}`;
    const { kind, object } = classify(r.stderr);
    throw new ProcessError(kind, command, `${command}: ${why}`, {
      status: r.status,
      stderr: r.stderr,
      ...(object !== undefined ? { object } : {}),
    });
  }
  return r;
}

/** A short printable form of a command line for error messages. */
export function describe(file: string, args: readonly string[]): string {
  const shown = args.length > 8 ? [...args.slice(0, 8), '…'] : args;
  return [file, ...shown].join(' ');
}
