// The runtime API, as upstream libcni's CNIConfig: run a network's plugins for ADD (in order,
// each getting the previous result), CHECK and DEL (DEL in reverse, with the cached result), GC
// (DEL for every cached attachment no longer valid, then GC to each plugin) and STATUS, with the
// request config built per plugin exactly as libcni builds it and the result cached as it does.
import {
  type NetworkAttachment,
  type RuntimeConf,
  DEFAULT_CACHE_DIR,
  cachedAttachments,
  cachedConfig,
  cachedResult,
  deleteCache,
  writeCache,
} from './cache.js';
import {
  type NetworkConfigList,
  type PluginConf,
  type PluginConfig,
  pluginConfFromBytes,
  pluginObject,
} from './conf.js';
import { MultiError, NetworkError } from './errors.js';
import { type Exec, type ExecCallOptions, RawExec } from './exec.js';
import { type JsonObject, marshalMapWith, parseObject } from './gojson.js';
import { type CniResult, decodeResult, encodeResult } from './result.js';
import { validateContainerID, validateIfName, validateNetworkName } from './validate.js';
import { CURRENT_VERSION, type PluginInfo, decodePluginInfo, versionAtLeast } from './version.js';

/** How a CniConfig finds, runs and remembers plugins. */
export interface CniConfigOptions {
  /** CNI_PATH: the directories plugins are looked up in, in order. */
  path: readonly string[];
  /** Where results are cached (default /var/lib/cni; files go under <cacheDir>/results). */
  cacheDir?: string;
  /** How plugins are started (default: a RawExec with this process's environment). */
  exec?: Exec;
}

/** An attachment GC must keep (spec 1.1.0 `cni.dev/valid-attachments`). */
export interface GCAttachment {
  containerID: string;
  ifname: string;
}

/** The arguments of a GC. */
export interface GCArgs {
  validAttachments: GCAttachment[];
}

/** Options of one operation. */
export interface CallOptions extends ExecCallOptions {
  /**
   * DEL only (a cni-ts extension; libcni stops at the first failing plugin): run every plugin's
   * DEL even after one fails and throw all failures at the end. The cache file is removed only
   * when every DEL succeeded, so a retry still gets the cached result. For cleaning up after a
   * failed ADD, whose failing plugin often fails its DEL the same way.
   */
  bestEffort?: boolean;
}

/** Runs network configurations against plugins, as a container runtime does. */
export class CniConfig {
  readonly path: readonly string[];
  readonly cacheDir: string;
  readonly exec: Exec;

  constructor(opts: CniConfigOptions) {
    this.path = opts.path;
    this.cacheDir = opts.cacheDir ?? DEFAULT_CACHE_DIR;
    this.exec = opts.exec ?? new RawExec();
  }

  /** ADD: every plugin in order, each given the previous one's result; caches and returns the last result. */
  async addNetworkList(list: NetworkConfigList, rt: RuntimeConf, opts?: CallOptions): Promise<CniResult | undefined> {
    let result: CniResult | undefined;
    for (const p of list.plugins) {
      try {
        result = await this.addPlugin(list.name, list.cniVersion, p, result, rt, opts);
      } catch (e) {
        throw new NetworkError(`plugin ${describe(p.network)} failed (add)`, e);
      }
    }
    try {
      writeCache(this.cacheDir, result, list.bytes, list.name, rt);
    } catch (e) {
      throw new NetworkError(`failed to set network "${list.name}" cached result`, e);
    }
    return result;
  }

  /** CHECK: every plugin in order with the cached result (nothing when disableCheck; an error before 0.4.0). */
  async checkNetworkList(list: NetworkConfigList, rt: RuntimeConf, opts?: CallOptions): Promise<void> {
    requireCheck(list.cniVersion);
    if (list.disableCheck) return;
    let prev: CniResult | undefined;
    try {
      prev = cachedResult(this.cacheDir, list.name, list.cniVersion, rt);
    } catch (e) {
      throw new NetworkError(`failed to get network "${list.name}" cached result`, e);
    }
    for (const p of list.plugins) await this.runPlugin('CHECK', list.name, list.cniVersion, p, prev, rt, opts);
  }

  /** DEL: every plugin in reverse order with the cached result (0.4.0+), then forgets the attachment. */
  async delNetworkList(list: NetworkConfigList, rt: RuntimeConf, opts?: CallOptions): Promise<void> {
    const prev = this.cachedForDel(list.name, list.cniVersion, rt);
    const errors: Error[] = [];
    for (const p of [...list.plugins].reverse()) {
      try {
        await this.runPlugin('DEL', list.name, list.cniVersion, p, prev, rt, opts);
      } catch (e) {
        const err = new NetworkError(`plugin ${describe(p.network)} failed (delete)`, e);
        if (!opts?.bestEffort) throw err;
        errors.push(err);
      }
    }
    if (errors.length) throw errors.length === 1 ? errors[0] : new MultiError(errors);
    deleteCache(this.cacheDir, list.name, rt);
  }

  /** ADD of a single plugin config (AddNetwork); cached under the config's own name. */
  async addNetwork(conf: PluginConfig, rt: RuntimeConf, opts?: CallOptions): Promise<CniResult | undefined> {
    const name = conf.network.name ?? '';
    const result = await this.addPlugin(name, conf.network.cniVersion ?? '', conf, undefined, rt, opts);
    try {
      writeCache(this.cacheDir, result, conf.bytes, name, rt);
    } catch (e) {
      throw new NetworkError(`failed to set network "${name}" cached result`, e);
    }
    return result;
  }

  /** CHECK of a single plugin config. */
  async checkNetwork(conf: PluginConfig, rt: RuntimeConf, opts?: CallOptions): Promise<void> {
    const name = conf.network.name ?? '';
    const version = conf.network.cniVersion ?? '';
    requireCheck(version);
    let prev: CniResult | undefined;
    try {
      prev = cachedResult(this.cacheDir, name, version, rt);
    } catch (e) {
      throw new NetworkError(`failed to get network "${name}" cached result`, e);
    }
    await this.runPlugin('CHECK', name, version, conf, prev, rt, opts);
  }

  /** DEL of a single plugin config. */
  async delNetwork(conf: PluginConfig, rt: RuntimeConf, opts?: CallOptions): Promise<void> {
    const name = conf.network.name ?? '';
    const version = conf.network.cniVersion ?? '';
    await this.runPlugin('DEL', name, version, conf, this.cachedForDel(name, version, rt), rt, opts);
    deleteCache(this.cacheDir, name, rt);
  }

  /**
   * GC: a DEL of the whole list for every cached attachment of this network that is not in
   * `args.validAttachments` (without args, none is valid — as cnitool calls it), then, from
   * 1.1.0, GC to every plugin with the valid attachments. Goes on after errors and reports them all.
   */
  async gcNetworkList(list: NetworkConfigList, args?: GCArgs, opts?: CallOptions): Promise<void> {
    if (list.disableGC) return;
    const errors: Error[] = [];
    let cached: NetworkAttachment[] = [];
    try {
      cached = cachedAttachments(this.cacheDir);
    } catch {
      return; // libcni gives up silently when the cache cannot be listed
    }
    const valid = new Set((args?.validAttachments ?? []).map((a) => `${a.containerID}\u0000${a.ifname}`));
    for (const a of cached) {
      if (a.network !== list.name || valid.has(`${a.containerID}\u0000${a.ifName}`)) continue;
      const rt: RuntimeConf = { containerID: a.containerID, netns: a.netns, ifName: a.ifName };
      if (a.cniArgs) rt.args = a.cniArgs;
      if (a.capabilityArgs) rt.capabilityArgs = a.capabilityArgs;
      try {
        await this.delNetworkList(list, rt, opts);
      } catch (e) {
        errors.push(new NetworkError(`failed to delete stale attachment ${a.containerID} ${a.ifName}`, e));
      }
    }
    if (versionAtLeastSafe(list.cniVersion, '1.1.0')) {
      const inject: JsonObject = { name: list.name, cniVersion: list.cniVersion };
      if (args) {
        const attachments = args.validAttachments.map((a) => ({ containerID: a.containerID, ifname: a.ifname }));
        inject['cni.dev/valid-attachments'] = attachments;
        inject['cni.dev/attachments'] = attachments; // the spec's first name for it, still read by some plugins
      }
      for (const p of list.plugins) {
        try {
          await this.runRaw('GC', injectConf(p, inject), p, emptyRuntime(), opts);
        } catch (e) {
          errors.push(new NetworkError(`failed to GC plugin ${p.network.type}`, e));
        }
      }
    }
    if (errors.length) throw new MultiError(errors);
  }

  /** STATUS of every plugin (1.1.0+; older lists have no STATUS and succeed); stops at the first that is not ready. */
  async getStatusNetworkList(list: NetworkConfigList, opts?: CallOptions): Promise<void> {
    if (!versionAtLeastSafe(list.cniVersion, '1.1.0')) return;
    const inject = { name: list.name, cniVersion: list.cniVersion };
    for (const p of list.plugins) await this.runRaw('STATUS', injectConf(p, inject), p, emptyRuntime(), opts);
  }

  /** The cached result of an attachment, in the list's version (undefined when none is cached). */
  getNetworkListCachedResult(list: NetworkConfigList, rt: RuntimeConf): CniResult | undefined {
    return cachedResult(this.cacheDir, list.name, list.cniVersion, rt);
  }

  /** The list bytes and runtime arguments an attachment was added with. */
  getNetworkListCachedConfig(
    list: NetworkConfigList,
    rt: RuntimeConf,
  ): { config: Buffer; rt: RuntimeConf } | undefined {
    return cachedConfig(this.cacheDir, list.name, rt);
  }

  /** Every cached attachment (of one container when containerID is given). */
  getCachedAttachments(containerID = ''): NetworkAttachment[] {
    return cachedAttachments(this.cacheDir, containerID);
  }

  /** Asks a plugin which spec versions it supports (VERSION); a plugin older than VERSION supports 0.1.0. */
  async getVersionInfo(pluginType: string, opts?: CallOptions): Promise<PluginInfo> {
    const path = this.exec.findInPath(pluginType, this.path);
    const env = cniEnv('VERSION', { containerID: '', netns: 'dummy', ifName: 'dummy' }, 'dummy');
    const stdin = Buffer.from(JSON.stringify({ cniVersion: CURRENT_VERSION }));
    let out: string;
    try {
      out = await this.exec.execPlugin(path, stdin, env, opts);
    } catch (e) {
      if (e instanceof Error && e.message === 'unknown CNI_COMMAND: VERSION')
        return { cniVersion: CURRENT_VERSION, supportedVersions: ['0.1.0'] };
      throw e;
    }
    return decodePluginInfo(out);
  }

  /**
   * Checks that every plugin of the list exists and supports the list's version; returns the
   * capabilities the list declares (sorted). Reports every plugin that fails, not just the first.
   */
  async validateNetworkList(list: NetworkConfigList, opts?: CallOptions): Promise<string[]> {
    const caps = new Set<string>();
    const errors: Error[] = [];
    for (const p of list.plugins) {
      try {
        await this.validatePlugin(p.network.type, list.cniVersion, opts);
      } catch (e) {
        errors.push(e as Error);
      }
      for (const [c, on] of Object.entries(p.network.capabilities ?? {})) if (on) caps.add(c);
    }
    if (errors.length) throw new MultiError(errors);
    return [...caps].sort();
  }

  /** Like validateNetworkList for a single plugin config. */
  async validateNetwork(conf: PluginConfig, opts?: CallOptions): Promise<string[]> {
    await this.validatePlugin(conf.network.type, conf.network.cniVersion ?? '', opts);
    return Object.entries(conf.network.capabilities ?? {})
      .filter(([, on]) => on)
      .map(([c]) => c)
      .sort();
  }

  private async validatePlugin(type: string, version: string, opts?: CallOptions): Promise<void> {
    const expected = version || '0.1.0';
    const info = await this.getVersionInfo(type, opts);
    if (!info.supportedVersions.includes(expected))
      throw new Error(`plugin ${type} does not support config version "${expected}"`);
  }

  // libcni 1.2+: an unreadable cached result is dropped and DEL goes on without prevResult
  private cachedForDel(name: string, version: string, rt: RuntimeConf): CniResult | undefined {
    if (!versionAtLeastSafe(version, '0.4.0', true)) return undefined;
    try {
      return cachedResult(this.cacheDir, name, version, rt);
    } catch {
      deleteCache(this.cacheDir, name, rt);
      return undefined;
    }
  }

  private async addPlugin(
    name: string,
    version: string,
    p: PluginConfig,
    prev: CniResult | undefined,
    rt: RuntimeConf,
    opts?: CallOptions,
  ): Promise<CniResult> {
    const path = this.exec.findInPath(p.network.type, this.path);
    validateContainerID(rt.containerID);
    validateNetworkName(name);
    validateIfName(rt.ifName);
    const stdin = buildOneConfig(name, version, p, prev, rt);
    const out = await this.exec.execPlugin(path, stdin, cniEnv('ADD', rt, this.path.join(':')), opts);
    return resultFromStdout(stdin, out);
  }

  private async runPlugin(
    command: 'CHECK' | 'DEL',
    name: string,
    version: string,
    p: PluginConfig,
    prev: CniResult | undefined,
    rt: RuntimeConf,
    opts?: CallOptions,
  ): Promise<void> {
    await this.runRaw(command, buildOneConfig(name, version, p, prev, rt), p, rt, opts);
  }

  private async runRaw(
    command: string,
    stdin: Buffer,
    p: PluginConfig,
    rt: RuntimeConf,
    opts?: CallOptions,
  ): Promise<void> {
    const path = this.exec.findInPath(p.network.type, this.path);
    await this.exec.execPlugin(path, stdin, cniEnv(command, rt, this.path.join(':')), opts);
  }
}

/** The stdin a plugin gets: its config with the list's name and version, prevResult and runtimeConfig injected (libcni's buildOneConfig). */
export function buildOneConfig(
  name: string,
  cniVersion: string,
  p: PluginConfig,
  prev: CniResult | undefined,
  rt: RuntimeConf | undefined,
): Buffer {
  const inject: JsonObject = { name, cniVersion };
  if (prev) inject.prevResult = encodeResult(prev);
  let conf = injectConf(p, inject, KEEP_ORDER);
  if (rt) {
    const rc: JsonObject = {};
    for (const [cap, on] of Object.entries(p.network.capabilities ?? {}))
      if (on && rt.capabilityArgs && Object.hasOwn(rt.capabilityArgs, cap)) rc[cap] = rt.capabilityArgs[cap];
    // a second InjectConf: the whole config, prevResult included, goes through a Go map (keys sorted)
    if (Object.keys(rc).length) conf = injectConf(pluginConfFromBytes(conf), { runtimeConfig: rc });
  }
  return conf;
}

const KEEP_ORDER: ReadonlySet<string> = new Set(['prevResult']);
const NONE: ReadonlySet<string> = new Set();

/**
 * Sets top-level keys of a plugin config and re-marshals it as libcni's InjectConf does: the
 * config is a Go map (keys sorted at every level) except the values named in `keepOrder`, which
 * Go marshals from their structs (a prevResult in its version's field order).
 */
export function injectConf(p: PluginConfig, values: JsonObject, keepOrder: ReadonlySet<string> = NONE): Buffer {
  const obj = pluginObject(p);
  for (const [k, v] of Object.entries(values)) {
    if (k === '') throw new Error('keys cannot be empty');
    if (v === null || v === undefined) throw new Error(`key '${k}' value must not be nil`);
    obj[k] = v;
  }
  const out = Buffer.from(marshalMapWith(obj, keepOrder));
  pluginConfFromBytes(out); // libcni re-decodes what it built
  return out;
}

// ExecPluginWithResult: a result without cniVersion is taken to be in the config's version
function resultFromStdout(stdin: Buffer, stdout: string): CniResult {
  const conf = JSON.parse(stdin.toString('utf8')) as { cniVersion?: unknown };
  const confVersion = typeof conf.cniVersion === 'string' && conf.cniVersion !== '' ? conf.cniVersion : '0.1.0';
  const raw: JsonObject = stdout.trim() === 'null' ? {} : parseObject(stdout, 'failed to unmarshal raw result');
  const v = raw.cniVersion;
  const version = typeof v === 'string' && v !== '' ? v : confVersion;
  if (version !== v) raw.cniVersion = version;
  return decodeResult(version, raw);
}

/** The CNI_* environment of one invocation (libcni's Args.AsEnv, on top of the inherited environment). */
export function cniEnv(
  command: string,
  rt: Pick<RuntimeConf, 'containerID' | 'netns' | 'ifName' | 'args'>,
  path: string,
): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: rt.containerID,
    CNI_NETNS: rt.netns,
    CNI_ARGS: (rt.args ?? []).map(([k, v]) => `${k}=${v}`).join(';'),
    CNI_IFNAME: rt.ifName,
    CNI_PATH: path,
  };
}

function emptyRuntime(): RuntimeConf {
  return { containerID: '', netns: '', ifName: '' };
}

function describe(net: PluginConf): string {
  return net.name ? `type="${net.type}" name="${net.name}"` : `type="${net.type}"`;
}

function requireCheck(version: string): void {
  if (!versionAtLeast(version, '0.4.0'))
    throw new Error(`configuration version "${version}" does not support the CHECK command`);
}

// a version that does not parse: libcni returns the parse error for DEL; GC and STATUS skip
function versionAtLeastSafe(version: string, min: string, rethrow = false): boolean {
  try {
    return versionAtLeast(version, min);
  } catch (e) {
    if (rethrow) throw e;
    return false;
  }
}
