// The shaping of one pod as data, and the ip/tc commands that make it. Pure: no Executor.
//
//   pod netns            node netns (where the plugin runs)
//   ┌──────┐  veth pair  ┌───────────┐ egress of the host veth = traffic to the pod:
//   │ eth0 ├─────────────┤ host veth ├─ root tbf 1:  ("ingress" limit)
//   └──────┘             │           ├─ ingress qdisc ffff: + u32 match-all → mirred redirect ──┐
//                        └───────────┘                                                         │
//                        ┌───────────┐ traffic from the pod, redirected here:                  │
//                        │ ifb bwp…  ├─ root tbf 1:  ("egress" limit)  ◄───────────────────────┘
//                        └───────────┘ (then back into the node's stack as if from the veth)
import type { BandwidthConf, Direction, Limit } from './config.js';
import { ifbAlias, ifbName } from './names.js';
import { type Tbf, LATENCY_US, TICKS_PER_US, U32_MAX, tbfFor } from './tbf.js';
import { configError } from '@cni-ts/types';

/** The qdiscs, filter and ifb one pod gets. */
export interface ShapingPlan {
  /** The host-side veth of the pod. */
  veth: string;
  /** Root tbf on the veth (traffic to the pod). */
  ingress?: Tbf;
  /** The ifb with its root tbf (traffic from the pod), fed by a redirect on the veth's ingress. */
  egress?: { ifb: string; mtu: number; alias?: string; tbf: Tbf };
}

/** Ethernet header bytes on top of the MTU in a packet's length as tbf counts it. */
const L2_HEADER = 14;
/** The burst chosen when none is given: this much time at the rate (see docs/bandwidth.md). */
export const DEFAULT_BURST_MS = 10;
/** …but never fewer than this many full-size packets. */
export const DEFAULT_BURST_PACKETS = 2;
/** With a chosen burst, the queue in front of the bucket holds at least this many full-size packets. */
export const DEFAULT_QUEUE_PACKETS = 4;

/** The burst (bytes) for a rate (B/s) when the runtime gave none: 10 ms of traffic, at least 2 full packets. */
export function defaultBurst(rate: number, mtu: number): number {
  return Math.max(Math.floor((rate * DEFAULT_BURST_MS) / 1000), DEFAULT_BURST_PACKETS * (mtu + L2_HEADER));
}

/**
 * The queue limit (bytes) that goes with a chosen burst: upstream's (25 ms of traffic plus the burst),
 * but with room for at least 4 full-size packets besides the burst. That changes only rates below
 * ~1.9 Mbit/s, where 25 ms is under two packets and TCP, unable to recover losses by fast
 * retransmit, stalls on timeouts (docs/bandwidth.md has the measurements).
 */
export function defaultLimit(rate: number, burst: number, mtu: number): number {
  return burst + Math.max(Math.floor(rate / 40), DEFAULT_QUEUE_PACKETS * (mtu + L2_HEADER));
}

/** The tbf for a direction's limit on a link with this MTU; code 7 when tc cannot express it. */
export function tbfForLimit(dir: Direction, limit: Limit, mtu: number): Tbf {
  const key = (what: 'Rate' | 'Burst') => (limit.source === 'annotation' ? `the ${dir} annotation` : `${dir}${what}`);
  const rate = Math.floor(limit.rate / 8);
  if (rate < 1)
    throw configError(`${key('Rate')} of ${limit.rate} bit/s is below tc's smallest rate`, 'use at least 8 bit/s');
  const burst = limit.burst === undefined ? defaultBurst(rate, mtu) : Math.floor(limit.burst / 8);
  if (burst < 1) throw configError(`${key('Burst')} of ${limit.burst} bits is below one byte`, 'use at least 8 bits');
  if (burst >= U32_MAX) throw configError('burst cannot be more than 4GB', `${key('Burst')} is ${limit.burst} bits`);
  const micros = (burst * 1e6) / rate;
  if (micros * TICKS_PER_US >= 2 ** 32) {
    throw configError(
      `${key('Burst')} of ${limit.burst} bits lasts ${(micros / 1e6).toFixed(1)} s at ${limit.rate} bit/s, more than tc can hold`,
      `the kernel's token bucket holds at most ${(2 ** 32 / TICKS_PER_US / 1e6).toFixed(1)} s of traffic: lower the burst`,
    );
  }
  if (Math.floor(rate / 40) + burst > U32_MAX) {
    throw configError(
      `${key('Rate')} of ${limit.rate} bit/s is too large for tc`,
      `the queue limit (${LATENCY_US / 1000} ms of traffic plus the burst) would exceed 4 GiB`,
    );
  }
  const tbf = tbfFor(rate, burst, limit.burst === undefined ? defaultLimit(rate, burst, mtu) : undefined);
  if (tbf.buffer < 1)
    throw configError(`${key('Burst')} of ${limit.burst} bits is too small at ${limit.rate} bit/s`, 'raise the burst');
  return tbf;
}

/** The plan for one attachment, given its host veth and that veth's MTU. */
export function planShaping(conf: BandwidthConf, containerId: string, veth: string, mtu: number): ShapingPlan {
  const plan: ShapingPlan = { veth };
  if (conf.ingress) plan.ingress = tbfForLimit('ingress', conf.ingress, mtu);
  if (conf.egress) {
    const alias = ifbAlias(conf.name, containerId);
    plan.egress = {
      ifb: ifbName(conf.name, containerId),
      mtu,
      ...(alias ? { alias } : {}),
      tbf: tbfForLimit('egress', conf.egress, mtu),
    };
  }
  return plan;
}

/** The `ip` commands that create the ifb (up, MTU of the veth, no transmit queue, our alias) and show it. */
export function ifbCommands(egress: NonNullable<ShapingPlan['egress']>): string[][] {
  const { ifb, mtu, alias } = egress;
  return [
    ['link', 'add', 'name', ifb, 'mtu', String(mtu), 'txqueuelen', '0', 'type', 'ifb'],
    ['link', 'set', 'dev', ifb, ...(alias ? ['alias', alias] : []), 'up'],
    ['link', 'show', 'dev', ifb],
  ];
}

/** `tc qdisc add … root handle 1: tbf …` for a device. */
export function tbfCommand(dev: string, t: Tbf): string[] {
  return ['qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'tbf', ...tbfArgs(t)];
}

/** The tbf parameters as tc reads them: bytes per second, bytes, bytes. */
export function tbfArgs(t: Tbf): string[] {
  return ['rate', `${t.rate}Bps`, 'burst', String(t.burst), 'limit', String(t.limit)];
}

/** The tc commands of a plan, in an order where each step only adds to a working state. */
export function tcCommands(plan: ShapingPlan): string[][] {
  const out: string[][] = [];
  const { veth, egress, ingress } = plan;
  if (egress) {
    out.push(tbfCommand(egress.ifb, egress.tbf));
    out.push(['qdisc', 'add', 'dev', veth, 'handle', 'ffff:', 'ingress']);
    out.push(redirectCommand(veth, egress.ifb));
  }
  if (ingress) out.push(tbfCommand(veth, ingress));
  return out;
}

/** The match-all u32 filter on the veth's ingress that redirects every packet to the ifb (as upstream). */
export function redirectCommand(veth: string, ifb: string): string[] {
  return [
    'filter',
    'add',
    'dev',
    veth,
    'parent',
    'ffff:',
    'protocol',
    'all',
    'prio',
    '1',
    'u32',
    'match',
    'u32',
    '0',
    '0',
    'flowid',
    '1:1',
    'action',
    'mirred',
    'egress',
    'redirect',
    'dev',
    ifb,
  ];
}
