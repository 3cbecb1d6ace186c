// The agent's reconcile loop: whenever the node list changes (and every resync period), make this
// node match it — executables and conflist installed, routes to every other node's pod CIDRs,
// the masquerade chain. Passes never overlap; a failed step is logged, counted and retried on the
// next pass while the other steps still run.
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Executor } from '@cni-ts/process';
import { syncMasq } from './apply-masq.js';
import { syncRoutes } from './apply-routes.js';
import type { AgentConfig } from './config.js';
import { conflistText, pluginTypes, renderConflist } from './conflist.js';
import { installBinaries, installContent, listBinaries } from './install.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { NodeInfo, NodeSource } from './nodes.js';
import { planRoutes } from './plan-routes.js';
import { warmExecutables } from './warm.js';

/** What the agent needs from outside. */
export interface AgentDeps {
  exec: Executor;
  log: Logger;
  metrics: Metrics;
  nodes: NodeSource;
}

/** The node agent; `start` resolves once the first pass has run. */
export class Agent {
  private nodes: NodeInfo[] | undefined;
  private running: Promise<void> = Promise.resolve();
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** What the installed executables looked like after the last install (name → ino:size:mtime). */
  private installedStamp: string | undefined;
  private lastConflist: string | undefined;
  /** Whether the conflist's executables were warmed (once per agent process). */
  private warmed = false;
  /** The executables the last install wrote: fresh in the page cache, nothing to warm. */
  private justWritten: string[] = [];
  private lastRoutesKey: string | undefined;
  /** True once the conflist is installed and the last pass had no failed step. */
  ready = false;
  /** The last pass's failed steps, for /readyz. */
  problems: string[] = [];

  constructor(
    private readonly cfg: AgentConfig,
    private readonly deps: AgentDeps,
  ) {}

  async start(): Promise<void> {
    this.deps.log.info('agent starting', { node: this.cfg.nodeName, source: this.cfg.nodes.source });
    await this.deps.nodes.start((nodes) => {
      this.nodes = nodes;
      this.schedule();
    });
    this.timer = setInterval(() => this.schedule(), this.cfg.resyncSeconds * 1000);
    await this.idle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.deps.nodes.stop();
    await this.idle();
  }

  /** Resolves when no pass is running or queued. */
  async idle(): Promise<void> {
    while (true) {
      const r = this.running;
      await r;
      if (r === this.running && !this.pending) return;
    }
  }

  /** Queues a pass (at most one waits behind the running one). */
  schedule(): void {
    if (this.stopped || this.pending) return;
    this.pending = true;
    this.running = this.running.then(() => {
      this.pending = false;
      if (!this.stopped) this.pass();
    });
  }

  private pass(): void {
    const { log, metrics } = this.deps;
    const nodes = this.nodes;
    if (!nodes) return;
    metrics.set('nodes', nodes.length);
    const problems: string[] = [];
    const step = (name: string, fn: () => void) => {
      try {
        fn();
      } catch (e) {
        problems.push(`${name}: ${(e as Error).message}`);
        log.error(`${name} failed`, { error: e });
      }
    };
    const self = nodes.find((n) => n.name === this.cfg.nodeName);
    if (this.cfg.cni.installBinaries) step('installing the executables', () => this.installBinaries());
    if (!self) problems.push(`node ${this.cfg.nodeName} is not in the node list`);
    else {
      if (this.cfg.cni.warmExecutables && !this.warmed) this.warm(self);
      step('installing the conflist', () => this.installConflist(self));
    }
    if (this.cfg.routes.enabled) step('syncing routes', () => this.syncRoutes(nodes));
    if (this.cfg.masquerade.enabled) step('syncing the masquerade chain', () => this.syncMasq());
    const ready = problems.length === 0 && this.lastConflist !== undefined;
    if (ready !== this.ready || problems.join() !== this.problems.join())
      log.info(ready ? 'node ready' : 'node not ready', ready ? {} : { problems });
    this.ready = ready;
    this.problems = problems;
    metrics.set('ready', ready ? 1 : 0);
    metrics.inc('reconciles_total', 1, { result: problems.length ? 'error' : 'ok' });
  }

  // every pass: a stat of each installed file; hashes only when one changed (removed, replaced
  // by another installer) since the last install
  private installBinaries(): void {
    const { sourceBinDir, binDir, binaries } = this.cfg.cni;
    if (this.installedStamp !== undefined && this.installedStamp === stamp(binDir, sourceBinDir, binaries)) return;
    const written = installBinaries(sourceBinDir, binDir, binaries);
    this.justWritten = written;
    if (written.length) {
      this.deps.log.info('installed executables', { dir: binDir, written });
      this.deps.metrics.inc('binary_writes_total', written.length);
    }
    this.installedStamp = stamp(binDir, sourceBinDir, binaries);
  }

  // Once: a failure is logged and not retried (it costs start-up time per plugin, not function).
  private warm(self: NodeInfo): void {
    this.warmed = true;
    const { binDir } = this.cfg.cni;
    const t0 = performance.now();
    try {
      const types = pluginTypes(renderConflist(this.cfg.conflist, self.podCIDRs));
      const paths = types.filter((t) => !this.justWritten.includes(t)).map((t) => join(binDir, t));
      const warmed = warmExecutables(this.deps.exec, paths);
      const bytes = warmed.reduce((n, w) => n + w.bytes, 0);
      this.deps.metrics.inc('executable_warm_bytes_total', bytes);
      this.deps.log.info('warmed the executables', {
        files: warmed.map((w) => w.path),
        bytes,
        ms: Math.round(performance.now() - t0),
      });
    } catch (e) {
      this.deps.log.warn('could not warm the executables; plugins start as they are', { error: e });
    }
  }

  private installConflist(self: NodeInfo): void {
    const list = renderConflist(this.cfg.conflist, self.podCIDRs);
    const missing = pluginTypes(list).filter((t) => !isExecutable(join(this.cfg.cni.binDir, t)));
    if (missing.length)
      throw new Error(`not writing a conflist that needs ${missing.join(', ')}: not in ${this.cfg.cni.binDir}`);
    const text = conflistText(list);
    const path = join(this.cfg.cni.confDir, this.cfg.cni.confName);
    if (installContent(path, text) === 'written') {
      this.deps.log.info('wrote the conflist', { path, podCIDRs: self.podCIDRs });
      this.deps.metrics.inc('conflist_writes_total');
    }
    if (text !== this.lastConflist) this.warnShadowing();
    this.lastConflist = text;
  }

  // A runtime uses the first config file in name order; say so when another one comes first.
  private warnShadowing(): void {
    const first = readdirSync(this.cfg.cni.confDir)
      .filter((f) => /\.(conflist|conf|json)$/.test(f) && !f.startsWith('.'))
      .sort()[0];
    if (first && first !== this.cfg.cni.confName)
      this.deps.log.warn('another CNI config sorts before ours; the runtime will use it', {
        dir: this.cfg.cni.confDir,
        first,
        ours: this.cfg.cni.confName,
      });
  }

  private syncRoutes(nodes: NodeInfo[]): void {
    const { routes, skipped } = planRoutes(this.cfg.nodeName, nodes);
    const key = JSON.stringify(skipped);
    if (key !== this.lastRoutesKey && skipped.length)
      this.deps.log.warn('pod CIDRs that cannot be routed', { skipped });
    this.lastRoutesKey = key;
    const { commands, failed } = syncRoutes(this.deps.exec, routes, this.cfg.routes.protocol);
    const m = this.deps.metrics;
    m.set('routes', routes.filter((r) => !r.dst.includes(':')).length, { family: 'ipv4' });
    m.set('routes', routes.filter((r) => r.dst.includes(':')).length, { family: 'ipv6' });
    m.set('route_skipped', skipped.length);
    m.set('route_errors', failed.length);
    const applied = commands.length - failed.length;
    if (applied) {
      m.inc('route_changes_total', applied);
      this.deps.log.info('routes changed', { changes: commands.map((c) => c.join(' ')) });
    }
    // a peer that cannot be routed does not make this node unready (its pods still reach every
    // other node); it is logged and counted, and retried on every pass
    if (failed.length) this.deps.log.warn('routes the kernel refused; retrying on the next pass', { failed });
  }

  private syncMasq(): void {
    const { nonMasqueradeCIDRs, randomFully } = this.cfg.masquerade;
    const changed = syncMasq(this.deps.exec, { clusterCIDRs: this.cfg.clusterCIDRs, nonMasqueradeCIDRs, randomFully });
    if (changed.length) {
      this.deps.metrics.inc('masquerade_changes_total', changed.length);
      this.deps.log.info('masquerade chain updated', { families: changed.map((f) => `ipv${f}`) });
    }
  }
}

function stamp(binDir: string, sourceDir: string, only: readonly string[] | undefined): string {
  return listBinaries(sourceDir, only)
    .map((e) => {
      try {
        const st = statSync(join(binDir, e.name));
        return `${e.name}:${st.ino}:${st.size}:${st.mtimeMs}`;
      } catch {
        return `${e.name}:missing`;
      }
    })
    .join(' ');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
