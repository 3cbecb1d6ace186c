// Undoing everything the agent did on a node: the conflist, the routes of our protocol, the
// masquerade chain in both families and (unless kept) the executables that are still ours.
// Pods that still run keep their interfaces; new pods get no network until another CNI is there.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Executor } from '@cni-ts/process';
import { removeMasq } from './apply-masq.js';
import { syncRoutes } from './apply-routes.js';
import type { AgentConfig } from './config.js';
import { removeBinaries } from './install.js';
import type { Logger } from './log.js';

/** Removes what the agent installed; returns a summary of what was removed. */
export function uninstall(
  cfg: AgentConfig,
  exec: Executor,
  log: Logger,
  opts: { keepBinaries?: boolean } = {},
): { conflist: string; routes: number; masquerade: string[]; binaries: string[] } {
  const conflist = join(cfg.cni.confDir, cfg.cni.confName);
  rmSync(conflist, { force: true });
  const { commands, failed } = syncRoutes(exec, [], cfg.routes.protocol);
  if (failed.length)
    throw new Error(`removing routes failed: ${failed.map((f) => `${f.command}: ${f.error}`).join('; ')}`);
  const routes = commands.length;
  const masquerade = removeMasq(exec).map((f) => `ipv${f}`);
  const binaries =
    cfg.cni.installBinaries && !opts.keepBinaries
      ? removeBinaries(cfg.cni.sourceBinDir, cfg.cni.binDir, cfg.cni.binaries)
      : [];
  const summary = { conflist, routes, masquerade, binaries };
  log.info('uninstalled', summary);
  return summary;
}
