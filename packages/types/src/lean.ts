// "Fast accept, slow reject" for results: a hand-written reader of the shapes real plugins print
// (0.3.0 and newer), which builds no zod schema. A cold process pays about 3 ms to build and run
// the result's zod schemas once (docs/startup.md); this reader costs microseconds. It accepts
// only what the schema path (convert.ts) accepts and returns exactly what that path returns, key
// order included; anything else — a Go-capitalised key, a wrong type, a bad address, a 0.1.0 or
// 0.2.0 result — makes it give up (undefined), and the schema path reads the input as before, so
// every error message and code is the schema path's. types/test/lean.test.ts holds the two paths
// to the same answers.
import { parseIP, parsePrefix } from '@cni-ts/netaddr';
import { CniError, ErrorCode } from './errors.js';
import { printValue } from './json.js';
import { hasCaseVariant, isPlainObject } from './keys.js';
import { type DNS, type Interface, type IPConfig, type Result, type Route, dnsIsEmpty } from './result.js';
import { resultFamily } from './version.js';

type Obj = Record<string, unknown>;

/** Thrown inside the reader to give up; never escapes leanResult. */
const GIVE_UP: unique symbol = Symbol('give up');

/**
 * parseResult without its schemas: the result, the code-6 error parseResult throws for input
 * that is no object or whose cniVersion is no version, or undefined when the schema path
 * (parseResult, convert.ts) must read it. Lets a caller that may never need zod (skel's dispatch
 * for prevResult) load it only then.
 */
export function parseResultLean(raw: unknown, fallbackVersion: string, what = 'result'): Result | undefined {
  if (!isPlainObject(raw)) {
    const got = Array.isArray(raw) ? 'an array' : JSON.stringify(raw);
    throw new CniError(ErrorCode.decodingFailure, `invalid ${what}: expected a JSON object, got ${got}`);
  }
  const version = resultVersion(raw, fallbackVersion, what);
  return resultFamily(version) === '0.2' ? undefined : leanResult(raw, version);
}

// The result's own cniVersion (case-folded key; "" or missing means the config's, as libcni's
// fixupResultVersion does); one that is not a version at all is a decode error naming the field.
export function resultVersion(raw: Record<string, unknown>, fallback: string, what: string): string {
  const key = Object.keys(raw).find((k) => k.toLowerCase() === 'cniversion');
  const v = key === undefined ? undefined : raw[key];
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v !== 'string' || !/^\d+(\.\d+){0,2}$/.test(v)) {
    throw new CniError(
      ErrorCode.decodingFailure,
      `invalid ${what}: cniVersion: must be a version such as "1.0.0", got ${printValue(v)}`,
    );
  }
  return v;
}

/**
 * The current-shape result that the schema path would return for `raw` (a 0.3.0–1.1.0 result
 * whose cniVersion is `version`), or undefined when this reader leaves `raw` to the schema path.
 */
export function leanResult(raw: Obj, version: string): Result | undefined {
  try {
    return read(raw, version);
  } catch (e) {
    if (e === GIVE_UP) return undefined;
    throw e;
  }
}

const TOP = ['cniVersion', 'interfaces', 'ips', 'routes', 'dns'] as const;
const IFACE = ['name', 'mac', 'mtu', 'sandbox', 'socketPath', 'pciID'] as const;
const IPC = ['version', 'interface', 'address', 'gateway'] as const;
const ROUTE = ['dst', 'gw', 'mtu', 'advmss', 'priority', 'table', 'scope'] as const;
const DNS_KEYS = ['nameservers', 'domain', 'search', 'options'] as const;

function read(raw: Obj, version: string): Result {
  const r = fields(raw, TOP);
  // cniVersion was checked by the caller (resultVersion); the schema reads it as an optional string
  if (r.cniVersion !== undefined && r.cniVersion !== null && typeof r.cniVersion !== 'string') throw GIVE_UP;
  const interfaces = list(r.interfaces, iface);
  const ips = list(r.ips, ipConfig);
  const routes = list(r.routes, route);
  const dns = r.dns === undefined || r.dns === null ? undefined : dnsOf(r.dns);
  const out: Result = { cniVersion: version };
  if (interfaces?.length) out.interfaces = interfaces;
  if (ips?.length) out.ips = ips;
  if (routes?.length) out.routes = routes;
  if (!dnsIsEmpty(dns)) out.dns = dns;
  return out;
}

// The members of `obj` named in `keys`, in the order of `keys` (the schema's output order).
// A key that differs from one of `keys` only in case would be folded onto it by the schema
// path, so the reader gives up on it; other keys are dropped, as the schema drops them.
function fields<K extends string>(obj: unknown, keys: readonly K[]): Partial<Record<K, unknown>> {
  if (!isPlainObject(obj) || hasCaseVariant(obj, keys)) throw GIVE_UP;
  const out: Partial<Record<K, unknown>> = {};
  for (const k of keys) if (Object.hasOwn(obj, k)) out[k] = obj[k];
  return out;
}

// An optional list: absent or null is undefined; anything else must be an array of `item`s.
function list<T>(v: unknown, item: (x: unknown) => T): T[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw GIVE_UP;
  return v.map(item);
}

function iface(v: unknown): Interface {
  const f = fields(v, IFACE);
  if (typeof f.name !== 'string') throw GIVE_UP;
  optString(f.mac);
  optInt(f.mtu);
  optString(f.sandbox);
  optString(f.socketPath);
  optString(f.pciID);
  // the schema path: {...blankless(i), name: i.name}
  return { ...blankless(f), name: f.name } as Interface;
}

function ipConfig(v: unknown): IPConfig {
  const { version, ...f } = fields(v, IPC);
  optString(version);
  optInt(f.interface);
  if (typeof f.interface === 'number' && f.interface < 0) throw GIVE_UP;
  cidr(f.address);
  optGateway(f.gateway);
  return blankless(f) as unknown as IPConfig;
}

function route(v: unknown): Route {
  const f = fields(v, ROUTE);
  cidr(f.dst);
  optGateway(f.gw);
  optInt(f.mtu);
  optInt(f.advmss);
  optInt(f.priority);
  optInt(f.table);
  optInt(f.scope);
  return blankless(f) as unknown as Route;
}

function dnsOf(v: unknown): DNS {
  const f = fields(v, DNS_KEYS);
  const out: Obj = {};
  for (const k of DNS_KEYS) {
    const x = f[k];
    if (!(k in f)) continue;
    if (k === 'domain') optString(x);
    else if (x !== undefined && x !== null) {
      if (!Array.isArray(x) || !x.every((s) => typeof s === 'string')) throw GIVE_UP;
      out[k] = [...x];
      continue;
    }
    out[k] = x;
  }
  return blankless(out) as DNS;
}

function optString(v: unknown): void {
  if (v !== undefined && v !== null && typeof v !== 'string') throw GIVE_UP;
}

function optInt(v: unknown): void {
  if (v !== undefined && v !== null && !Number.isSafeInteger(v)) throw GIVE_UP;
}

function cidr(v: unknown): void {
  if (typeof v !== 'string' || parsePrefix(v) === undefined) throw GIVE_UP;
}

function optGateway(v: unknown): void {
  if (v === undefined || v === null || v === '') return;
  if (typeof v !== 'string' || parseIP(v) === undefined) throw GIVE_UP;
}

/** Drops null, undefined and "" members, as the schema path's blankless does. */
function blankless(obj: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(obj)) if (v !== null && v !== undefined && v !== '') out[k] = v;
  return out;
}
