// Applies the ADD plans in as few processes as possible: one node ip batch (plus `ip link add` of
// a missing bridge, one `bridge -batch` for VLANs, one ip batch for missing gateway addresses),
// one nsenter process for the pod's sysctls and ip batch, and a read-back that the port is up
// (sysfs, or one ip process). Each step that changes the kernel records its undo first.
import {
  type Executor,
  type ProcessError,
  bridgeBatch,
  ipBatch,
  isKind,
  isMissing,
  openDirectIp,
} from '@cni-ts/process';
import { CniError, ErrorCode } from '@cni-ts/types';
import type { Host } from './host.js';
import { type LinkState, parseLinks, showLinks } from './observe.js';
import type { NodePlan } from './plan-node.js';
import type { PodPlan } from './plan-pod.js';
import type { UndoStack } from './undo.js';

/** What ADD reports of a node link. */
export interface LinkBrief {
  name: string;
  mac: string;
  operstate: string;
}

/** The node links as they are after ADD. */
export interface NodeLinks {
  bridge: LinkBrief;
  hostVeth: LinkBrief;
  vlanGateway?: LinkBrief;
}

// upstream's waits are 0, 50, 500, 1000, 1000 ms; the same total, but the first 50 ms polled
// finely: the host end is usually up within a millisecond or two of the pod end (docs/performance.md)
const PORT_UP_WAITS_MS = [0, 1, 2, 4, 8, 16, 19, 500, 1000, 1000];
const DAD_TIMEOUT_MS = 5000;
const DAD_POLL_MS = 50;

/** Options for kernelError. */
export interface KernelErrorOptions {
  /** The step sets up bridge VLAN filtering: an "unsupported" refusal means the kernel lacks it (code 7). */
  vlan?: boolean;
}

/**
 * A kernel refusal turned into a CNI error: the code comes from the error's kind (cniCodeOf via
 * `cniCode`: busy and timeout are 11), else 999; a VLAN step the kernel does not support is a
 * code-7 error saying so. Decided on data (kind, the step), never on the message.
 */
export function kernelError(what: string, e: unknown, opts: KernelErrorOptions = {}): CniError {
  if (e instanceof CniError) return e;
  const msg = (e as Error).message;
  if (opts.vlan && isKind(e, 'unsupported')) {
    return new CniError(
      ErrorCode.invalidConfig,
      `failed to ${what}: this kernel does not support bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)`,
      `${msg}; remove "vlan"/"vlanTrunk" from the config or run on a kernel with VLAN filtering`,
    );
  }
  return new CniError((e as { cniCode?: number }).cniCode ?? ErrorCode.internal, `failed to ${what}: ${msg}`, '', {
    cause: e,
  });
}

function delLink(exec: Executor, name: string, netns?: string): void {
  try {
    ipBatch(exec, [['link', 'del', 'dev', name]], { netns });
  } catch (e) {
    if (!isMissing(e, name)) throw e;
  }
}

// We own the routes of the links we create: no router advertisements (errors ignored, as upstream).
// A link created by this ADD has the default (1, or what conf/default says): written, not read
// first; `now` is the value already read through rtnetlink (then only a different one is written).
function acceptRaOff(host: Host, link: string, created = false, now?: string): void {
  if (now === '0') return;
  try {
    if (created || now !== undefined) host.setSysctl(`net/ipv6/conf/${link}/accept_ra`, '0');
    else host.writeSysctl(`net/ipv6/conf/${link}/accept_ra`, '0');
  } catch {
    // a node without IPv6 has no accept_ra to turn off
  }
}

/** Applies the node plan (bridge, veth, port flags, VLANs, gateway addresses, sysctls). */
export function applyNode(host: Host, exec: Executor, plan: NodePlan, hostVeth: string, undo: UndoStack): void {
  if (plan.createBridge) {
    try {
      ipBatch(exec, [plan.createBridge]);
    } catch (e) {
      if (!isKind(e, 'exists'))
        throw kernelError(`create bridge "${plan.createBridge[3]}"`, e, {
          vlan: plan.createBridge.includes('vlan_filtering'),
        });
    }
  }
  // the bridge's accept_ra and the forwarding switches read through rtnetlink where the executor
  // can: a /proc/sys/net lookup from the node walks past every pod netns's dentry (0.2-0.46 ms each
  // with 250 pods, docs/performance.md); else (Node, CNI_TS_NETLINK=0) read from /proc/sys
  const now = exec.sysctlsNetlink?.([`net/ipv6/conf/${plan.bridge}/accept_ra`, ...plan.forwarding.map(([k]) => k)]);
  acceptRaOff(host, plan.bridge, false, now?.[0]);
  runPortBatch(host, exec, plan.batch, hostVeth, undo);
  for (const link of plan.acceptRa) acceptRaOff(host, link, true);
  for (const [i, [k, v]] of plan.forwarding.entries()) {
    const known = now?.[i + 1];
    if (known === v) continue;
    try {
      if (known !== undefined) host.setSysctl(k, v);
      else host.writeSysctl(k, v);
    } catch (e) {
      throw new CniError(ErrorCode.internal, `failed to enable forwarding (${k}): ${(e as Error).message}`);
    }
  }
  try {
    bridgeBatch(exec, plan.vlans);
  } catch (e) {
    throw kernelError(`set the VLANs of ${hostVeth}`, e, { vlan: true });
  }
  if (plan.newVlanGateway) addVlanGateway(exec, plan.newVlanGateway, plan.gatewayLink);
  addGateways(exec, plan.gateway, plan.gatewayLink);
}

/**
 * The host veth's name is another link's: its `link add` failed with "exists" and a link of that
 * name is there. Nothing was created (the batch stopped there) and nothing is to be undone; ADD
 * draws another name. `error` is what ADD reports when it runs out of names.
 */
export class VethNameTaken extends Error {
  constructor(
    readonly veth: string,
    readonly error: CniError,
  ) {
    super(`the host veth name ${veth} is taken`);
    this.name = 'VethNameTaken';
  }
}

// Runs the node batch that creates the host veth. Its undo (delete the veth) is recorded unless
// the batch stopped at or before the veth's `link add`: then the veth is not ours, and a link of
// that name is someone else's (the name is random and not looked up first).
function runPortBatch(host: Host, exec: Executor, batch: readonly string[][], hostVeth: string, undo: UndoStack): void {
  const vethAdd = batch.findIndex((c) => c[0] === 'link' && c[1] === 'add' && c[3] === hostVeth);
  try {
    ipBatch(exec, batch);
  } catch (e) {
    const at = (e as ProcessError).failed?.index;
    if (at === undefined || at > vethAdd) undo.push(`veth ${hostVeth}`, () => delLink(exec, hostVeth));
    const error = kernelError('set up the bridge port', e);
    if (at === vethAdd && isKind(e, 'exists') && host.hasLink(hostVeth)) throw new VethNameTaken(hostVeth, error);
    throw error;
  }
  undo.push(`veth ${hostVeth}`, () => delLink(exec, hostVeth));
}

// Creates the VLAN gateway veth (shared by every pod of the VLAN, so never undone); a concurrent
// ADD that created it first also enslaves it and sets its VLAN.
function addVlanGateway(exec: Executor, gw: NonNullable<NodePlan['newVlanGateway']>, name: string): void {
  try {
    ipBatch(exec, gw.batch);
  } catch (e) {
    if (isKind(e, 'exists') && e.failed?.index === 0) return; // its `link add` (the first command)
    throw kernelError(`create the VLAN gateway interface ${name}`, e);
  }
  try {
    bridgeBatch(exec, gw.vlans);
  } catch (e) {
    throw kernelError(`set the VLAN of the gateway interface ${name}`, e, { vlan: true });
  }
}

// Runs the gateway address commands; one that fails because the address is already there (a
// concurrent ADD put it there) is skipped and the rest run on.
function addGateways(exec: Executor, cmds: readonly string[][], link: string): void {
  let rest = cmds;
  while (rest.length > 0) {
    try {
      ipBatch(exec, rest);
      return;
    } catch (e) {
      const at = isKind(e, 'exists') ? e.failed?.index : undefined;
      if (at === undefined || rest[at]?.[1] !== 'add') throw kernelError(`set the gateway address on ${link}`, e);
      rest = rest.slice(at + 1);
    }
  }
}

/** Applies the pod plan and returns the container interface as it ended up. */
export function applyPod(host: Host, exec: Executor, plan: PodPlan, netns: string, ifname: string): LinkState {
  try {
    const docs = ipBatch(exec, plan.batch, { netns, sysctls: plan.sysctls });
    let link = parseLinks(docs[docs.length - 1])[0];
    if (!link) throw new Error(`${ifname} is missing from ${netns}`);
    if (plan.settle) link = settle(host, exec, link, netns, ifname);
    return link;
  } catch (e) {
    throw kernelError(`configure ${ifname} in ${netns}`, e);
  }
}

// Waits until no IPv6 address is tentative (upstream SettleAddresses): DADFAILED is an error;
// still tentative after 5 s is an error only when the link is up.
function settle(host: Host, exec: Executor, first: LinkState, netns: string, ifname: string): LinkState {
  let link = first;
  for (let waited = 0; ; waited += DAD_POLL_MS) {
    const v6 = link.addrs.filter((a) => a.family === 6);
    const failed = v6.find((a) => a.dadfailed);
    if (failed) throw new Error(`link ${ifname} has address ${failed.local} in DADFAILED state (another host uses it)`);
    if (!v6.some((a) => a.tentative)) return link;
    if (waited >= DAD_TIMEOUT_MS) {
      if (link.operstate === 'UP')
        throw new Error(`link ${ifname} still has tentative addresses after ${DAD_TIMEOUT_MS / 1000} seconds`);
      return link;
    }
    host.sleep(DAD_POLL_MS);
    link = showLinks(exec, [ifname], netns)[0] ?? link;
  }
}

// The links from /sys/class/net without a process. Only trusted when sysfs shows the host veth
// we just created (its name is random), i.e. sysfs belongs to our netns; else undefined.
function fromSysfs(host: Host, names: readonly string[]): LinkBrief[] | undefined {
  const out: LinkBrief[] = [];
  for (const name of names) {
    const mac = host.readLinkAttr(name, 'address');
    const operstate = host.readLinkAttr(name, 'operstate');
    if (mac === undefined || operstate === undefined) return undefined;
    out.push({ name, mac, operstate: operstate.toUpperCase() });
  }
  return out;
}

// The host veth's operstate follows its peer's carrier through the kernel's link-watch work: the
// pod batch's `link set eth0 up` queues the host end's event for a kworker, so a sysfs read right
// after it found the port still down in 32 of 40 ADDs, and ADD slept 1 ms or more before the next
// look (docs/performance.md). An RTM_GETLINK of the link runs its pending event in our call
// (rtnl_getlink → linkwatch_sync_dev), so one lookup by name before the first look makes that
// look current; what the kernel ends up with is the same (the kworker's work, done earlier). Where
// the executor has no rtnetlink (fakes, Node, CNI_TS_NETLINK=0) nothing is sent and the polls run
// as before; a failing lookup changes nothing (the read-back reports a missing link itself).
function syncLinkState(exec: Executor, name: string): void {
  const commands = [['link', 'show', 'dev', name]];
  let direct: ReturnType<typeof openDirectIp>;
  try {
    direct = openDirectIp(exec, undefined, commands);
    direct?.link(name, { commands, at: 0 });
  } catch {
    // the read-back below finds and reports what is wrong
  } finally {
    direct?.close();
  }
}

/**
 * Reads the node links back (sysfs when it is ours, else one ip process), waiting for the host
 * veth to be up as upstream does (for 2.55 s in all), unless the container end stays down.
 */
export function readBack(
  host: Host,
  exec: Executor,
  names: { bridge: string; hostVeth: string; vlanGateway?: string },
  expectUp: boolean,
): NodeLinks {
  const list = [names.hostVeth, names.bridge, ...(names.vlanGateway ? [names.vlanGateway] : [])];
  if (expectUp) syncLinkState(exec, names.hostVeth);
  for (let i = 0; ; i++) {
    host.sleep(PORT_UP_WAITS_MS[i]!);
    const links: LinkBrief[] = fromSysfs(host, list) ?? showLinks(exec, list);
    const by = (n: string) => links.find((l) => l.name === n);
    const hostVeth = by(names.hostVeth);
    const bridge = by(names.bridge);
    if (!hostVeth || !bridge) throw new CniError(ErrorCode.internal, `failed to read back ${list.join(', ')}`);
    if (!expectUp || hostVeth.operstate === 'UP' || i === PORT_UP_WAITS_MS.length - 1) {
      if (expectUp && hostVeth.operstate !== 'UP')
        throw new CniError(
          ErrorCode.internal,
          `bridge port in error state: ${hostVeth.operstate}`,
          `${names.hostVeth} did not come up`,
        );
      const vlanGateway = names.vlanGateway ? by(names.vlanGateway) : undefined;
      return { bridge, hostVeth, ...(vlanGateway ? { vlanGateway } : {}) };
    }
  }
}
