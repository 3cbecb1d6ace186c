// Delegation to another plugin (usually IPAM): find it on CNI_PATH, run it with our environment
// and the same stdin, and bring back its result or its error with the code it chose.
import { accessSync, constants, statSync } from 'node:fs';
import { ProcessError } from '@cni-ts/process';
import { CniError, ErrorCode, type Result, isPlainObject, parseResult } from '@cni-ts/types';
import type { Command } from './env.js';
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
  const file = findInPath(type, ctx.args.path);
  const env = { ...ctx.env, CNI_COMMAND: command };
  const r = runWithRetry(ctx, file, env, stdin);
  if (r.stderr) ctx.log(`${type}: ${r.stderr.trimEnd()}`);
  if (r.status !== 0) throw delegateError(type, command, r.status, r.stdout, r.stderr);
  if (command !== 'ADD') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    throw new CniError(
      ErrorCode.decodingFailure,
      `${type} ${command} printed a result that is not JSON`,
      r.stdout.slice(0, 200),
    );
  }
  return parseResult(json, ctx.conf.cniVersion, `result of ${type}`);
}

// libcni retries a plugin that is being replaced on disk ("text file busy").
function runWithRetry(ctx: Context, file: string, env: Record<string, string | undefined>, input: string) {
  for (let attempt = 1; ; attempt++) {
    try {
      return ctx.exec.run(file, [], { env, input, timeoutMs: 120_000 });
    } catch (e) {
      const busy = e instanceof ProcessError && /ETXTBSY/.test(String((e.cause as Error | undefined)?.message ?? ''));
      if (!busy || attempt >= 5) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  }
}

function delegateError(type: string, command: Command, status: number, stdout: string, stderr: string): CniError {
  try {
    const e: unknown = JSON.parse(stdout);
    if (isPlainObject(e) && typeof e.code === 'number' && typeof e.msg === 'string') {
      return new CniError(e.code, e.msg, typeof e.details === 'string' ? e.details : '');
    }
  } catch {
    // not a CNI error object
  }
  const why = stderr.trim() || stdout.trim() || 'no output';
  return new CniError(ErrorCode.internal, `${type} ${command} failed with exit status ${status}: ${why}`);
}
