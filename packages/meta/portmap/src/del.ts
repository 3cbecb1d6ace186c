// DEL: remove this container's rules from both backends (a node may have switched), found by
// name (iptables: the chain is the hash of network and container) or by comment (nftables: the
// container ID), so DEL needs neither the mappings, nor prevResult, nor the netns; upstream
// removes nothing unless the runtime resends the mappings. When it does, one restore removes
// exactly the rules ADD wrote, reading nothing; the tables are read only when that is refused.
// The UDP conntrack entries that still lead to the removed pod are deleted too. Repeated DELs
// succeed; every step runs even when an earlier one failed.
import type { Family } from '@cni-ts/iptables';
import { type Context, rawPrevResult } from '@cni-ts/skel';
import { CniError, toCniError } from '@cni-ts/types';
import { readNat, removeKnown, teardownFamily } from './apply-iptables.js';
import { teardownNft } from './apply-nft.js';
import { kernelError, toolMissing } from './backend.js';
import { type PortMapping, type PortmapConf, loadConfLenient, loadConfOrUndefined } from './config.js';
import { type UdpFlow, flushUdp } from './conntrack.js';
import { type ContainerNet, containerNetsLenient } from './container.js';
import { type Owner, jumpRules, udpForwards } from './plan-iptables.js';
import { mappingsFor } from './values.js';

/** The portmap plugin's DEL. */
export function cmdDel(ctx: Context): void {
  const conf = loadConfLenient(ctx);
  const owner: Owner = { network: conf.name, containerId: ctx.args.containerId };
  const prev = rawPrevResult(ctx.conf);
  const nets = containerNetsLenient(prev, ctx.args.ifname);
  if (prev !== undefined && nets.length === 0)
    ctx.log(`ignoring prevResult: it names no address of ${ctx.args.ifname} in the sandbox`);
  // Without prevResult both families are looked at, and one whose iptables is unusable is skipped.
  const guessed = nets.length === 0;
  const families: Family[] = guessed ? [4, 6] : nets.map((n) => n.family);
  const errors: Error[] = [];
  const flows = new Map<Family, UdpFlow[]>();
  const add = (f: Family, list: UdpFlow[]) => flows.set(f, [...(flows.get(f) ?? []), ...list]);
  const unusable: Error[] = [];
  const known = loadConfOrUndefined(ctx);
  let removed = 0;
  for (const f of families) {
    const found = removeKnown(ctx.exec, f, owner, knownJumps(known, owner, f, nets));
    if (found === 'removed') removed++;
    if (found !== 'unknown') continue;
    let nat: ReturnType<typeof readNat>;
    try {
      nat = readNat(ctx.exec, f, owner);
    } catch (e) {
      if (!toolMissing(e)) unusable.push(kernelError(`read the IPv${f} iptables rules`, e));
      continue;
    }
    add(f, udpForwards(nat, owner));
    try {
      if (teardownFamily(ctx.exec, f, owner, nat)) removed++;
    } catch (e) {
      if (conf.backend !== 'nftables') errors.push(kernelError(`remove the IPv${f} iptables rules`, e));
    }
  }
  // as upstream, a family whose iptables is unusable is skipped, unless prevResult says the pod
  // had an address there or no family is usable at all
  if (conf.backend !== 'nftables' && unusable.length && (!guessed || unusable.length === families.length))
    errors.push(...unusable);
  // one ADD writes one backend: a pod that had rules in iptables has none in nftables
  if (removed === 0 || conf.backend === 'nftables') {
    try {
      for (const [f, list] of teardownNft(ctx.exec, owner.containerId)) add(f, list);
    } catch (e) {
      if (!toolMissing(e) && conf.backend === 'nftables') errors.push(kernelError('remove the nftables rules', e));
    }
  }
  // the rules name the pod's UDP flows; when they were not read (or gone already), the mappings the runtime resent do
  for (const n of nets) {
    if (flows.get(n.family)?.length) continue;
    add(n.family, configuredFlows(known?.mappings ?? [], n));
  }
  for (const [f, list] of flows) flushUdp(ctx.exec, f, list, ctx.log);
  throwAll(errors);
}

// The jumps ADD wrote in a family, when the config says (the runtime resends the mappings) and,
// for UDP mappings, prevResult names the pod's address there (the conntrack flush needs it;
// without it the rules are read for it).
function knownJumps(conf: PortmapConf | undefined, o: Owner, f: Family, nets: readonly ContainerNet[]) {
  if (!conf?.mappings.length) return undefined;
  const udp = mappingsFor(conf.mappings, f).some((m) => m.protocol === 'udp');
  if (udp && !nets.some((n) => n.family === f)) return undefined;
  return jumpRules(conf, o, f);
}

// The UDP flows the runtime's mappings name (when it resends them) for a known pod address.
function configuredFlows(mappings: readonly PortMapping[], n: ContainerNet): UdpFlow[] {
  return mappingsFor(mappings, n.family)
    .filter((m) => m.protocol === 'udp')
    .map((m) => ({ port: m.hostPort, podIP: n.ip }));
}

/** Throws one CniError for several failures (the first one's code; every message). */
export function throwAll(errors: readonly Error[]): void {
  if (errors.length === 0) return;
  const first = toCniError(errors[0]);
  if (errors.length === 1) throw first;
  throw new CniError(first.code, errors.map((e) => e.message).join('; '), first.details, { cause: errors[0] });
}
