// A tiny container runtime: execs a plugin the way libcni does, with CNI_* env and stdin.
import { execa } from 'execa';
import { SYSTEM_PATH } from './paths.js';

/** One plugin invocation. */
export interface PluginCall {
  /** Path of the plugin executable. */
  plugin: string;
  command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION' | string;
  /** The network config (object, or raw text to send as is). */
  config: unknown;
  containerId?: string;
  netns?: string;
  ifname?: string;
  cniArgs?: string;
  /** CNI_PATH directories (default: the plugin's own directory). */
  cniPath?: string[];
  /** Run the plugin inside this named netns (the test "node"), as `ip netns exec` does. */
  inNetns?: string;
  /** Extra or replacement environment (undefined deletes a variable). */
  env?: Record<string, string | undefined>;
  /** argv[0] for the plugin (libcni passes the full path). */
  timeoutMs?: number;
}

/** What the plugin did. */
export interface PluginOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON, when it is JSON. */
  json: any;
}

/** Runs a plugin like a runtime would and collects its exit code and output. */
export async function execPlugin(call: PluginCall): Promise<PluginOutcome> {
  const dir = call.plugin.slice(0, call.plugin.lastIndexOf('/'));
  const env: Record<string, string> = { PATH: SYSTEM_PATH };
  const set = (k: string, v: string | undefined) => {
    if (v !== undefined) env[k] = v;
  };
  set('CNI_COMMAND', call.command);
  set('CNI_CONTAINERID', call.containerId);
  set('CNI_NETNS', call.netns);
  set('CNI_IFNAME', call.ifname);
  set('CNI_ARGS', call.cniArgs);
  set('CNI_PATH', (call.cniPath ?? [dir]).join(':'));
  for (const [k, v] of Object.entries(call.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const input = typeof call.config === 'string' ? call.config : JSON.stringify(call.config);
  const [file, args] = call.inNetns ? ['ip', ['netns', 'exec', call.inNetns, call.plugin]] : [call.plugin, []];
  const r = await execa(file, args as string[], {
    env,
    extendEnv: false,
    input,
    reject: false,
    timeout: call.timeoutMs ?? 60_000,
    stripFinalNewline: false,
  });
  let json: unknown;
  try {
    json = r.stdout ? JSON.parse(r.stdout) : undefined;
  } catch {
    json = undefined;
  }
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, json };
}
