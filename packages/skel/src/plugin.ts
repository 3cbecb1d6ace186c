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
  /** prevResult converted to the current version, when the runtime sent one. */
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
