// Results in every spec version: parsing any version into the current shape, and printing the
// current shape in the version the runtime asked for, byte-compatible with libcni.
import * as z from 'zod/mini';
import { CniError, ErrorCode } from './errors.js';
import { foldKeys, isPlainObject } from './keys.js';
import { leanResult } from './lean.js';
import {
  type DNS,
  type Interface,
  type IPConfig,
  type Result,
  type Route,
  addressFamily,
  dnsIsEmpty,
} from './result.js';
import { cidrString, compact, ipString, opt, parseWith, presentFields } from './schema.js';
import { goJson, sortKeysDeep } from './json.js';
import { CURRENT_VERSION, resultFamily } from './version.js';

// Results are read liberally: whatever a released Go plugin or libcni (0.3.0–1.1.0) prints or
// re-marshals is a result. Fields Go leaves at their zero value ("" gateways, "" or missing ip
// `version`, missing `interface`, `dns: {}`) mean "absent"; an ip's family comes from its address;
// unknown keys are ignored and Go-capitalised keys folded. What is not a result at all (an
// address without a prefix, a string where a list belongs) is a code-6 error naming the field.
// The result's schemas as field builders: a result's schema is built from the keys it holds
// (presentFields), so reading host-local's {cniVersion, ips} builds neither the interface nor the
// route schema, and a current result never builds the 0.1.0/0.2.0 one.
const gwString = () => z.union([z.literal(''), ipString()]);
const route = () =>
  z.object({
    dst: cidrString(),
    gw: opt(gwString()),
    mtu: opt(z.int()),
    advmss: opt(z.int()),
    priority: opt(z.int()),
    table: opt(z.int()),
    scope: opt(z.int()),
  });
const dns = () =>
  z.object({
    nameservers: opt(z.array(z.string())),
    domain: opt(z.string()),
    search: opt(z.array(z.string())),
    options: opt(z.array(z.string())),
  });
const iface = () =>
  z.object({
    name: z.string(),
    mac: opt(z.string()),
    mtu: opt(z.int()),
    sandbox: opt(z.string()),
    socketPath: opt(z.string()),
    pciID: opt(z.string()),
  });
const ipc = () =>
  z.object({
    // Ignored: the family is the address's (Go's loopback and libcni's re-marshal leave it "").
    version: opt(z.string()),
    interface: opt(z.int().check(z.nonnegative())),
    address: cidrString(),
    gateway: opt(gwString()),
  });
const CURRENT_FIELDS = {
  cniVersion: () => opt(z.string()),
  interfaces: () => opt(z.array(iface())),
  ips: () => opt(z.array(ipc())),
  routes: () => opt(z.array(route())),
  dns: () => opt(dns()),
};
const ip020 = () => z.object({ ip: cidrString(), gateway: opt(gwString()), routes: opt(z.array(route())) });
const LEGACY_FIELDS = {
  cniVersion: () => opt(z.string()),
  ip4: () => opt(ip020()),
  ip6: () => opt(ip020()),
  dns: () => opt(dns()),
};

/**
 * Parses a result of any spec version (its own `cniVersion`, else `fallbackVersion`) into the
 * current shape, liberally (see above). Used for prevResult and for delegated IPAM results;
 * `what` names the input in errors ("prevResult" gives "invalid prevResult: ips[0].address: …").
 * The common shapes are read by lean.ts without building a schema; the rest by the schema.
 */
export function parseResult(raw: unknown, fallbackVersion: string, what = 'result'): Result {
  if (!isPlainObject(raw)) {
    const got = Array.isArray(raw) ? 'an array' : JSON.stringify(raw);
    throw new CniError(ErrorCode.decodingFailure, `invalid ${what}: expected a JSON object, got ${got}`);
  }
  const version = resultVersion(raw, fallbackVersion, what);
  if (resultFamily(version) === '0.2') {
    const s = z.object(presentFields(LEGACY_FIELDS, raw));
    const r = parseWith(s, foldKeys(s, raw), what, ErrorCode.decodingFailure);
    return fromLegacy(r, version);
  }
  return leanResult(raw, version) ?? schemaResult(raw, version, what);
}

/**
 * parseResult's reading of a 0.3.0–1.1.0 result through its zod schema: what decides every
 * result the lean reader (lean.ts) leaves alone, and its reference in tests.
 */
export function schemaResult(raw: Record<string, unknown>, version: string, what = 'result'): Result {
  const s = z.object(presentFields(CURRENT_FIELDS, raw));
  const r = parseWith(s, foldKeys(s, raw), what, ErrorCode.decodingFailure);
  const out: Result = { cniVersion: version };
  // an interface's name is required: "" stays "" (Go prints it so), only the optional fields lose their zero values
  if (r.interfaces?.length) out.interfaces = r.interfaces.map((i) => ({ ...blankless(i), name: i.name }) as Interface);
  if (r.ips?.length) out.ips = r.ips.map(({ version: _v, ...ip }) => blankless(ip) as IPConfig);
  if (r.routes?.length) out.routes = r.routes.map((rt) => blankless(rt) as Route);
  const dns = r.dns ? (blankless(r.dns) as DNS) : undefined;
  if (!dnsIsEmpty(dns)) out.dns = dns;
  return out;
}

// The result's own cniVersion (case-folded key; "" or missing means the config's, as libcni's
// fixupResultVersion does); one that is not a version at all is a decode error naming the field.
function resultVersion(raw: Record<string, unknown>, fallback: string, what: string): string {
  const key = Object.keys(raw).find((k) => k.toLowerCase() === 'cniversion');
  const v = key === undefined ? undefined : raw[key];
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v !== 'string' || !/^\d+(\.\d+){0,2}$/.test(v)) {
    throw new CniError(
      ErrorCode.decodingFailure,
      `invalid ${what}: cniVersion: must be a version such as "1.0.0", got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** Drops null, undefined and "" members (Go's zero values, which its encoder omits). */
function blankless<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== null && v !== undefined && v !== '') out[k] = v;
  return out as T;
}

type LegacyIP = {
  ip: string;
  gateway?: string | null | undefined;
  routes?: Array<{ dst: string; gw?: string | null | undefined }> | null | undefined;
};

type Nullable<T> = { [K in keyof T]?: T[K] | null };

function fromLegacy(
  r: { ip4?: LegacyIP | null | undefined; ip6?: LegacyIP | null | undefined; dns?: Nullable<DNS> | null | undefined },
  version: string,
): Result {
  const out: Result = { cniVersion: version };
  const ips: IPConfig[] = [];
  const routes: Route[] = [];
  for (const ipc of [r.ip4, r.ip6]) {
    if (!ipc) continue;
    ips.push(blankless({ address: ipc.ip, gateway: ipc.gateway }) as IPConfig);
    for (const rt of ipc.routes ?? []) routes.push(blankless({ dst: rt.dst, gw: rt.gw }) as Route);
  }
  if (ips.length) out.ips = ips;
  if (routes.length) out.routes = routes;
  const dns = r.dns ? (blankless(r.dns) as DNS) : undefined;
  if (!dnsIsEmpty(dns)) out.dns = dns;
  return out;
}

/** The result as a plain object in the shape of `version` (what libcni would decode). */
export function convertResult(result: Result, version: string): Record<string, unknown> {
  switch (resultFamily(version)) {
    case '0.2':
      return toLegacy(result, version);
    case '0.4':
      return toV04(result, version);
    default:
      return toV1(result, version);
  }
}

/** Prints the result in `version`'s shape exactly as libcni's PrintResult does. */
export function formatResult(result: Result, version: string): string {
  return goJson(convertResult(result, version));
}

function dnsOut(dns: DNS | undefined): DNS {
  if (!dns) return {};
  return compact({
    nameservers: dns.nameservers?.length ? dns.nameservers : undefined,
    domain: dns.domain || undefined,
    search: dns.search?.length ? dns.search : undefined,
    options: dns.options?.length ? dns.options : undefined,
  });
}

function routeOut(r: Route): Route {
  return compact({
    dst: r.dst,
    gw: r.gw,
    mtu: r.mtu || undefined,
    advmss: r.advmss || undefined,
    priority: r.priority || undefined,
    table: r.table,
    scope: r.scope,
  }) as Route;
}

function toV1(result: Result, version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: version };
  if (result.interfaces?.length) {
    out.interfaces = result.interfaces.map((i) =>
      compact({
        name: i.name,
        mac: i.mac || undefined,
        mtu: i.mtu || undefined,
        sandbox: i.sandbox || undefined,
        socketPath: i.socketPath || undefined,
        pciID: i.pciID || undefined,
      }),
    );
  }
  if (result.ips?.length)
    out.ips = result.ips.map((ip) => compact({ interface: ip.interface, address: ip.address, gateway: ip.gateway }));
  if (result.routes?.length) out.routes = result.routes.map(routeOut);
  if (!dnsIsEmpty(result.dns)) out.dns = dnsOut(result.dns);
  return sortKeysDeep(out) as Record<string, unknown>;
}

function toV04(result: Result, version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: version };
  if (result.interfaces?.length) {
    out.interfaces = result.interfaces.map((i) =>
      compact({ name: i.name, mac: i.mac || undefined, sandbox: i.sandbox || undefined }),
    );
  }
  if (result.ips?.length) {
    out.ips = result.ips.map((ip) =>
      compact({
        version: addressFamily(ip.address),
        interface: ip.interface,
        address: ip.address,
        gateway: ip.gateway,
      }),
    );
  }
  if (result.routes?.length) out.routes = result.routes.map(routeOut);
  out.dns = dnsOut(result.dns);
  return out;
}

function toLegacy(result: Result, version: string): Record<string, unknown> {
  const byFamily: Record<'4' | '6', Record<string, unknown> | undefined> = { '4': undefined, '6': undefined };
  for (const ip of result.ips ?? []) {
    const f = addressFamily(ip.address);
    byFamily[f] ??= compact({ ip: ip.address, gateway: ip.gateway });
  }
  if (!byFamily['4'] && !byFamily['6']) requireExpressible(version, false, 'the result has no IP address');
  for (const r of result.routes ?? []) {
    const target = byFamily[addressFamily(r.dst)];
    if (!target) continue;
    ((target.routes ??= []) as Route[]).push(compact({ dst: r.dst, gw: r.gw }) as Route);
  }
  const out: Record<string, unknown> = { cniVersion: version };
  if (byFamily['4']) out.ip4 = byFamily['4'];
  if (byFamily['6']) out.ip6 = byFamily['6'];
  out.dns = dnsOut(result.dns);
  return out;
}

/**
 * Throws the code-1 error that printing would, for a result that will carry no IP address in a
 * version before 0.3.0 (whose results must carry one). Plugins call it before changing anything,
 * so such an ADD fails without side effects; `why` says what lacks the address.
 */
export function requireExpressible(version: string, hasIps: boolean, why: string): void {
  if (hasIps || resultFamily(version) !== '0.2') return;
  throw new CniError(
    ErrorCode.incompatibleVersion,
    `cannot convert result to version ${version}: no valid IP addresses`,
    `${why}, and results before 0.3.0 must carry one: use cniVersion 0.3.0 or newer`,
  );
}

/** A fresh result in the current version. */
export function newResult(init: Omit<Result, 'cniVersion'> = {}): Result {
  return { cniVersion: CURRENT_VERSION, ...init };
}
