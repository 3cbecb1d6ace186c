// The test kit's runtime: runs a network configuration list the way a container runtime does,
// through @cni-ts/libcni (upstream libcni's behaviour: plugins in order on ADD with prevResult
// chaining, in reverse on DEL with the cached result, capability args as runtimeConfig, GC and
// STATUS for the whole list, results cached in libcni's format), with plugins run inside the
// test's node namespace and only the system PATH in their environment.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  CniConfig,
  type CniResult,
  MultiError,
  type NetworkConfigList,
  RawExec,
  type RuntimeConf,
  confListFromObject,
  encodeResult,
  pluginErrorOf,
} from '@cni-ts/libcni';
import { SYSTEM_PATH } from './paths.js';
import type { PluginOutcome } from './runtime.js';

/** A conflist as an operator writes it. */
export interface ConfList {
  cniVersion: string;
  cniVersions?: string[];
  name: string;
  disableCheck?: boolean;
  disableGC?: boolean;
  plugins: Array<Record<string, unknown> & { type: string; capabilities?: Record<string, boolean> }>;
}

/** One attachment: a sandbox's interface on this network. */
export interface Attachment {
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS, e.g. "IgnoreUnknown=1;K8S_POD_NAME=web". */
  cniArgs?: string;
  /** Runtime capability arguments (portMappings, bandwidth, ips, mac, …). */
  capabilityArgs?: Record<string, unknown>;
}

/** A plugin invocation that failed: carries the CNI error the plugin printed. */
export class PluginFailure extends Error {
  constructor(
    readonly type: string,
    readonly command: string,
    readonly outcome: PluginOutcome,
    options?: { cause?: unknown },
  ) {
    super(`${type} ${command} failed (exit ${outcome.exitCode}): ${outcome.stdout || outcome.stderr}`, options);
  }
}

/** Where plugins live and where the runtime itself runs. */
export interface RuntimeOptions {
  /** CNI_PATH directories; the first one holding a plugin type runs it, as libcni's FindInPath. */
  cniPath: string[];
  /** Run plugins inside this named netns (the test node), as `ip netns exec` does. */
  inNetns?: string;
  /** The result cache directory (default: a temporary one, removed when the process exits). */
  cacheDir?: string;
  /** Kill a plugin run after this long (default 60 s). */
  timeoutMs?: number;
  /**
   * Kept for tests written before the kit ran on @cni-ts/libcni: results now always travel as
   * upstream libcni passes them (re-marshalled through its result types, no prevResult on DEL
   * below 0.4.0), whatever this says. libcni ≥ 1.2, which we follow, differs from 1.1.2 only in
   * dropping an empty `dns` from 1.x results (see docs/libcni.md).
   */
  goLibcni?: boolean;
}

const tempDirs: string[] = [];
process.once('exit', () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

function tempCacheDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cts-cache-'));
  tempDirs.push(dir);
  return dir;
}

/** Executes conflists with @cni-ts/libcni; results are cached per attachment as libcni caches them. */
export class CniRuntime {
  /** The libcni instance doing the work (for tests that want its whole API). */
  readonly cni: CniConfig;
  private readonly exec: RawExec;

  constructor(private readonly opts: RuntimeOptions) {
    this.exec = new RawExec({
      env: { PATH: SYSTEM_PATH },
      prefix: opts.inNetns ? ['ip', 'netns', 'exec', opts.inNetns] : [],
      stderr: null,
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    });
    this.cni = new CniConfig({ path: opts.cniPath, cacheDir: opts.cacheDir ?? tempCacheDir(), exec: this.exec });
  }

  /** ADD every plugin in order; returns the final result as the JSON object libcni holds. */
  async add(list: ConfList, a: Attachment): Promise<any> {
    const r = await this.run('ADD', () => this.cni.addNetworkList(toList(list), toRuntime(a)));
    return r ? encodeResult(r) : undefined;
  }

  /** CHECK every plugin in order with the cached result (skipped when disableCheck). */
  async check(list: ConfList, a: Attachment): Promise<void> {
    await this.run('CHECK', () => this.cni.checkNetworkList(toList(list), toRuntime(a)));
  }

  /** DEL every plugin in reverse order with the cached result; forgets the attachment. */
  async del(list: ConfList, a: Attachment): Promise<void> {
    await this.run('DEL', () => this.cni.delNetworkList(toList(list), toRuntime(a)));
  }

  /**
   * GC as libcni does: DEL every cached attachment of this network that is not valid, then the
   * GC verb to every plugin with the valid attachments (spec 1.1.0).
   */
  async gc(list: ConfList, valid: Array<{ containerId: string; ifname: string }>): Promise<void> {
    const validAttachments = valid.map((v) => ({ containerID: v.containerId, ifname: v.ifname }));
    await this.run('GC', () => this.cni.gcNetworkList(toList(list), { validAttachments }));
  }

  /** Only the GC verb, to every plugin (no DEL of cached attachments): what a plugin's own GC must clean. */
  async gcPlugins(list: ConfList, valid: Array<{ containerId: string; ifname: string }>): Promise<void> {
    const bare = new CniConfig({ path: this.opts.cniPath, cacheDir: tempCacheDir(), exec: this.exec });
    const validAttachments = valid.map((v) => ({ containerID: v.containerId, ifname: v.ifname }));
    await this.run('GC', () => bare.gcNetworkList(toList(list), { validAttachments }));
  }

  /** STATUS of every plugin; throws on the first that is not ready. */
  async status(list: ConfList): Promise<void> {
    await this.run('STATUS', () => this.cni.getStatusNetworkList(toList(list)));
  }

  /** The result cached for an attachment, as the JSON object libcni would hand back. */
  cachedResult(list: ConfList, a: Attachment): any {
    const r = this.cni.getNetworkListCachedResult(toList(list), toRuntime(a));
    return r ? encodeResult(r) : undefined;
  }

  // turns libcni's errors into the kit's PluginFailure (type, command and what the plugin printed)
  private async run<T>(command: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      const first = e instanceof MultiError ? e.errors[0] : e;
      const pe = pluginErrorOf(first);
      const run = pe?.run;
      const json = run ? parseJson(run.stdout) : undefined;
      const type = run ? basename(run.path) : (/type="([^"]+)"/.exec(String((e as Error).message))?.[1] ?? '?');
      const outcome: PluginOutcome = run
        ? { exitCode: run.exitCode ?? -1, stdout: run.stdout, stderr: run.stderr, json }
        : { exitCode: -1, stdout: '', stderr: (e as Error).message, json: undefined };
      throw new PluginFailure(type, run?.command || command, outcome, { cause: e });
    }
  }
}

function toList(list: ConfList): NetworkConfigList {
  return confListFromObject(list);
}

function toRuntime(a: Attachment): RuntimeConf {
  const rt: RuntimeConf = { containerID: a.containerId, netns: a.netns, ifName: a.ifname };
  if (a.cniArgs) rt.args = a.cniArgs.split(';').map((kv) => splitPair(kv));
  if (a.capabilityArgs) rt.capabilityArgs = a.capabilityArgs;
  return rt;
}

function splitPair(kv: string): [string, string] {
  const i = kv.indexOf('=');
  return i < 0 ? [kv, ''] : [kv.slice(0, i), kv.slice(i + 1)];
}

function parseJson(s: string): unknown {
  try {
    return s ? JSON.parse(s) : undefined;
  } catch {
    return undefined;
  }
}

/** The runtimeConfig a plugin gets: capability args it declared with capabilities[key] == true. */
export function runtimeConfig(
  caps: Record<string, boolean> | undefined,
  args: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (!caps || !args) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) if (caps[k]) out[k] = v;
  return Object.keys(out).length ? out : undefined;
}

export type { CniResult };
