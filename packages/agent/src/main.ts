#!/usr/bin/env node
// cni-ts-agent: the node agent of the DaemonSet.
//   cni-ts-agent [run] [--config FILE]                 keep this node configured (until SIGTERM)
//   cni-ts-agent uninstall [--config FILE] [--keep-binaries]
//   cni-ts-agent render --pod-cidrs A[,B] [--config FILE]   print the conflist for those CIDRs
// FILE defaults to $CNI_TS_AGENT_CONFIG or /etc/cni-ts/agent.yaml (a missing file means defaults).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemExecutor } from '@cni-ts/process';
import { Agent } from './agent.js';
import { libcniCollector } from './collect-libcni.js';
import { type AgentConfig, parseConfig } from './config.js';
import { conflistText, renderConflist } from './conflist.js';
import { criClient } from './cri.js';
import { GcScheduler } from './gc.js';
import { type Logger, jsonLogger } from './log.js';
import { agentMetrics } from './metrics.js';
import { kubeNodeSource, staticNodeSource } from './node-sources.js';
import { startServer } from './server.js';
import { uninstall } from './uninstall.js';

declare const __CNI_TS_VERSION__: string | undefined;

// the bundle has the version built in; tsc's output reads the package's
function version(): string {
  if (typeof __CNI_TS_VERSION__ === 'string') return __CNI_TS_VERSION__;
  return `v${JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version}`;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function loadConfig(args: string[], env: Record<string, string | undefined> = process.env): AgentConfig {
  const path = flag(args, '--config') ?? process.env.CNI_TS_AGENT_CONFIG ?? '/etc/cni-ts/agent.yaml';
  return parseConfig(existsSync(path) ? readFileSync(path, 'utf8') : '', env);
}

async function run(cfg: AgentConfig, log: Logger): Promise<void> {
  const metrics = agentMetrics();
  const nodes =
    cfg.nodes.source === 'static'
      ? staticNodeSource(cfg.nodes.file as string, log)
      : kubeNodeSource({ kubeconfig: cfg.nodes.kubeconfig, apiServer: cfg.nodes.apiServer }, log);
  const agent = new Agent(cfg, { exec: systemExecutor, log, metrics, nodes });
  const server = await startServer(cfg.metrics.address, metrics, {
    ready: () => agent.ready,
    problems: () => agent.problems,
  });
  log.info('serving /healthz, /readyz and /metrics', { address: cfg.metrics.address });
  let gc: GcScheduler | undefined;
  if (cfg.gc.enabled) {
    const confPath = join(cfg.cni.confDir, cfg.cni.confName);
    gc = new GcScheduler(
      {
        intervalMs: cfg.gc.intervalSeconds * 1000,
        graceMs: cfg.gc.graceSeconds * 1000,
        ifname: cfg.gc.ifname,
        network: cfg.conflist.name,
        dataDir: cfg.conflist.dataDir,
      },
      {
        lister: criClient(cfg.gc.criSocket, cfg.gc.timeoutSeconds * 1000),
        collect: libcniCollector(confPath, cfg.cni.binDir, cfg.gc.cacheDir),
        log: log.with({ component: 'gc' }),
        metrics,
      },
    );
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    await agent.stop();
    await gc?.stop();
    await new Promise((r) => server.close(r));
    server.closeAllConnections();
    log.info('stopped; the node keeps its routes, rules and conflist');
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  await agent.start();
  gc?.start();
}

async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  const command = first && !first.startsWith('-') ? first : 'run';
  const args = command === first ? rest : argv;
  if (args.includes('--version') || command === 'version') {
    process.stdout.write(`cni-ts-agent ${version()}
`);
    return;
  }
  // render needs no node: only the CIDRs given
  const cfg = loadConfig(args, command === 'render' ? { NODE_NAME: '-', ...process.env } : process.env);
  const log = jsonLogger({ level: cfg.logLevel, fields: { node: cfg.nodeName } });
  if (command === 'run') await run(cfg, log);
  else if (command === 'uninstall')
    uninstall(cfg, systemExecutor, log, { keepBinaries: args.includes('--keep-binaries') });
  else if (command === 'render') {
    const cidrs = (flag(args, '--pod-cidrs') ?? '').split(',').filter(Boolean);
    process.stdout.write(conflistText(renderConflist(cfg.conflist, cidrs)));
  } else throw new Error(`unknown command "${command}" (run, uninstall, render, version)`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: (e as Error).message })}\n`,
  );
  // the agent is no plugin: nothing waits on its stdout, and a half-started agent (a server
  // listening, a watch open) must not linger, so the process ends here
  process.exit(1);
});
