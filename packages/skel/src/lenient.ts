// A raw prevResult read leniently, as DEL reads it. DEL always cleans, so a prevResult that the
// result schema refuses (a wrong type somewhere, a bad route) must still find ADD's work, and
// decoding a whole result builds the result schema (several ms of a DEL's CPU, docs/performance.md)
// for two lists. This view reads only the interfaces and the addresses, from any cniVersion's
// shape (0.1.0/0.2.0's ip4/ip6 too), keys folded as the schema path folds them (pick: own keys,
// any case, the last spelling wins); a field that is not what a result holds is absent, never
// an error. On a result the schema path accepts, it reads what that path reads (skel's
// lenient.test.ts holds the two to the same answers).
import { parseIP, parsePrefix } from '@cni-ts/netaddr';
import { isPlainObject } from '@cni-ts/types';
import { type NetConf, pick, rawPrevResult } from './netconf.js';

/** An interface as the lenient view reads it: a field is present only when it is a string. */
export interface LenientInterface {
  /** Kept when "" too, as the schema path keeps a required name. */
  name?: string;
  mac?: string;
  sandbox?: string;
}

/** An address as the lenient view reads it. */
export interface LenientIP {
  /** "ip/len", as the result gives it (it parses as an address with a prefix). */
  address: string;
  /** The index into `interfaces`, when a non-negative integer. */
  interface?: number;
  /** When an address. */
  gateway?: string;
}

/** The interfaces and addresses of a result of any version, read leniently. */
export interface LenientResult {
  /** The result's interfaces index for index (ips' `interface` points into it); undefined where an entry is no object. */
  interfaces: Array<LenientInterface | undefined>;
  /** `ips` entries whose address parses, then 0.1.0/0.2.0's `ip4` and `ip6` (as the result conversion orders them). */
  ips: LenientIP[];
}

/** Reads `raw` (a prevResult as JSON.parse gave it, or anything else) leniently; never throws. */
export function lenientResult(raw: unknown): LenientResult {
  if (!isPlainObject(raw)) return { interfaces: [], ips: [] };
  const interfaces = listOf(pick(raw, 'interfaces')).map((i) => (isPlainObject(i) ? iface(i) : undefined));
  const ips: LenientIP[] = [];
  for (const ip of listOf(pick(raw, 'ips'))) {
    if (!isPlainObject(ip)) continue;
    const address = ipAddress(ip, 'address');
    if (address) ips.push(address);
  }
  for (const legacy of ['ip4', 'ip6']) {
    const ip = pick(raw, legacy);
    const address = isPlainObject(ip) ? ipAddress(ip, 'ip') : undefined;
    if (address) ips.push(address);
  }
  return { interfaces, ips };
}

const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function iface(i: Record<string, unknown>): LenientInterface {
  const out: LenientInterface = {};
  const name = pick(i, 'name');
  if (typeof name === 'string') out.name = name;
  for (const key of ['mac', 'sandbox'] as const) {
    const v = pick(i, key);
    // "" is Go's zero value, absent in the schema path's answer
    if (typeof v === 'string' && v !== '') out[key] = v;
  }
  return out;
}

// An ips entry (addressKey "address") or a 0.2.0 ip4/ip6 (addressKey "ip"), or undefined when its
// address is not an address with a prefix. 0.2.0's have no interface index.
function ipAddress(ip: Record<string, unknown>, addressKey: 'address' | 'ip'): LenientIP | undefined {
  const address = pick(ip, addressKey);
  if (typeof address !== 'string' || parsePrefix(address) === undefined) return undefined;
  const out: LenientIP = { address };
  const idx = addressKey === 'address' ? pick(ip, 'interface') : undefined;
  if (Number.isSafeInteger(idx) && (idx as number) >= 0) out.interface = idx as number;
  const gateway = pick(ip, 'gateway');
  if (typeof gateway === 'string' && parseIP(gateway) !== undefined) out.gateway = gateway;
  return out;
}

/** The lenient view of the prevResult in a config (an empty one when there is none). */
export function lenientPrevResult(conf: NetConf): LenientResult {
  return lenientResult(rawPrevResult(conf));
}
