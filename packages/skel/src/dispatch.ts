// The protocol driver: env and stdin in, one result or one coded error out. All I/O is injected,
// so the whole protocol is tested without processes.
import { type Executor, probeNetns } from '@cni-ts/process';
import { CniError, CURRENT_VERSION, ErrorCode, formatResult, goJson, goJsonCompact, toCniError } from '@cni-ts/types';
import { COMMANDS, type Command, readCmdArgs } from './env.js';
import { decodeNetConf } from './netconf.js';
import { negotiate } from './negotiate.js';
import { type Context, type Plugin, withLazyPrevResult } from './plugin.js';
import { prevResultDecoder } from './prev.js';

/** The outside world of one invocation. */
export interface PluginIO {
  env: Readonly<Record<string, string | undefined>>;
  readStdin: () => string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  exec: Executor;
  /** Checks CNI_NETNS against our own netns; injected so tests need no namespaces. */
  probeNetns?: typeof probeNetns;
}

/** The about text printed when CNI_COMMAND is unset. */
export function aboutText(plugin: Plugin, buildVersion: string): string {
  return `CNI ${plugin.name} plugin ${buildVersion}\nCNI protocol versions supported: ${plugin.versions.join(', ')}\n`;
}

/** Runs one invocation and returns the process exit code (0, or 1 after printing an error). */
export async function dispatch(plugin: Plugin, io: PluginIO, buildVersion = 'version unknown'): Promise<number> {
  const command = io.env.CNI_COMMAND ?? '';
  try {
    if (command === '') {
      io.stderr(aboutText(plugin, buildVersion));
      return 0;
    }
    if (command === 'VERSION') {
      io.stdout(`${goJsonCompact({ cniVersion: CURRENT_VERSION, supportedVersions: plugin.versions })}\n`);
      return 0;
    }
    if (!(COMMANDS as readonly string[]).includes(command)) {
      throw new CniError(
        ErrorCode.invalidEnvironment,
        `unknown CNI_COMMAND: ${command}`,
        `CNI_COMMAND must be one of ADD, DEL, CHECK, GC, STATUS, VERSION`,
      );
    }
    await run(plugin, command as Command, io);
    return 0;
  } catch (err) {
    const e = toCniError(err);
    io.stdout(goJson(e.toJSON()));
    if (debugOn(io.env.CNI_TS_DEBUG) && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
    return 1;
  }
}

async function run(plugin: Plugin, command: Command, io: PluginIO): Promise<void> {
  const args = readCmdArgs(command, (k) => io.env[k]);
  const stdin = io.readStdin();
  const conf = decodeNetConf(stdin);
  negotiate(command, conf.cniVersion, plugin.versions);
  if (command !== 'GC' && command !== 'STATUS' && args.netns && !args.netnsOverride) {
    if ((io.probeNetns ?? probeNetns)(args.netns) === 'self') {
      throw new CniError(
        ErrorCode.invalidNetns,
        "plugin's netns and netns from CNI_NETNS should not be the same",
        `CNI_NETNS=${args.netns} is the namespace the plugin runs in; the runtime must pass the container's netns`,
      );
    }
  }
  const decodePrev = await prevResultDecoder(conf);
  const ctx = withLazyPrevResult(
    {
      command,
      args,
      conf,
      stdin,
      env: io.env,
      exec: io.exec,
      log: (msg) => io.stderr(`${plugin.name}: ${msg}\n`),
    },
    decodePrev,
  );
  switch (command) {
    case 'ADD': {
      const result = await plugin.add(ctx);
      let text: string;
      try {
        text = formatResult(result, conf.cniVersion);
      } catch (e) {
        await undoAdd(plugin, ctx);
        throw e;
      }
      io.stdout(text);
      return;
    }
    case 'DEL':
      return plugin.del(ctx);
    case 'CHECK':
      return plugin.check?.(ctx);
    case 'GC':
      return plugin.gc?.(ctx);
    case 'STATUS':
      return plugin.status?.(ctx);
  }
}

// A result that cannot be printed fails the ADD, so what the ADD did is taken back with the
// plugin's own DEL (plugins refuse such ADDs before changing anything; this is the safety net).
async function undoAdd(plugin: Plugin, ctx: Context): Promise<void> {
  // copied by descriptors, so the lazy prevResult stays lazy (a spread would decode it here)
  const del = Object.defineProperties({}, Object.getOwnPropertyDescriptors(ctx)) as Context;
  del.command = 'DEL';
  try {
    await plugin.del(del);
  } catch (e) {
    ctx.log(`undoing the ADD whose result could not be printed failed: ${(e as Error).message}`);
  }
}

/** CNI_TS_DEBUG turns on stack traces on stderr: 1/true/yes in any case; unset, empty, 0, false and no leave them off. */
export function debugOn(v: string | undefined): boolean {
  return /^(1|true|yes|on)$/i.test(v ?? '');
}
