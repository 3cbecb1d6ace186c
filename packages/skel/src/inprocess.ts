// In-process delegation. When a plugin's delegate (bridge's IPAM) resolves on CNI_PATH to this
// very executable — the same inode as /proc/self/exe, as every plugin of the multi-call binary
// is — exec'ing it would start the same program again to run a function we already carry. We call
// that function instead, through the same protocol driver the exec'd process would run (dispatch),
// with the delegate's environment and stdin, and read back its stdout, stderr and exit status
// exactly as from a process; so its answer, its errors and the undo contract of delegateAdd
// cannot differ. Anything else on CNI_PATH (another file, a Go plugin, a name we do not carry) is
// exec'd. docs/performance.md has the figures.
import { type Executor, fs } from '@cni-ts/process';
import { dispatch } from './dispatch.js';
import type { Plugin, PluginSource } from './plugin.js';

interface Registry {
  plugins: Readonly<Record<string, PluginSource>>;
  self: string;
  identity?: { dev: number; ino: number } | null;
}

let registry: Registry | undefined;
let running = 0;

/**
 * Declares the plugins this executable carries (the multi-call table: plugins, or functions that
 * load them), so a delegate that is this executable runs in-process. `self` is the executable's
 * path (tests give another file). Nothing is read until a delegate is looked up.
 */
export function registerInProcess(plugins: Readonly<Record<string, PluginSource>>, self = '/proc/self/exe'): void {
  registry = { plugins, self };
}

/** Forgets the registration (tests). */
export function unregisterInProcess(): void {
  registry = undefined;
}

/**
 * The plugin to run in-process for the delegate found at `file`, or undefined to exec it: when
 * `file` is this executable and is named after a plugin it carries (the name the exec'd process
 * would pick its plugin by). A delegate that delegates again is exec'd (one level in-process).
 */
export function inProcessPlugin(file: string): PluginSource | undefined {
  if (!registry || running > 0) return undefined;
  const name = file.slice(file.lastIndexOf('/') + 1);
  if (!Object.hasOwn(registry.plugins, name)) return undefined;
  if (registry.identity === undefined) registry.identity = identity(registry.self);
  const own = registry.identity;
  const it = identity(file);
  if (!own || !it || own.dev !== it.dev || own.ino !== it.ino) return undefined;
  return registry.plugins[name];
}

/** `inProcessPlugin`, with a plugin that is registered as a loader loaded. */
export async function loadInProcessPlugin(file: string): Promise<Plugin | undefined> {
  const source = inProcessPlugin(file);
  return typeof source === 'function' ? source() : source;
}

function identity(path: string): { dev: number; ino: number } | null {
  try {
    const st = fs().statSync(path);
    return st.isFile() ? { dev: Number(st.dev), ino: Number(st.ino) } : null;
  } catch {
    return null;
  }
}

/** What a delegate run produced, as from its process: exit status, stdout and stderr. */
export interface InProcessRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `plugin` as its own process would: env as its environment, stdin as fd 0, its output captured. */
export async function runInProcess(
  plugin: Plugin,
  env: Readonly<Record<string, string | undefined>>,
  stdin: string,
  exec: Executor,
): Promise<InProcessRun> {
  let stdout = '';
  let stderr = '';
  running += 1;
  try {
    const status = await dispatch(plugin, {
      env,
      readStdin: () => stdin,
      stdout: (s) => {
        stdout += s;
      },
      stderr: (s) => {
        stderr += s;
      },
      exec,
    });
    return { status, stdout, stderr };
  } finally {
    running -= 1;
  }
}
