// What DEL and GC read of the config: only what finds ADD's work (the network, the bridge, which
// rules ADD may have made, the IPAM plugin), read leniently, so a config that no longer validates
// — an unknown ipMasqBackend, a bad mtu, a typo in a value — still tears down what ADD made.
import { type Context, lenientPrevResult, pick } from '@cni-ts/skel';
import { isPlainObject } from '@cni-ts/types';
import { type BridgeConf, DEFAULT_BRIDGE, loadConf } from './config.js';

/** The config as DEL and GC read it. */
export type TeardownConf = Pick<
  BridgeConf,
  'name' | 'bridge' | 'vlan' | 'macspoofchk' | 'ipMasq' | 'ipMasqBackend' | 'ipamType'
>;

/**
 * Reads the keys teardown needs, never throwing: a value of the wrong type falls back to its
 * default, except the feature switches (`ipMasq`, `macspoofchk`), which count as on unless absent
 * or false — removing rules that are not there costs a lookup, keeping rules that are leaks them.
 */
export function teardownConf(ctx: Context): TeardownConf {
  const raw = ctx.conf.raw;
  const bridge = pick(raw, 'bridge');
  const vlan = pick(raw, 'vlan');
  const backend = pick(raw, 'ipMasqBackend');
  const ipam = pick(raw, 'ipam');
  const type = isPlainObject(ipam) ? pick(ipam, 'type') : undefined;
  const out: TeardownConf = {
    name: ctx.conf.name,
    bridge: typeof bridge === 'string' && bridge !== '' ? bridge : DEFAULT_BRIDGE,
    vlan: Number.isInteger(vlan) && (vlan as number) > 0 && (vlan as number) <= 4094 ? (vlan as number) : 0,
    macspoofchk: switchedOn(pick(raw, 'macspoofchk')),
    ipMasq: switchedOn(pick(raw, 'ipMasq')),
    ipamType: typeof type === 'string' ? type : '',
  };
  if (backend === 'iptables' || backend === 'nftables') out.ipMasqBackend = backend;
  return out;
}

function switchedOn(v: unknown): boolean {
  return v !== undefined && v !== null && v !== false;
}

/** Logs (once, on stderr) why the config would not validate for ADD; teardown goes on regardless. */
export function noteInvalidConf(ctx: Context, verb: string): void {
  try {
    loadConf(ctx, false);
  } catch (e) {
    ctx.log(`the configuration no longer validates (${(e as Error).message}); ${verb} cleans up with what it can read`);
  }
}

/** What DEL reads of prevResult: the addresses ADD handed out and the interfaces it reported. */
export interface TeardownPrev {
  /** "ip/len" of every address that parses. */
  addresses: string[];
  interfaces: Array<{ name: string; sandbox?: string }>;
}

/**
 * Reads prevResult's addresses (`ips[].address`, or 0.1.0/0.2.0's `ip4.ip`/`ip6.ip`) and named
 * interfaces through skel's lenient view, as teardownConf reads the config: a value that is not
 * what a result holds is skipped, never an error. Decoding the whole result would build the
 * result schema, about 5 ms of a DEL's CPU (docs/performance.md), for two lists.
 */
export function teardownPrev(ctx: Context): TeardownPrev {
  const prev = lenientPrevResult(ctx.conf);
  const interfaces: TeardownPrev['interfaces'] = [];
  for (const i of prev.interfaces) {
    if (i?.name === undefined) continue;
    interfaces.push(i.sandbox ? { name: i.name, sandbox: i.sandbox } : { name: i.name });
  }
  return { addresses: prev.ips.map((ip) => ip.address), interfaces };
}
