// Delegation to another plugin (usually IPAM): find it on CNI_PATH, run it with our environment
// and the same stdin, and bring back its result or its error with the code it chose.
import { accessSync, constants, statSync } from 'node:fs';
import { ProcessError, type RunResult } from '@cni-ts/process';
import { CniError, ErrorCode, type Result, isPlainObject, parseResult } from '@cni-ts/types';
import type { Command } from './env.js';
import { loadInProcessPlugin, runInProcess } from './inprocess.js';
import type { Context } from './plugin.js';

/** Finds an executable plugin named `name` in the CNI_PATH directories. */
export function findInPath(name: string, dirs: readonly string[]): string {
  if (name === '')
    throw new CniError(
      ErrorCode.invalidConfig,
      'no plugin name provided',
      'set "type" (for IPAM: "ipam": {"type": …})',
    );
  if (name.includes('/'))
    throw new CniError(ErrorCode.invalidConfig, `invalid plugin name "${name}": it cannot contain '/'`);
  for (const dir of dirs) {
    const full = `${dir.replace(/\/+$/, '')}/${name}`;
    try {
      if (!statSync(full).isFile()) continue;
      accessSync(full, constants.X_OK);
      return full;
    } catch {
      // not here
    }
  }
  throw new CniError(
    ErrorCode.invalidConfig,
    `failed to find plugin "${name}" in path [${dirs.join(' ')}]`,
    `install the "${name}" executable into one of the CNI_PATH directories`,
  );
}

/** Runs plugin `type` for `command` with the caller's environment and stdin; returns its parsed result for ADD. */
export function delegate(ctx: Context, type: string, command: Command, stdin = ctx.stdin): Result | undefined {
  if (command === 'ADD') return delegateAdd(ctx, type, () => {}, stdin);
  execDelegate(ctx, type, command, stdin);
  return undefined;
}

/**
 * A delegated ADD (IPAM). `mayHoldState` is called as soon as the delegate may have reserved
 * something — it exited 0, or it ran and did not report a CNI error (killed, timed out, crashed) —
 * and before its answer is decoded, so the caller can push the delegate's DEL onto its undo stack
 * first: an answer that cannot be decoded leaks nothing. A delegate that reported a CNI error has
 * undone its own work (the spec's contract) and is not called back.
 */
export function delegateAdd(ctx: Context, type: string, mayHoldState: () => void, stdin = ctx.stdin): Result {
  let out: string;
  try {
    out = execDelegate(ctx, type, 'ADD', stdin);
  } catch (e) {
    if (e instanceof DelegateError && !e.reported) mayHoldState();
    throw e;
  }
  mayHoldState();
  return parseDelegateResult(ctx, type, out);
}

/**
 * `delegate`, running the delegate in-process when it is this same executable (registerInProcess;
 * any other file is exec'd). What it returns and throws is what `delegate` would.
 */
export async function delegateAsync(
  ctx: Context,
  type: string,
  command: Command,
  stdin = ctx.stdin,
): Promise<Result | undefined> {
  if (command === 'ADD') return delegateAddAsync(ctx, type, () => {}, stdin);
  await execDelegateAsync(ctx, type, command, stdin);
  return undefined;
}

/** `delegateAdd`, in-process when the delegate is this same executable; the same `mayHoldState` contract. */
export async function delegateAddAsync(
  ctx: Context,
  type: string,
  mayHoldState: () => void,
  stdin = ctx.stdin,
): Promise<Result> {
  let out: string;
  try {
    out = await execDelegateAsync(ctx, type, 'ADD', stdin);
  } catch (e) {
    if (e instanceof DelegateError && !e.reported) mayHoldState();
    throw e;
  }
  mayHoldState();
  return parseDelegateResult(ctx, type, out);
}

/** `execDelegate`, in-process when the delegate found on CNI_PATH is this same executable. */
export async function execDelegateAsync(
  ctx: Context,
  type: string,
  command: Command,
  stdin = ctx.stdin,
): Promise<string> {
  const plugin = await loadInProcessPlugin(findInPath(type, ctx.args.path));
  if (!plugin) return execDelegate(ctx, type, command, stdin);
  const r = await runInProcess(plugin, delegateEnv(ctx, type, command), stdin, ctx.exec);
  if (r.stderr) ctx.log(`${type}: ${r.stderr.trimEnd()}`);
  if (r.status !== 0) throw delegateError(type, command, r.status, r.stdout, r.stderr);
  return r.stdout;
}

/** A delegate that ran and failed; `reported` is true when it printed a CNI error object itself. */
export class DelegateError extends CniError {
  constructor(
    code: number,
    msg: string,
    details: string,
    readonly reported: boolean,
    options?: { cause?: unknown },
  ) {
    super(code, msg, details, options);
  }
}

/**
 * How deep delegation may nest (bridge → its IPAM is depth 1). A deeper one is a loop, such as a
 * bridge whose "ipam": {"type": "bridge"} execs itself again and again until the node runs out of
 * processes and memory (about 50 new processes a second, each waiting up to two minutes).
 */
export const MAX_DELEGATION_DEPTH = 3;
const DEPTH_VAR = 'CNI_TS_DELEGATION_DEPTH';

// The delegate's environment: ours with its command, one level deeper; refused when too deep.
function delegateEnv(ctx: Context, type: string, command: Command): Record<string, string | undefined> {
  const depth = Number(ctx.env[DEPTH_VAR]) || 0;
  if (depth >= MAX_DELEGATION_DEPTH)
    throw new CniError(
      ErrorCode.invalidConfig,
      `refusing to delegate ${command} to "${type}": delegation nested ${depth + 1} deep, the configuration makes plugins delegate to each other in a loop`,
      'check "ipam.type": it must name an IPAM plugin such as "host-local", not the main plugin itself',
    );
  return { ...ctx.env, CNI_COMMAND: command, [DEPTH_VAR]: String(depth + 1) };
}

/** Runs plugin `type` for `command`; returns its stdout when it exits 0, throws its error (a DelegateError once it ran) otherwise. */
export function execDelegate(ctx: Context, type: string, command: Command, stdin = ctx.stdin): string {
  const env = delegateEnv(ctx, type, command);
  const file = findInPath(type, ctx.args.path);
  let r: RunResult;
  try {
    r = runWithRetry(ctx, file, env, stdin);
  } catch (e) {
    // it may have run (timed out, killed): unless it certainly never started
    const started = !(e instanceof ProcessError && (e.kind === 'not-found' || textBusy(e)));
    const msg = `${type} ${command} did not finish: ${(e as Error).message}`;
    if (!started) throw new CniError(ErrorCode.internal, msg, '', { cause: e });
    throw new DelegateError(ErrorCode.internal, msg, '', false, { cause: e });
  }
  if (r.stderr) ctx.log(`${type}: ${r.stderr.trimEnd()}`);
  if (r.status !== 0) throw delegateError(type, command, r.status, r.stdout, r.stderr);
  return r.stdout;
}

/** Decodes a delegated ADD's stdout as a result of any version (the config's when it names none); code 6 otherwise. */
export function parseDelegateResult(ctx: Context, type: string, stdout: string): Result {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw new CniError(
      ErrorCode.decodingFailure,
      `${type} ADD printed a result that is not JSON`,
      stdout.slice(0, 200),
    );
  }
  return parseResult(json, ctx.conf.cniVersion, `result of ${type}`);
}

/**
 * How long a delegated plugin (IPAM) may run: longer than host-local's own store-lock wait (30 s),
 * so a busy store is its code 11 and not our timeout, and shorter than CRI-O's 60 s for the
 * whole CNI call; a delegate still running then is killed and reported as code 11.
 */
export const DELEGATE_TIMEOUT_MS = 45_000;

// libcni retries a plugin that is being replaced on disk ("text file busy").
function runWithRetry(ctx: Context, file: string, env: Record<string, string | undefined>, input: string) {
  for (let attempt = 1; ; attempt++) {
    try {
      return ctx.exec.run(file, [], { env, input, timeoutMs: DELEGATE_TIMEOUT_MS });
    } catch (e) {
      if (!textBusy(e) || attempt >= 5) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  }
}

function textBusy(e: unknown): boolean {
  return e instanceof ProcessError && /ETXTBSY/.test(String((e.cause as Error | undefined)?.message ?? ''));
}

function delegateError(type: string, command: Command, status: number, stdout: string, stderr: string): DelegateError {
  try {
    const e: unknown = JSON.parse(stdout);
    if (isPlainObject(e) && typeof e.code === 'number' && typeof e.msg === 'string') {
      return new DelegateError(e.code, e.msg, typeof e.details === 'string' ? e.details : '', true);
    }
  } catch {
    // not a CNI error object
  }
  const why = stderr.trim() || stdout.trim() || 'no output';
  return new DelegateError(
    ErrorCode.internal,
    `${type} ${command} failed with exit status ${status}: ${why}`,
    '',
    false,
  );
}
