// Reading results of every spec version into the current shape through their zod schemas (the
// common shapes are read by lean.ts first; printing is print.ts).
import * as z from 'zod/mini';
import { ErrorCode } from './errors.js';
import { foldKeys } from './keys.js';
import { parseResultLean, resultVersion } from './lean.js';
import { type DNS, type Interface, type IPConfig, type Result, type Route, dnsIsEmpty } from './result.js';
import { cidrString, ipString, opt, parseWith, presentFields } from './schema.js';
import { resultFamily } from './version.js';

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
  const lean = parseResultLean(raw, fallbackVersion, what);
  if (lean) return lean;
  const obj = raw as Record<string, unknown>; // parseResultLean refused everything else
  const version = resultVersion(obj, fallbackVersion, what);
  if (resultFamily(version) === '0.2') {
    const s = z.object(presentFields(LEGACY_FIELDS, obj));
    const r = parseWith(s, foldKeys(s, obj), what, ErrorCode.decodingFailure);
    return fromLegacy(r, version);
  }
  return schemaResult(obj, version, what);
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
