// ADD: check the config and the node, reserve addresses with IPAM, plan everything, then apply
// it; any failure unwinds what was done (IPAM reservation, veth, rules) before the error returns.
import { resolve } from 'node:path';
import { type Context, delegateAddAsync, delegateAsync, requireNetns } from '@cni-ts/skel';
import {
  CniError,
  type DNS,
  ErrorCode,
  type Interface,
  type Result,
  configError,
  newResult,
  requireExpressible,
} from '@cni-ts/types';
import { type NodeLinks, VethNameTaken, applyNode, applyPod, kernelError, readBack } from './apply-links.js';
import { type BridgeConf, loadConf } from './config.js';
import { type Gateways, calcGateways } from './gateway.js';
import { type Host, randomMac, randomVethName } from './host.js';
import { setupMasq } from './apply-masq.js';
import { type LinkState, showLinks } from './observe.js';
import { type NodePlan, planNode } from './plan-node.js';
import { planPodL2, planPodL3 } from './plan-pod.js';
import { addSpoofCheck } from './apply-spoofcheck.js';
import { UndoStack } from './undo.js';
import { requireWritableValues } from './writable.js';

/** The bridge and VLAN gateway as they are now (undefined when missing); refuses a non-bridge link with the bridge's name. */
export function observeNode(
  ctx: Context,
  host: Host,
  conf: BridgeConf,
): { bridge?: LinkState; vlanGateway?: LinkState } {
  const vlanGw = `${conf.bridge}.${conf.vlan}`;
  const names = [conf.bridge, ...(conf.vlan !== 0 && conf.isGateway ? [vlanGw] : [])].filter((n) => host.hasLink(n));
  const links = names.length ? showLinks(ctx.exec, names) : [];
  const bridge = links.find((l) => l.name === conf.bridge);
  if (bridge && bridge.kind !== 'bridge') {
    throw configError(
      `"${conf.bridge}" already exists but is not a bridge`,
      `it is a ${bridge.kind ?? 'plain'} link; choose another "bridge" name`,
    );
  }
  const vlanGateway = links.find((l) => l.name === vlanGw);
  return { ...(bridge ? { bridge } : {}), ...(vlanGateway ? { vlanGateway } : {}) };
}

/** How many random host veth names ADD tries (upstream's makeVeth: 10). */
const VETH_NAME_TRIES = 10;

// A name for the peer of the VLAN gateway veth, checked against every link of the node only when
// ADD creates that veth (a taken name would pass for a concurrent ADD's gateway there).
function newVlanPeer(
  host: Host,
  conf: BridgeConf,
  node: { vlanGateway?: LinkState },
  gw: Gateways,
  hostVeth: string,
): string {
  const creates = conf.vlan !== 0 && gw.gateways.length > 0 && !node.vlanGateway;
  return randomVethName(host, new Set([...(creates ? host.linkNames() : []), hostVeth]));
}

// The IPAM DEL goes on the undo stack as soon as IPAM may hold a reservation, before its
// answer is decoded: a result we cannot read must not leak the address. host-local runs
// in-process when CNI_PATH's host-local is this executable (skel's delegateAddAsync).
async function ipamAdd(ctx: Context, conf: BridgeConf, undo: UndoStack): Promise<Result> {
  const r = await delegateAddAsync(ctx, conf.ipamType, () =>
    undo.push(`IPAM (${conf.ipamType}) reservation`, () => delegateAsync(ctx, conf.ipamType, 'DEL')),
  );
  if (!r.ips?.length)
    throw new CniError(
      ErrorCode.internal,
      'IPAM plugin returned missing IP config',
      `${conf.ipamType} returned no addresses`,
    );
  return r;
}

/** The ADD result: [bridge, host veth, container (+ VLAN gateway)], addresses on interface 2. */
export function addResult(
  conf: BridgeConf,
  args: Context['args'],
  links: NodeLinks,
  containerMac: string,
  gw: Gateways,
  dns: DNS | undefined,
): Result {
  const interfaces: Interface[] = [
    { name: conf.bridge, mac: links.bridge.mac },
    { name: links.hostVeth.name, mac: links.hostVeth.mac },
    { name: args.ifname, mac: containerMac, sandbox: args.netns },
    ...(links.vlanGateway ? [{ name: links.vlanGateway.name, mac: links.vlanGateway.mac }] : []),
  ];
  return newResult({
    interfaces,
    ...(gw.ips.length ? { ips: gw.ips } : {}),
    ...(gw.routes.length ? { routes: gw.routes } : {}),
    ...(dns ? { dns } : {}),
  });
}

/** The bridge plugin's ADD. */
export async function cmdAdd(host: Host, ctx: Context): Promise<Result> {
  const conf = loadConf(ctx, true);
  const { netns, ifname, containerId } = ctx.args;
  // decided before anything changes: an L2-only result has no address, which 0.1.0/0.2.0 cannot carry
  requireExpressible(conf.cniVersion, conf.ipamType !== '', 'an L2-only bridge network (no "ipam") has no address');
  requireNetns(netns);
  requireWritableValues(conf, ctx.args);
  const node = observeNode(ctx, host, conf);
  const undo = new UndoStack(ctx.log);
  try {
    const ipam = conf.ipamType ? await ipamAdd(ctx, conf, undo) : undefined;
    const gw: Gateways = ipam
      ? calcGateways(conf, ipam.ips ?? [], ipam.routes ?? [])
      : { ips: [], routes: [], gateways: [] };
    const podPlan = ipam ? planPodL3(conf, ifname, gw.ips, gw.routes, host.hasIpv6()) : planPodL2(conf, ifname);
    // the host veth's name is random and not looked up first (that read a list of every link of
    // the node); a taken one fails its creation and ADD draws another, as upstream's makeVeth does
    let hostVeth = '';
    let nodePlan: NodePlan | undefined;
    for (let tries = 1; !nodePlan; tries++) {
      hostVeth = randomVethName(host);
      const plan = planNode({
        conf,
        netns: resolve(netns), // `ip … netns <x>` reads a bare name as /run/netns/<x> and a number as a pid
        ifname,
        hostVeth,
        ...node,
        gateways: gw.gateways,
        vlanPeer: newVlanPeer(host, conf, node, gw, hostVeth),
        newBridgeMac: randomMac(host),
      });
      try {
        applyNode(host, ctx.exec, plan, hostVeth, undo);
        nodePlan = plan;
      } catch (e) {
        if (!(e instanceof VethNameTaken)) throw e;
        if (tries === VETH_NAME_TRIES) throw e.error;
      }
    }
    const container = applyPod(host, ctx.exec, podPlan, netns, ifname);
    const links = readBack(
      host,
      ctx.exec,
      { bridge: conf.bridge, hostVeth, vlanGateway: nodePlan.vlanGatewayName },
      !conf.disableContainerInterface,
    );
    if (conf.macspoofchk) addSpoofCheck(ctx.exec, containerId, ifname, hostVeth, container.mac, undo);
    if (ipam && conf.ipMasq) {
      try {
        setupMasq(
          ctx.exec,
          conf,
          { network: conf.name, containerId, ifname },
          gw.ips.map((i) => i.address),
          undo,
        );
      } catch (e) {
        throw kernelError('set up masquerading', e);
      }
    }
    return addResult(conf, ctx.args, links, container.mac, gw, conf.dns ?? ipam?.dns);
  } catch (e) {
    await undo.unwind();
    throw e;
  }
}
