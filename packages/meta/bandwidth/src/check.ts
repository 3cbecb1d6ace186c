// CHECK: re-derive what ADD set up and compare it with the kernel: the root tbf on the veth (rate,
// limit and buffer exactly), and for egress the ifb, its root tbf, the veth's ingress qdisc and the
// redirect to the ifb. A qdisc the Go plugin made for the same input also passes (a node moving
// from the Go plugin to ours keeps its pods), including its wrapped-around buffer for containerd's
// 4294967295-bit bursts.
import { type Context, requireNetns } from '@cni-ts/skel';
import { CniError, ErrorCode, configError } from '@cni-ts/types';
import { type Direction, type Limit, loadConf } from './config.js';
import type { Host } from './host.js';
import { ifbName } from './names.js';
import { type QdiscState, findHostVeth, hostSideNames, podLink, showTc } from './observe.js';
import { tbfForLimit } from './plan-shaping.js';
import { isOurTbf } from './plan-teardown.js';
import { CRI_NO_BURST, type Tbf, kernelBuffer, upstreamBuffer, upstreamLimit } from './tbf.js';

/** The (rate, limit, buffer) triples a qdisc may show for a limit: ours, and the Go plugin's. */
export function acceptedTbfs(dir: Direction, limit: Limit, mtu: number): Array<Omit<Tbf, 'burst'>> {
  const ours = tbfForLimit(dir, limit, mtu);
  const out = [
    { rate: ours.rate, limit: ours.limit, buffer: ours.buffer },
    { rate: ours.rate, limit: ours.limit, buffer: kernelBuffer(ours.rate, ours.burst) },
  ];
  if (limit.burst === undefined && limit.criNoBurst) {
    const b = Math.floor(CRI_NO_BURST / 8);
    out.push({ rate: ours.rate, limit: upstreamLimit(ours.rate, b), buffer: upstreamBuffer(ours.rate, b) });
  }
  return out;
}

function failed(msg: string, details = ''): CniError {
  return new CniError(ErrorCode.checkFailed, msg, details);
}

function describe(q: QdiscState | undefined): string {
  if (!q) return 'no root qdisc';
  return `${q.kind} ${q.handle} rate ${q.rate ?? '-'} B/s limit ${q.limit ?? '-'} B buffer ${q.buffer ?? '-'} ticks`;
}

function checkTbf(where: string, qdiscs: QdiscState[], accepted: Array<Omit<Tbf, 'burst'>>): void {
  const root = qdiscs.find((q) => q.root);
  if (!root || !isOurTbf(root)) throw failed(`no tbf qdisc 1: at the root of ${where}`, `found ${describe(root)}`);
  if (!accepted.some((t) => t.rate === root.rate && t.limit === root.limit && t.buffer === root.buffer)) {
    const want = accepted[0]!;
    throw failed(
      `the tbf on ${where} does not match the configured limit`,
      `found ${describe(root)}; expected rate ${want.rate} B/s limit ${want.limit} B buffer ${want.buffer} ticks`,
    );
  }
}

/** The bandwidth plugin's CHECK. */
export function cmdCheck(host: Host, ctx: Context): void {
  const conf = loadConf(ctx);
  if (!ctx.prevResult) throw configError('must be called as a chained plugin', 'CHECK needs the prevResult of ADD');
  const { netns, ifname, containerId } = ctx.args;
  requireNetns(netns);
  const veth = findHostVeth(ctx.exec, host, podLink(ctx.exec, netns, ifname), hostSideNames(ctx.prevResult));
  if (!conf.ingress && !conf.egress) return;
  const ifb = ifbName(conf.name, containerId);
  const hasIfb = host.linkNames().has(ifb);
  if (conf.egress && !hasIfb) throw failed(`ifb device ${ifb} is missing`, `egress shaping of ${veth.name} needs it`);
  const state = showTc(ctx.exec, veth.name, conf.egress ? ifb : undefined);
  if (conf.ingress) checkTbf(`host veth ${veth.name}`, state.veth, acceptedTbfs('ingress', conf.ingress, veth.mtu));
  if (conf.egress) {
    checkTbf(`ifb ${ifb}`, state.ifb ?? [], acceptedTbfs('egress', conf.egress, veth.mtu));
    if (!state.veth.some((q) => q.kind === 'ingress' && q.handle === 'ffff:'))
      throw failed(`no ingress qdisc ffff: on host veth ${veth.name}`, 'egress shaping redirects from there');
    if (!state.filters.some((f) => f.redirects[0] === ifb))
      throw failed(`no filter on ${veth.name} redirects to ${ifb}`, 'traffic from the pod is not shaped');
  }
}
