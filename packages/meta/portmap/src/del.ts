// DEL: remove this container's rules from both backends (a node may have switched), found by
// name (iptables: the chain is the hash of network and container) or by comment (nftables: the
// container ID), so DEL needs neither the mappings, nor prevResult, nor the netns; upstream
// removes nothing unless the runtime resends the mappings. The UDP conntrack entries that still
// lead to the removed pod are deleted too. Repeated DELs succeed; every step runs even when an
// earlier one failed.
import type { Family } from '@cni-ts/iptables';
import { type Context, prevResultIfValid } from '@cni-ts/skel';
import { CniError, toCniError } from '@cni-ts/types';
import { readNat, teardownFamily } from './apply-iptables.js';
import { teardownNft } from './apply-nft.js';
import { kernelError, toolMissing } from './backend.js';
import { type PortMapping, loadConfLenient, mappingsLenient } from './config.js';
import { type UdpFlow, flushUdp } from './conntrack.js';
import { type ContainerNet, containerNets } from './container.js';
import { type Owner, udpForwards } from './plan-iptables.js';
import { mappingsFor } from './values.js';

/** The portmap plugin's DEL. */
export function cmdDel(ctx: Context): void {
  const conf = loadConfLenient(ctx);
  const owner: Owner = { network: conf.name, containerId: ctx.args.containerId };
  const nets = containerNets(prevResultIfValid(ctx), ctx.args.ifname);
  // Without prevResult both families are looked at, and one whose iptables is unusable is skipped.
  const guessed = nets.length === 0;
  const families: Family[] = guessed ? [4, 6] : nets.map((n) => n.family);
  const errors: Error[] = [];
  const flows = new Map<Family, UdpFlow[]>();
  const add = (f: Family, list: UdpFlow[]) => flows.set(f, [...(flows.get(f) ?? []), ...list]);
  const unusable: Error[] = [];
  for (const f of families) {
    let nat: ReturnType<typeof readNat>;
    try {
      nat = readNat(ctx.exec, f, owner);
    } catch (e) {
      if (!toolMissing(e)) unusable.push(kernelError(`read the IPv${f} iptables rules`, e));
      continue;
    }
    add(f, udpForwards(nat, owner));
    try {
      teardownFamily(ctx.exec, f, owner, nat);
    } catch (e) {
      if (conf.backend !== 'nftables') errors.push(kernelError(`remove the IPv${f} iptables rules`, e));
    }
  }
  // as upstream, a family whose iptables is unusable is skipped, unless prevResult says the pod
  // had an address there or no family is usable at all
  if (conf.backend !== 'nftables' && unusable.length && (!guessed || unusable.length === families.length))
    errors.push(...unusable);
  try {
    for (const [f, list] of teardownNft(ctx.exec, owner.containerId)) add(f, list);
  } catch (e) {
    if (!toolMissing(e) && conf.backend === 'nftables') errors.push(kernelError('remove the nftables rules', e));
  }
  // the rules name the pod's UDP flows; when they were gone already, the mappings the runtime resent do
  let resent: PortMapping[] | undefined;
  for (const n of nets) {
    if (flows.get(n.family)?.length) continue;
    resent ??= mappingsLenient(ctx);
    add(n.family, configuredFlows(resent, n));
  }
  for (const [f, list] of flows) flushUdp(ctx.exec, f, list, ctx.log);
  throwAll(errors);
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
