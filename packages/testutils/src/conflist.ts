// A small libcni: runs a network configuration list the way a container runtime does — plugins
// in order on ADD with prevResult chaining, in reverse on DEL with the cached result, runtime
// capability args injected as runtimeConfig, and GC/STATUS for the whole list.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { libcniReshape } from './libcni-shapes.js';
import { type PluginOutcome, execPlugin } from './runtime.js';

/** A conflist as an operator writes it. */
export interface ConfList {
  cniVersion: string;
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
  ) {
    super(`${type} ${command} failed (exit ${outcome.exitCode}): ${outcome.stdout || outcome.stderr}`);
  }
}

/** Where plugins live and where the runtime itself runs. */
export interface RuntimeOptions {
  /** CNI_PATH directories; the first one holding a plugin type runs it, as libcni's FindInPath. */
  cniPath: string[];
  /** Run plugins inside this named netns (the test node). */
  inNetns?: string;
  /**
   * Pass results on as upstream libcni v1.1.2 does: re-marshalled through its Go result types
   * (`libcniReshape`: a 0.x IP without `version` gets `"version": ""`), and no prevResult on DEL
   * below cniVersion 0.4.0. Off by default: results travel as the plugin printed them.
   */
  goLibcni?: boolean;
}

/** Executes conflists like libcni; keeps the last ADD result per attachment, as libcni's cache does. */
export class CniRuntime {
  private readonly cache = new Map<string, unknown>();

  constructor(private readonly opts: RuntimeOptions) {}

  /** ADD every plugin in order; returns the final result (as JSON). */
  async add(list: ConfList, a: Attachment): Promise<any> {
    let prev: unknown;
    for (const p of list.plugins) {
      const r = await this.call(list, p, 'ADD', a, prev);
      prev = this.opts.goLibcni ? libcniReshape(r.json, list.cniVersion) : r.json;
    }
    this.cache.set(this.key(list, a), prev);
    return prev;
  }

  /** CHECK every plugin in order with the cached result (skipped when disableCheck). */
  async check(list: ConfList, a: Attachment): Promise<void> {
    if (list.disableCheck) return;
    const prev = this.cache.get(this.key(list, a));
    for (const p of list.plugins) await this.call(list, p, 'CHECK', a, prev);
  }

  /** DEL every plugin in reverse order with the cached result; forgets the attachment. */
  async del(list: ConfList, a: Attachment): Promise<void> {
    const cached = this.cache.get(this.key(list, a));
    const prev = this.opts.goLibcni && !/^(1|0\.4)\./.test(list.cniVersion) ? undefined : cached;
    for (const p of [...list.plugins].reverse()) await this.call(list, p, 'DEL', a, prev);
    this.cache.delete(this.key(list, a));
  }

  /** GC: tell every plugin which attachments are still valid (spec 1.1.0). */
  async gc(list: ConfList, valid: Array<{ containerId: string; ifname: string }>): Promise<void> {
    if (list.disableGC) return;
    const attachments = valid.map((v) => ({ containerID: v.containerId, ifname: v.ifname }));
    for (const p of list.plugins) {
      const conf = { ...this.pluginConf(list, p), 'cni.dev/valid-attachments': attachments };
      const r = await execPlugin({
        plugin: this.find(p.type),
        command: 'GC',
        config: conf,
        cniPath: this.opts.cniPath,
        inNetns: this.opts.inNetns,
      });
      if (r.exitCode !== 0) throw new PluginFailure(p.type, 'GC', r);
    }
  }

  /** STATUS of every plugin; throws on the first that is not ready. */
  async status(list: ConfList): Promise<void> {
    for (const p of list.plugins) {
      const r = await execPlugin({
        plugin: this.find(p.type),
        command: 'STATUS',
        config: this.pluginConf(list, p),
        cniPath: this.opts.cniPath,
        inNetns: this.opts.inNetns,
      });
      if (r.exitCode !== 0) throw new PluginFailure(p.type, 'STATUS', r);
    }
  }

  private async call(
    list: ConfList,
    p: ConfList['plugins'][number],
    command: string,
    a: Attachment,
    prev: unknown,
  ): Promise<PluginOutcome> {
    const conf: Record<string, unknown> = this.pluginConf(list, p);
    const rc = runtimeConfig(p.capabilities, a.capabilityArgs);
    if (rc) conf.runtimeConfig = rc;
    if (prev !== undefined && prev !== null) conf.prevResult = prev;
    const r = await execPlugin({
      plugin: this.find(p.type),
      command,
      config: conf,
      containerId: a.containerId,
      netns: a.netns,
      ifname: a.ifname,
      cniArgs: a.cniArgs,
      cniPath: this.opts.cniPath,
      inNetns: this.opts.inNetns,
    });
    if (r.exitCode !== 0) throw new PluginFailure(p.type, command, r);
    return r;
  }

  private pluginConf(list: ConfList, p: ConfList['plugins'][number]): Record<string, unknown> {
    return { ...p, cniVersion: list.cniVersion, name: list.name };
  }

  private find(type: string): string {
    for (const dir of this.opts.cniPath) if (existsSync(join(dir, type))) return join(dir, type);
    throw new Error(`plugin ${type} not found in ${this.opts.cniPath.join(':')}`);
  }

  private key(list: ConfList, a: Attachment): string {
    return `${list.name}-${a.containerId}-${a.ifname}`;
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
