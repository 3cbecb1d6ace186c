// What a plugin hands to skel: its handlers and the spec versions it speaks.
import type { Executor } from '@cni-ts/process';
import type { Result } from '@cni-ts/types';
import type { CmdArgs, Command } from './env.js';
import type { NetConf } from './netconf.js';

/** Everything a handler needs for one invocation. */
export interface Context {
  command: Command;
  args: CmdArgs;
  conf: NetConf;
  /** stdin exactly as received (delegated IPAM plugins get the same bytes). */
  stdin: string;
  /**
   * prevResult converted to the current version, when the runtime sent one. Decoded on first
   * read, so a plugin that never reads it never rejects it; reading a prevResult that is not a
   * result throws a code-6 CniError naming the field (DEL reads it through `prevResultIfValid`).
   */
  prevResult?: Result;
  /** The environment, for delegation (a delegate inherits it with CNI_COMMAND changed). */
  env: Readonly<Record<string, string | undefined>>;
  exec: Executor;
  /** Informational messages for the runtime's log (stderr). */
  log: (msg: string) => void;
}

/** A handler for a verb without output. */
export type Handler = (ctx: Context) => void | Promise<void>;

/** A CNI plugin: registered with skel by its entry point, in one statement. */
export interface Plugin {
  /** The CNI `type`, also the executable's name. */
  name: string;
  /** Spec versions this plugin accepts, oldest first. */
  versions: readonly string[];
  add: (ctx: Context) => Result | Promise<Result>;
  del: Handler;
  check?: Handler;
  gc?: Handler;
  status?: Handler;
}

/**
 * Loads a plugin on first use (the multi-call executable keeps each plugin in its own chunk, behind
 * an `import()`, so a run loads only the plugin it runs).
 */
export type PluginLoader = () => Promise<Plugin>;

/** A plugin, or the function that loads it. */
export type PluginSource = Plugin | PluginLoader;

/**
 * Gives `ctx` a `prevResult` decoded by `decode` on first read (and cached, errors included).
 * Plain-object contexts (tests) may set `prevResult` directly instead.
 */
export function withLazyPrevResult(ctx: Omit<Context, 'prevResult'>, decode: () => Result | undefined): Context {
  let state: { ok: true; value: Result | undefined } | { ok: false; error: unknown } | undefined;
  Object.defineProperty(ctx, 'prevResult', {
    enumerable: true,
    configurable: true,
    get() {
      if (!state) {
        try {
          state = { ok: true, value: decode() };
        } catch (error) {
          state = { ok: false, error };
        }
      }
      if (!state.ok) throw state.error;
      return state.value;
    },
    set(value: Result | undefined) {
      state = { ok: true, value };
    },
  });
  return ctx as Context;
}

/**
 * prevResult for a verb that must not fail over it (DEL cleans with or without it): the decoded
 * result, or undefined with a log line when it cannot be decoded.
 */
export function prevResultIfValid(ctx: Context): Result | undefined {
  try {
    return ctx.prevResult;
  } catch (e) {
    ctx.log(`ignoring prevResult: ${(e as Error).message}`);
    return undefined;
  }
}
