// The protocol driver: env and stdin in, one result or one coded error out. All I/O is injected,
// so the whole protocol is tested without processes.
import { type Executor, probeNetns } from '@cni-ts/process';
import { CniError, CURRENT_VERSION, ErrorCode, formatResult, goJson, goJsonCompact, toCniError } from '@cni-ts/types';
import { COMMANDS, type Command, readCmdArgs } from './env.js';
import { decodeNetConf, decodePrevResult } from './netconf.js';
import { negotiate } from './negotiate.js';
import { type Plugin, withLazyPrevResult } from './plugin.js';

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
    () => decodePrevResult(conf),
  );
  switch (command) {
    case 'ADD': {
      const result = await plugin.add(ctx);
      io.stdout(formatResult(result, conf.cniVersion));
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

/** CNI_TS_DEBUG turns on stack traces on stderr: 1/true/yes in any case; unset, empty, 0, false and no leave them off. */
export function debugOn(v: string | undefined): boolean {
  return /^(1|true|yes|on)$/i.test(v ?? '');
}
