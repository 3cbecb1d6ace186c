// ADD: read the limits, find the pod's host-side veth (prevResult and the kernel), plan, apply.
// Everything is checked before anything is created; a failure leaves nothing behind. State left by
// an earlier ADD of the same attachment (same ifb name, our qdiscs on the veth) is replaced.
import { type Context, requireNetns } from '@cni-ts/skel';
import { isKind } from '@cni-ts/process';
import { CniError, ErrorCode, type Result, configError, newResult } from '@cni-ts/types';
import { IfbExists, applyShaping } from './apply-shaping.js';
import { loadConf } from './config.js';
import { deleteIfb, teardown } from './del.js';
import type { Host } from './host.js';
import { ifbName } from './names.js';
import { findHostVeth, hostSideNames, podLink } from './observe.js';
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
  const veth = findHostVeth(ctx.exec, host, podLink(ctx.exec, netns, ifname), hostSideNames(prev));
  const plan = planShaping(conf, containerId, veth.name, veth.mtu);
  // an ifb of this attachment is left from an earlier ADD: take that ADD's work off first. A plan
  // with egress finds it by creating its ifb (IfbExists, nothing changed), one without looks for it
  let replaced = false;
  const replace = () => {
    teardown(ctx, host, veth.name);
    deleteIfb(ctx);
    replaced = true;
  };
  if (!plan.egress && host.linkNames().has(ifbName(conf.name, containerId))) replace();
  let ifb: ReturnType<typeof applyShaping>;
  try {
    ifb = applyShaping(ctx.exec, plan, ctx.log);
  } catch (e) {
    if (replaced) throw e;
    if (e instanceof IfbExists) {
      replace();
      ifb = applyShaping(ctx.exec, plan, ctx.log);
    } else {
      // qdiscs are in the way: ours (an earlier ADD of this attachment) are taken off and ADD tries once
      // more; anyone else's stay, and the error says so
      if (!isConflict(e)) throw e;
      if (!teardown(ctx, host, veth.name)) {
        throw new CniError(
          ErrorCode.internal,
          `failed to set up traffic shaping on ${veth.name}: it already has qdiscs that bandwidth did not create`,
          `${(e as Error).message}; see \`tc qdisc show dev ${veth.name}\``,
          { cause: e },
        );
      }
      ifb = applyShaping(ctx.exec, plan, ctx.log);
    }
  }
  return {
    ...prev,
    interfaces: [...(prev.interfaces ?? []), ...(ifb ? [{ name: ifb.name, mac: ifb.mac }] : [])],
  };
}

// The kernel refused a qdisc because one is there already ("File exists"; for a root qdisc that is
// not the default one "Exclusivity flag on" when it has our handle, and on kernels with extended
// acks "NLM_F_REPLACE needed to override" when it has another).
function isConflict(e: unknown): boolean {
  const cause = (e as { cause?: unknown }).cause;
  return (
    isKind(cause, 'exists') ||
    (isKind(cause, 'failed') && /Exclusivity flag on|NLM_F_REPLACE needed to override/.test(cause.stderr))
  );
}
