// DEL: remove the container interface (its host end goes with it), the spoof check and the
// masquerade rules, and release the IPAM reservation — also when the sandbox is already gone,
// finding the rules by name (chain = hash of network and container) rather than by netns
// (upstream leaks them then: containernetworking/plugins#810). Every step runs even when an
// earlier one failed; repeated DELs succeed.
import { deferNfRelease, ipBatch, isMissing } from '@cni-ts/process';
import type { Family } from '@cni-ts/iptables';
import { type Context, delegateAsync, netnsGone } from '@cni-ts/skel';
import { CniError, toCniError } from '@cni-ts/types';
import { kernelError } from './apply-links.js';
import { type TeardownConf, type TeardownPrev, noteInvalidConf, teardownConf, teardownPrev } from './teardown-conf.js';
import type { Host } from './host.js';
import { familyOf } from './plan-masq-iptables.js';
import { teardownMasq } from './apply-masq.js';
import { parseLinks, showLinks } from './observe.js';
import { removeSpoofCheck } from './apply-spoofcheck.js';

/** The host veth ADD reported: an interface outside the sandbox that is neither the bridge nor the VLAN gateway. */
export function hostVethOf(
  prev: { interfaces?: ReadonlyArray<{ name: string; sandbox?: string }> } | undefined,
  conf: Pick<TeardownConf, 'bridge' | 'vlan'>,
): string | undefined {
  return prev?.interfaces?.find(
    (i, idx) => idx !== 0 && !i.sandbox && i.name !== conf.bridge && i.name !== `${conf.bridge}.${conf.vlan}`,
  )?.name;
}

// The container interface's global addresses ("ip/len"), read before anything is removed: they
// name the masquerade rules' families.
function sandboxAddresses(ctx: Context, errors: Error[]): string[] | undefined {
  try {
    const [doc] = ipBatch(ctx.exec, [['addr', 'show', 'dev', ctx.args.ifname]], { netns: ctx.args.netns });
    const addrs = parseLinks(doc)[0]?.addrs ?? [];
    return addrs.filter((a) => a.scope !== 'link' && a.scope !== 'host').map((a) => `${a.local}/${a.prefixlen}`);
  } catch (e) {
    // gone already: the interface, or the whole sandbox (removed since we looked) — nothing to delete
    if (isMissing(e, ctx.args.ifname) || isMissing(e, ctx.args.netns)) return undefined;
    errors.push(kernelError(`read ${ctx.args.ifname} in ${ctx.args.netns}`, e));
    return [];
  }
}

// Deletes the container interface (its host end goes with it).
function deleteInSandbox(ctx: Context, errors: Error[]): void {
  try {
    ipBatch(ctx.exec, [['link', 'del', 'dev', ctx.args.ifname]], { netns: ctx.args.netns });
  } catch (e) {
    if (!isMissing(e, ctx.args.ifname) && !isMissing(e, ctx.args.netns))
      errors.push(kernelError(`delete ${ctx.args.ifname} in ${ctx.args.netns}`, e));
  }
}

// The sandbox is gone, so its veth normally went with it; a host end left behind (the namespace
// still held elsewhere) is removed when it is still a veth on our bridge.
function deleteLeftHostVeth(host: Host, ctx: Context, conf: TeardownConf, prev: TeardownPrev, errors: Error[]): void {
  const name = hostVethOf(prev, conf);
  if (!name || !host.hasLink(name)) return;
  try {
    const [link] = showLinks(ctx.exec, [name]);
    if (link?.kind === 'veth' && link.master === conf.bridge) ipBatch(ctx.exec, [['link', 'del', 'dev', name]]);
  } catch (e) {
    if (!isMissing(e, name)) errors.push(kernelError(`delete ${name}`, e));
  }
}

/**
 * The bridge plugin's DEL. The masquerade rules go before the veth: a transaction through
 * nfnetlink that deletes rules waits an RCU grace period when its socket is released, and the
 * veth's deletion waits in the kernel too (netdev_run_todo's rcu_barrier), so the sockets are
 * held until the end (deferNfRelease) and the two waits overlap instead of adding up
 * (docs/performance.md). The veth goes whether or not its rules could be removed, and the other
 * way round.
 */
export async function cmdDel(host: Host, ctx: Context): Promise<void> {
  const conf = teardownConf(ctx); // only what finds ADD's work: a config that no longer validates still cleans
  noteInvalidConf(ctx, 'DEL');
  const { containerId, ifname } = ctx.args;
  const errors: Error[] = [];
  const prev = teardownPrev(ctx); // DEL cleans up with or without a usable prevResult
  const addresses = [...prev.addresses];
  const inSandbox = !netnsGone(ctx.args.netns);
  const own = inSandbox ? sandboxAddresses(ctx, errors) : undefined;
  if (own) addresses.push(...own);
  const releaseNf = deferNfRelease();
  try {
    if (conf.ipamType && conf.ipMasq) {
      const families = new Set<Family>(addresses.map(familyOf));
      const fams: Family[] = families.size ? [...families].sort() : [4, 6];
      errors.push(
        ...teardownMasq(ctx.exec, conf, { network: conf.name, containerId, ifname }, fams, addresses).map((e) =>
          kernelError('remove masquerade rules', e),
        ),
      );
    }
    if (own) deleteInSandbox(ctx, errors);
    else if (!inSandbox) deleteLeftHostVeth(host, ctx, conf, prev, errors);
    if (conf.macspoofchk) {
      try {
        removeSpoofCheck(ctx.exec, containerId, ifname);
      } catch (e) {
        errors.push(kernelError('remove the spoof check', e));
      }
    }
    if (conf.ipamType) {
      try {
        await delegateAsync(ctx, conf.ipamType, 'DEL');
      } catch (e) {
        errors.push(e as Error);
      }
    }
  } finally {
    releaseNf();
  }
  throwAll(errors);
}

/** Throws one CniError for several failures (the first one's code; every message). */
export function throwAll(errors: readonly Error[]): void {
  if (errors.length === 0) return;
  const first = toCniError(errors[0]);
  if (errors.length === 1) throw first;
  throw new CniError(first.code, errors.map((e) => e.message).join('; '), first.details, { cause: errors[0] });
}
