// ADD: check every value first (nothing is changed by a rejected ADD), then for each container
// address (IPv4 first) write its rules in one batch — planned without reading the tables, and
// planned on a read of them only when iptables refuses that —, enable route_localnet for IPv4
// hostPorts on 127.0.0.1 and flush stale UDP conntrack entries. A failure takes back the rules
// already written. prevResult is passed through unchanged.
import type { Context } from '@cni-ts/skel';
import { type Family, restore } from '@cni-ts/iptables';
import { ProcessError, isKind } from '@cni-ts/process';
import { type CniError, type Result, configError } from '@cni-ts/types';
import { createFamily, failedAtJump, readTables, removeFamily, setupFamily } from './apply-iptables.js';
import { setupNft, teardownNft } from './apply-nft.js';
import { chooseBackend, kernelError, nftUsable, toolMissing } from './backend.js';
import { type PortmapConf, backendOfConditions, checkForBackend, loadConf } from './config.js';
import { flushUdp } from './conntrack.js';
import { type ContainerNet, containerNets } from './container.js';
import type { Host } from './host.js';
import { type Owner, type Tables, conditionsOf, jumpRules, setupProblem } from './plan-iptables.js';
import { planConditionsTest } from './plan-known.js';
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
  const conf = await loadConf(ctx);
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
  // nftables options in an automatic config are refused where iptables works: find out first
  let backend = conf.backend;
  if (!backend && hasNftOptions(conf)) backend = chooseBackend(ctx.exec, conf, owner).backend;
  checkForBackend(conf, backend ?? 'iptables');
  const undo = new Undo(ctx.log);
  try {
    if (backend === 'nftables') addNft(host, ctx, conf, owner, nets, undo);
    else if (!(await addIptables(host, ctx, conf, owner, nets, undo, backend === undefined))) {
      checkForBackend(conf, 'nftables');
      addNft(host, ctx, conf, owner, nets, undo);
    }
  } catch (e) {
    undo.unwind();
    throw e;
  }
  return prev;
}

// True when the config has options only nftables takes (conditions written as nft tokens).
function hasNftOptions(conf: PortmapConf): boolean {
  return [conf.conditionsV4, conf.conditionsV6].some((c) => backendOfConditions(c) === 'nftables');
}

/**
 * Writes each family's rules with iptables, IPv4 first: one restore planned without reading,
 * and only when it is refused (a fresh node, a repeated ADD) the tables read and the batch planned
 * on them. With an automatic backend, false when iptables does not work at all and nftables does
 * (nothing was changed then).
 */
async function addIptables(
  host: Host,
  ctx: Context,
  conf: PortmapConf,
  owner: Owner,
  nets: readonly ContainerNet[],
  undo: Undo,
  auto: boolean,
): Promise<boolean> {
  // a later family's conditions are tried first, so their refusal finds nothing written yet
  for (const n of nets.slice(1)) {
    if (!conditionsOf(conf, n.family)?.length) continue;
    try {
      restore(ctx.exec, n.family, planConditionsTest(conf, owner, n.family), { test: true });
    } catch (e) {
      if (e instanceof ProcessError && !isKind(e, 'not-found', 'timeout', 'busy'))
        throw refusedConditions(e, conf, n.family)!;
    }
  }
  for (const [i, n] of nets.entries()) {
    const probe = auto && i === 0;
    let done: boolean;
    try {
      done = createFamily(ctx.exec, conf, owner, n);
    } catch (e) {
      if (probe && toolMissing(e) && nftUsable(ctx.exec)) return false;
      throw kernelError(`set up the IPv${n.family} port mappings`, e);
    }
    if (!done) {
      let tables: Tables;
      try {
        tables = readTables(ctx.exec, conf, n.family, owner);
      } catch (e) {
        // iptables does not work here (a tool that hangs or waits for a lock is no answer)
        if (probe && !isKind(e, 'timeout', 'busy') && nftUsable(ctx.exec)) return false;
        throw kernelError(
          probe ? 'use iptables (and nftables is not usable either)' : `read the IPv${n.family} iptables rules`,
          e,
        );
      }
      const problem = setupProblem(conf, tables.nat, n.family);
      if (problem)
        throw configError(
          problem,
          'create it first (kube-proxy does), or remove "externalSetMarkChain" from the config',
        );
      try {
        await setupFamily(ctx.exec, host, conf, owner, n, tables);
      } catch (e) {
        throw (
          (failedAtJump(e, owner) && refusedConditions(e, conf, n.family)) ||
          kernelError(`set up the IPv${n.family} port mappings`, e)
        );
      }
    }
    const jumps = jumpRules(conf, owner, n.family);
    undo.push(`IPv${n.family} iptables rules`, () => removeFamily(ctx.exec, n.family, owner, jumps));
    afterRules(host, ctx, conf, n);
  }
  return true;
}

/** The code-7 error for conditions iptables-restore refused (naming the values its message quotes), if the family has any. */
export function refusedConditions(e: unknown, conf: PortmapConf, family: Family): CniError | undefined {
  const list = conditionsOf(conf, family);
  if (!list?.length || !(e instanceof ProcessError)) return undefined;
  const key = family === 4 ? 'conditionsV4' : 'conditionsV6';
  const said = e.stderr
    .split('\n')
    .map((l) => l.replace(/^ip6?tables-restore(?: v[^:]*)?: (?:line \d+ failed: )?/, '').trim())
    .find((l) => l !== '' && !/^Error occurred at line|^Try `/.test(l));
  // the values its message quotes, as whole words
  const named = list.filter((c) => new RegExp(`(?:^|[\\s"'\`])${escapeRe(c)}(?:$|[\\s"'.,:])`, 'm').test(e.stderr));
  const what = named.length ? named.map((c) => JSON.stringify(c)).join(', ') : JSON.stringify(list);
  return configError(
    `${key} ${what}: refused by ip${family === 6 ? '6' : ''}tables-restore: ${said ?? e.message}`,
    `write ${key} as iptables match arguments (e.g. ["-d", "192.0.2.1"], or ["-m", "set", "--match-set", "<name>", "dst"] for a set that exists), or remove it`,
  );
}

function addNft(host: Host, ctx: Context, conf: PortmapConf, owner: Owner, nets: readonly ContainerNet[], undo: Undo) {
  try {
    setupNft(ctx.exec, conf, owner.containerId, nets);
  } catch (e) {
    throw nftRefusedConditions(e, conf) ?? kernelError('set up the port mappings with nftables', e);
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

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The code-7 error for conditions nft refused: the failing command is an entry rule holding them
 * (the one transaction changed nothing). Names the part nft marked when it lies in the conditions.
 */
export function nftRefusedConditions(e: unknown, conf: PortmapConf): CniError | undefined {
  const line = e instanceof ProcessError ? e.failed?.args[0] : undefined;
  const m = line && /^add rule (ip6?) cni_hostport (?:prerouting|output) /.exec(line);
  if (!m || !(e instanceof ProcessError)) return undefined;
  const family = m[1] === 'ip6' ? 6 : 4;
  const list = conditionsOf(conf, family);
  if (!list?.length) return undefined;
  const key = family === 4 ? 'conditionsV4' : 'conditionsV6';
  const start = m[0].length;
  const end = start + list.join(' ').length;
  // nft echoes the command and marks what it could not take with carets
  const lines = e.stderr.split('\n');
  const at = lines.indexOf(line);
  const carets = at >= 0 ? /\^+/.exec(lines[at + 1] ?? '') : null;
  const from = carets ? Math.max(carets.index, start) : 0;
  const to = carets ? Math.min(carets.index + carets[0].length, end) : 0;
  const what = from < to ? JSON.stringify(line.slice(from, to)) : JSON.stringify(list);
  const said = (lines.find((l) => l.includes('Error:')) ?? e.message).replace(/^.*?Error: /, '');
  return configError(
    `${key} ${what}: refused by nft: ${said}`,
    `write ${key} as nft match tokens (e.g. ["ip", "daddr", "192.0.2.1"]), or remove it`,
  );
}
