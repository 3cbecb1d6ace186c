// ADD: read the limits, find the pod's host-side veth (prevResult and the kernel), plan, apply.
// Everything is checked before anything is created; a failure leaves nothing behind. State left by
// an earlier ADD of the same attachment (same ifb name, our qdiscs on the veth) is replaced.
import { type Context, requireNetns } from '@cni-ts/skel';
import { type Result, configError, newResult } from '@cni-ts/types';
import { applyShaping } from './apply-shaping.js';
import { loadConf } from './config.js';
import { teardown } from './del.js';
import type { Host } from './host.js';
import { ifbName } from './names.js';
import { findHostVeth, podLink } from './observe.js';
import { planShaping } from './plan-shaping.js';

/** The bandwidth plugin's ADD. */
export function cmdAdd(host: Host, ctx: Context): Result {
  const conf = loadConf(ctx);
  const prev = ctx.prevResult;
  if (!conf.ingress && !conf.egress) return prev ?? newResult();
  if (!prev) {
    throw configError(
      'must be called as chained plugin',
      'bandwidth shapes the interface an earlier plugin created: list it after the main plugin (bridge, ptp) in a conflist',
    );
  }
  const { netns, ifname, containerId } = ctx.args;
  requireNetns(netns);
  const veth = findHostVeth(ctx.exec, host, podLink(ctx.exec, netns, ifname), prev);
  const plan = planShaping(conf, containerId, veth.name, veth.mtu);
  const ifbExists = host.linkNames().has(ifbName(conf.name, containerId));
  if (ifbExists) teardown(ctx, host, veth.name);
  let ifb: ReturnType<typeof applyShaping>;
  try {
    ifb = applyShaping(ctx.exec, plan, ctx.log);
  } catch (e) {
    // our own qdiscs from an earlier ADD of this attachment are in the way: take them off, try once more
    if (ifbExists || !/File exists|Exclusivity flag/.test((e as Error).message)) throw e;
    if (!teardown(ctx, host, veth.name)) throw e;
    ifb = applyShaping(ctx.exec, plan, ctx.log);
  }
  return {
    ...prev,
    interfaces: [...(prev.interfaces ?? []), ...(ifb ? [{ name: ifb.name, mac: ifb.mac }] : [])],
  };
}
