// DEL: remove the ifb and our qdiscs and filter from the pod's host veth. It needs only what finds
// ADD's work — the network name and container ID (the ifb's name) and the pod's interface (its veth
// peer) — so it succeeds after a config change, without prevResult or with one that does not name
// the veth, without the netns (the veth went with it; only the ifb is left), and a second time.
import { type NetlinkFailure, isKind, netlinkError } from '@cni-ts/process';
import { type Context, netnsGone, rawPrevResult } from '@cni-ts/skel';
import { CniError } from '@cni-ts/types';
import { deleteLink, kernelError, runTc } from './apply-shaping.js';
import type { Host } from './host.js';
import { ifbName } from './names.js';
import { type LinkState, findHostVeth, podLink, rawHostSideNames, showTc } from './observe.js';
import { ourFilters, planTeardown } from './plan-teardown.js';

/** The bandwidth plugin's DEL. */
export function cmdDel(host: Host, ctx: Context): void {
  let failure: unknown;
  let veth: string | undefined;
  const gone = netnsGone(ctx.args.netns);
  // the ifb's RTM_DELLINK waits 16-17 ms in the kernel (netdev_run_todo's rcu_barrier): where it
  // can, a kernel io-wq thread writes it (io_uring) while the veth's teardown runs here
  const ifb = gone ? undefined : startIfbDelete(ctx);
  if (!gone) {
    try {
      veth = vethOf(ctx, host, podLink(ctx.exec, ctx.args.netns, ctx.args.ifname));
    } catch (e) {
      // gone, or never a veth peer (a CniError from podLink/findHostVeth): nothing of ours is on it
      if (!isKind(e, 'missing') && !(e instanceof CniError)) failure = e;
    }
  }
  if (veth) {
    try {
      teardown(ctx, host, veth);
    } catch (e) {
      if (!isKind(e, 'missing')) failure = e; // the veth went away meanwhile: nothing left on it
    }
  }
  // the kernel's answer to the ifb's deletion before DEL ends, or the deletion itself
  if (ifb) reportIfbDelete(ctx, ifb.wait());
  else deleteIfb(ctx);
  if (failure) throw kernelError('remove traffic shaping', failure);
}

// The pod's host veth: among prevResult's host interfaces first (read leniently; sysfs, no process), then among
// every veth of the node. An ADD given a prevResult that names no host interface shaped a veth it
// found among all of them, and its result names only the ifb; prevResult never hides the veth.
function vethOf(ctx: Context, host: Host, pod: LinkState): string {
  const listed = rawHostSideNames(rawPrevResult(ctx.conf));
  try {
    return findHostVeth(ctx.exec, host, pod, listed).name;
  } catch (e) {
    if (!(e instanceof CniError) || listed.length === 0) throw e;
    return findHostVeth(ctx.exec, host, pod, []).name;
  }
}

/** Deletes the attachment's ifb; one that is not there is fine (one ip process). */
export function deleteIfb(ctx: Context): void {
  deleteLink(ctx.exec, ifbName(ctx.conf.name, ctx.args.containerId), ctx.log);
}

// The ifb's deletion in flight, or undefined (nothing sent: deleteIfb does it, and words any refusal).
function startIfbDelete(ctx: Context): { wait(): { failure: NetlinkFailure } | undefined } | undefined {
  try {
    return ctx.exec.typedNetlink?.()?.delAsync(ifbName(ctx.conf.name, ctx.args.containerId));
  } catch {
    return undefined;
  }
}

// What deleteLink makes of a deletion's outcome: a missing ifb is fine, other failures are logged.
function reportIfbDelete(ctx: Context, outcome: { failure: NetlinkFailure } | undefined): void {
  if (!outcome) return;
  const name = ifbName(ctx.conf.name, ctx.args.containerId);
  const e = netlinkError('ip', [['link', 'del', 'dev', name]], outcome.failure);
  if (!isKind(e, 'missing')) ctx.log(`could not delete ${name}: ${(e as Error).message}`);
}

/**
 * Takes our qdiscs and filter off a veth; true when there were any. The node's links are read only
 * to judge a filter that redirects elsewhere than our ifb. On the typed rtnetlink path no qdisc is
 * read (the kernel checks the root delete, the veth's own filters decide the ingress: constant in
 * the node's qdiscs); elsewhere one tc process looks and one deletes.
 */
export function teardown(ctx: Context, host: Host, veth: string): boolean {
  const ifb = ifbName(ctx.conf.name, ctx.args.containerId);
  let links: ReadonlySet<string> | undefined;
  const known = { has: (name: string) => (links ??= host.linkNames()).has(name) };
  const direct = ctx.exec.typedNetlink?.()?.teardown(veth, (filters) => {
    const { all, mine } = ourFilters(filters, ifb, known);
    return all ? { qdisc: true } : { prios: mine.map((f) => f.pref) };
  });
  if (direct && 'failure' in direct) {
    const e = netlinkError('tc', direct.commands, direct.failure);
    if (isKind(e, 'missing')) return true;
    throw kernelError(`remove traffic shaping from ${veth}`, e);
  }
  if (direct) return direct.removed;
  const state = showTc(ctx.exec, veth, undefined);
  const commands = planTeardown(state, veth, ifb, known);
  if (commands.length === 0) return false;
  try {
    // the veth's index from the listing: the deletes look it up no second time
    runTc(ctx.exec, commands, false, state.vethIndex === undefined ? undefined : new Map([[veth, state.vethIndex]]));
  } catch (e) {
    if (isKind(e, 'missing')) return true;
    throw kernelError(`remove traffic shaping from ${veth}`, e);
  }
  return true;
}
