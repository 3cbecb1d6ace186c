// ADD: check every value and the node first (nothing is changed by a rejected ADD), then for each
// container address (IPv4 first) write its rules in one batch, enable route_localnet for IPv4
// hostPorts on 127.0.0.1 and flush stale UDP conntrack entries. A failure takes back the rules
// already written. prevResult is passed through unchanged.
import type { Context } from '@cni-ts/skel';
import { type Result, configError } from '@cni-ts/types';
import { readTables, setupFamily, teardownFamily } from './apply-iptables.js';
import { setupNft, teardownNft } from './apply-nft.js';
import { chooseBackend, kernelError } from './backend.js';
import { type PortmapConf, checkForBackend, loadConf } from './config.js';
import { flushUdp } from './conntrack.js';
import { type ContainerNet, containerNets } from './container.js';
import type { Host } from './host.js';
import { type Owner, type Tables, setupProblem } from './plan-iptables.js';
import { mappingsFor } from './values.js';

// Changes to take back when a later step fails, newest first; a failing undo is only logged.
class Undo {
  private readonly steps: Array<[string, () => void]> = [];
  constructor(private readonly log: (m: string) => void) {}
  push(what: string, run: () => void): void {
    this.steps.push([what, run]);
  }
  unwind(): void {
    for (const [what, run] of this.steps.reverse()) {
      try {
        run();
      } catch (e) {
        this.log(`undo of ${what} failed: ${(e as Error).message}`);
      }
    }
  }
}

/** The portmap plugin's ADD. */
export async function cmdAdd(host: Host, ctx: Context): Promise<Result> {
  const conf = loadConf(ctx);
  const prev = ctx.prevResult;
  if (!prev)
    throw configError(
      'must be called as chained plugin',
      'portmap needs the result of the plugin before it (prevResult): list it after the main plugin in a conflist',
    );
  if (conf.mappings.length === 0) return prev;
  if (conf.backend) checkForBackend(conf, conf.backend);
  const nets = containerNets(prev, ctx.args.ifname);
  if (nets.length === 0) {
    ctx.log(`prevResult has no address on ${ctx.args.ifname} in the sandbox; no port mapped`);
    return prev;
  }
  const owner: Owner = { network: conf.name, containerId: ctx.args.containerId };
  const { backend, v4 } = chooseBackend(ctx.exec, conf, owner);
  checkForBackend(conf, backend);
  const undo = new Undo(ctx.log);
  try {
    if (backend === 'iptables') await addIptables(host, ctx, conf, owner, nets, v4, undo);
    else addNft(host, ctx, conf, owner, nets, undo);
  } catch (e) {
    undo.unwind();
    throw e;
  }
  return prev;
}

async function addIptables(
  host: Host,
  ctx: Context,
  conf: PortmapConf,
  owner: Owner,
  nets: readonly ContainerNet[],
  v4: Tables | undefined,
  undo: Undo,
): Promise<void> {
  const snapshots = nets.map((n) => {
    try {
      return n.family === 4 && v4 ? v4 : readTables(ctx.exec, conf, n.family, owner);
    } catch (e) {
      throw kernelError(`read the IPv${n.family} iptables rules`, e);
    }
  });
  nets.forEach((n, i) => {
    const problem = setupProblem(conf, snapshots[i]!.nat, n.family);
    if (problem)
      throw configError(problem, 'create it first (kube-proxy does), or remove "externalSetMarkChain" from the config');
  });
  for (const [i, n] of nets.entries()) {
    try {
      await setupFamily(ctx.exec, host, conf, owner, n, snapshots[i]!);
    } catch (e) {
      throw kernelError(`set up the IPv${n.family} port mappings`, e);
    }
    undo.push(`IPv${n.family} iptables rules`, () => teardownFamily(ctx.exec, n.family, owner));
    afterRules(host, ctx, conf, n);
  }
}

function addNft(host: Host, ctx: Context, conf: PortmapConf, owner: Owner, nets: readonly ContainerNet[], undo: Undo) {
  try {
    setupNft(ctx.exec, conf, owner.containerId, nets);
  } catch (e) {
    throw kernelError('set up the port mappings with nftables', e);
  }
  undo.push('nftables rules', () => teardownNft(ctx.exec, owner.containerId));
  for (const n of nets) afterRules(host, ctx, conf, n);
}

// route_localnet lets packets from 127.0.0.1 leave towards the pod (hostPorts reached at
// 127.0.0.1 on the node); then stale UDP flows to the mapped ports are dropped.
function afterRules(host: Host, ctx: Context, conf: PortmapConf, n: ContainerNet): void {
  if (n.family === 4 && conf.snat) {
    const dev = host.routeDevice(ctx.exec, n.ip);
    if (dev) {
      try {
        host.writeSysctl(`net/ipv4/conf/${dev}/route_localnet`, '1');
      } catch (e) {
        throw kernelError(`enable route_localnet on ${dev}`, e);
      }
    }
  }
  const udp = mappingsFor(conf.mappings, n.family).filter((m) => m.protocol === 'udp');
  flushUdp(
    ctx.exec,
    n.family,
    udp.map((m) => ({ port: m.hostPort })),
    ctx.log,
  );
}
