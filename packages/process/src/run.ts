// Starting processes: one synchronous spawn per call, with a timeout, and no shell.
import { spawnSync } from 'node:child_process';
import { ProcessError, classifyStderr } from './errors.js';

/** Options for one command. */
export interface RunOptions {
  /** Written to the command's stdin. */
  input?: string;
  /** Killed (SIGKILL) after this many milliseconds; default 60 s. */
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
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** The executor that really spawns (node:child_process.spawnSync, no execa: see docs/startup.md). */
export const systemExecutor: Executor = {
  run(file, args, opts = {}) {
    const r = spawnSync(file, args as string[], {
      input: opts.input ?? '',
      env: opts.env as NodeJS.ProcessEnv | undefined,
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const command = describe(file, args);
    if (r.error) {
      const code = (r.error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT')
        throw new ProcessError('not-found', command, `${file}: command not found (is it installed and on PATH?)`, {
          cause: r.error,
        });
      if (code === 'ETIMEDOUT')
        throw new ProcessError(
          'timeout',
          command,
          `${command}: timed out after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`,
          { cause: r.error },
        );
      throw new ProcessError('failed', command, `${command}: ${r.error.message}`, { cause: r.error });
    }
    if (r.signal) throw new ProcessError('failed', command, `${command}: killed by ${r.signal}`, { stderr: r.stderr });
    return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
  },
};

/** Runs a command and throws a classified ProcessError when it exits non-zero. */
export function runChecked(exec: Executor, file: string, args: readonly string[], opts?: RunOptions): RunResult {
  const r = exec.run(file, args, opts);
  if (r.status !== 0) {
    const command = describe(file, args);
    const why = r.stderr.trim() || r.stdout.trim() || `exit status ${r.status}`;
    throw new ProcessError(classifyStderr(r.stderr), command, `${command}: ${why}`, {
      status: r.status,
      stderr: r.stderr,
    });
  }
  return r;
}

/** A short printable form of a command line for error messages. */
export function describe(file: string, args: readonly string[]): string {
  const shown = args.length > 8 ? [...args.slice(0, 8), '…'] : args;
  return [file, ...shown].join(' ');
}
