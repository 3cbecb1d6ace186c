// Running plugin executables as libcni's invoke package does: found on CNI_PATH, given the
// caller's environment plus CNI_*, the config on stdin, retried while the file is being written
// ("text file busy"), killed after a timeout, and on failure the CNI error read from stdout.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { int, str, struct } from './godecode.js';
import { PluginError, type PluginRun } from './errors.js';

/** How a plugin process is started; replace it to run plugins elsewhere or to fake them in tests. */
export interface Exec {
  /** Runs the plugin; resolves with its stdout on success, rejects with a PluginError otherwise. */
  execPlugin(path: string, stdin: Buffer, env: Record<string, string>, opts?: ExecCallOptions): Promise<string>;
  /** The plugin's path on CNI_PATH (libcni's FindInPath). */
  findInPath(plugin: string, paths: readonly string[]): string;
}

/** Per-call options. */
export interface ExecCallOptions {
  /** Cancels the run (the plugin is killed). */
  signal?: AbortSignal | undefined;
}

/** How RawExec starts processes. */
export interface RawExecOptions {
  /** The environment plugins inherit (default: this process's). CNI_* variables are set on top of it. */
  env?: Record<string, string | undefined>;
  /** Kill a plugin that has not finished after this long (default 60 s; 0 waits forever, as libcni without a context deadline). */
  timeoutMs?: number;
  /** A command the plugin path is appended to, e.g. ["ip", "netns", "exec", "node1"] to run plugins in another netns. */
  prefix?: readonly string[];
  /** Where a successful plugin's stderr goes (default: this process's stderr; null drops it). */
  stderr?: ((text: string, run: PluginRun) => void) | null;
  /** "text file busy" retries: how many more attempts (default 5) and how long between them (default 1000 ms). */
  busyRetries?: number;
  busyDelayMs?: number;
}

/** Finds a plugin executable: a regular file named `plugin` in the first directory of `paths` that has one. */
export function findInPath(plugin: string, paths: readonly string[]): string {
  if (plugin === '') throw new Error('no plugin name provided');
  if (plugin.includes('/')) throw new Error(`invalid plugin name: ${plugin}`);
  if (paths.length === 0) throw new Error('no paths provided');
  for (const dir of paths) {
    const full = join(dir, plugin);
    try {
      if (statSync(full).isFile()) return full;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`failed to find plugin "${plugin}" in path [${paths.join(' ')}]`);
}

const errorDecoder = struct<{ code?: number; msg?: string; details?: string }>('Error', {
  code: int,
  msg: str,
  details: str,
});

/** The error libcni reports for a failed run: the plugin's JSON error from stdout, else stderr, else the exit status. */
export function pluginError(run: PluginRun, status: string): PluginError {
  if (run.stdout.length === 0) {
    const msg =
      run.stderr.length === 0
        ? `netplugin failed with no error message: ${status}`
        : `netplugin failed: ${JSON.stringify(run.stderr)}`;
    return new PluginError(0, msg, '', run);
  }
  try {
    const e = errorDecoder(JSON.parse(run.stdout), '') ?? {};
    return new PluginError(e.code ?? 0, e.msg ?? '', e.details ?? '', run);
  } catch (err) {
    return new PluginError(
      0,
      `netplugin failed but error parsing its diagnostic message ${JSON.stringify(run.stdout)}: ${(err as Error).message}`,
      '',
      run,
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts plugins as child processes with execa (libcni's RawExec). */
export class RawExec implements Exec {
  constructor(private readonly opts: RawExecOptions = {}) {}

  findInPath(plugin: string, paths: readonly string[]): string {
    return findInPath(plugin, paths);
  }

  async execPlugin(
    path: string,
    stdin: Buffer,
    cniEnv: Record<string, string>,
    call: ExecCallOptions = {},
  ): Promise<string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.opts.env ?? process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, cniEnv);
    const [file, args] = this.opts.prefix?.length
      ? [this.opts.prefix[0] as string, [...this.opts.prefix.slice(1), path]]
      : [path, []];
    const retries = this.opts.busyRetries ?? 5;
    for (let attempt = 0; ; attempt++) {
      const r = await execa(file, args, {
        env,
        extendEnv: false,
        input: stdin,
        reject: false,
        stripFinalNewline: false,
        timeout: this.opts.timeoutMs ?? 60_000,
        ...(call.signal ? { cancelSignal: call.signal } : {}),
      });
      const run: PluginRun = {
        path,
        command: cniEnv.CNI_COMMAND ?? '',
        exitCode: r.exitCode,
        stdout: String(r.stdout ?? ''),
        stderr: String(r.stderr ?? ''),
      };
      if (!r.failed) {
        if (run.stderr && this.opts.stderr !== null) (this.opts.stderr ?? toStderr)(run.stderr, run);
        return run.stdout;
      }
      if (isBusy(r) && attempt < retries) {
        await sleep(this.opts.busyDelayMs ?? 1000);
        continue;
      }
      throw pluginError(run, statusOf(r, this.opts.timeoutMs ?? 60_000));
    }
  }
}

function toStderr(text: string): void {
  process.stderr.write(text);
}

type ExecaOutcome = {
  code?: string | undefined;
  exitCode?: number | undefined;
  signal?: string | undefined;
  timedOut?: boolean;
  isCanceled?: boolean;
  stdout?: unknown;
  stderr?: unknown;
  originalMessage?: string;
};

// ETXTBSY from execve, or from a wrapper (ip netns exec) that reports it on stderr
function isBusy(r: ExecaOutcome): boolean {
  return (
    r.code === 'ETXTBSY' ||
    /text file busy/i.test(r.originalMessage ?? '') ||
    (String(r.stdout ?? '') === '' && /text file busy/i.test(String(r.stderr ?? '')))
  );
}

// Go's exec error text: "exit status 1", "signal: killed"; ours says why it was killed
function statusOf(r: ExecaOutcome, timeoutMs: number): string {
  if (r.timedOut) return `killed after the ${timeoutMs / 1000} s timeout`;
  if (r.isCanceled) return 'canceled';
  if (r.signal) return `signal: ${r.signal}`;
  if (r.exitCode !== undefined) return `exit status ${r.exitCode}`;
  return r.originalMessage ?? 'could not be started';
}
