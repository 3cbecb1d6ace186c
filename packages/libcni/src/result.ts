// Plugin results as libcni holds them: one typed shape per result family (0.1.0/0.2.0,
// 0.3.0–0.4.0, 1.0.0/1.1.0), decoded as Go's types020/types040/types100 decode (unknown keys
// dropped, a 0.x `version: ""` kept as given), converted along libcni's converter graph and
// printed in each family's Go field order, so what we pass on and cache is what libcni would.
import {
  ALL_VERSIONS,
  type DNS,
  type IPConfig,
  type Interface,
  type Result,
  type Route,
  dnsIsEmpty,
  goJson,
  resultFamily as specFamily,
} from '@cni-ts/types';
import { type Decoder, DecodeError, cidr, int, ipAddr, list, str, struct } from './godecode.js';
import { type JsonObject, marshalMap } from './gojson.js';

/** A route and resolver settings: the same in every result version (a route's mtu…scope since 1.1.0). */
export type { DNS, Route };

/** A 0.1.0/0.2.0 result: at most one address per family. */
export interface Result020 {
  cniVersion: string;
  ip4?: IPConfig020;
  ip6?: IPConfig020;
  dns: DNS;
}

/** An address of a 0.1.0/0.2.0 result, with its routes. */
export interface IPConfig020 {
  ip: string;
  gateway?: string;
  routes?: Route[];
}

/** A 0.3.0, 0.3.1 or 0.4.0 result. */
export interface Result040 {
  cniVersion: string;
  interfaces?: Interface040[];
  ips?: IPConfig040[];
  routes?: Route[];
  dns: DNS;
}

/** An interface of a 0.3.x/0.4.0 result. */
export interface Interface040 {
  name: string;
  mac?: string;
  sandbox?: string;
}

/** An address of a 0.3.x/0.4.0 result; `version` is kept as the plugin wrote it (Go's loopback leaves it out). */
export interface IPConfig040 {
  version: string;
  interface?: number;
  address: string;
  gateway?: string;
}

/** A 1.0.0 or 1.1.0 result: the current shape, as plugins build it (@cni-ts/types). */
export type Result100 = Result;

/** An interface of a 1.x result. */
export type Interface100 = Interface;

/** An address of a 1.x result. */
export type IPConfig100 = IPConfig;

/** A result in any spec version. */
export type CniResult = Result020 | Result040 | Result100;

/** The versions each result family holds, as libcni registers its creators (every spec version, by family). */
export const RESULT_FAMILIES: Readonly<Record<'020' | '040' | '100', readonly string[]>> = {
  '020': ALL_VERSIONS.filter((v) => specFamily(v) === '0.2'),
  '040': ALL_VERSIONS.filter((v) => specFamily(v) === '0.4'),
  '100': ALL_VERSIONS.filter((v) => specFamily(v) === '1'),
};

export type ResultFamily = keyof typeof RESULT_FAMILIES;

/** The family of a result version, or undefined when libcni has no creator for it. */
export function resultFamily(version: string): ResultFamily | undefined {
  for (const [f, vs] of Object.entries(RESULT_FAMILIES)) if (vs.includes(version)) return f as ResultFamily;
  return undefined;
}

/** Narrows a result to the 1.x shape. */
export function isResult100(r: CniResult): r is Result100 {
  return resultFamily(r.cniVersion) === '100';
}

/** Narrows a result to the 0.3.x/0.4.0 shape. */
export function isResult040(r: CniResult): r is Result040 {
  return resultFamily(r.cniVersion) === '040';
}

/** Narrows a result to the 0.1.0/0.2.0 shape. */
export function isResult020(r: CniResult): r is Result020 {
  return resultFamily(r.cniVersion) === '020';
}

const strings = list(str, 'string');
const dnsDec = struct<DNS>('DNS', { nameservers: strings, domain: str, search: strings, options: strings });
const routeDec = struct<Route>('route', {
  dst: cidr,
  gw: ipAddr,
  mtu: int,
  advmss: int,
  priority: int,
  table: int,
  scope: int,
});
const routes = list(routeDec, 'types.Route');
const decoders: Record<ResultFamily, Decoder<JsonObject>> = {
  '020': struct('Result', {
    cniVersion: str,
    ip4: struct('ipConfig', { ip: cidr, gateway: ipAddr, routes }),
    ip6: struct('ipConfig', { ip: cidr, gateway: ipAddr, routes }),
    dns: dnsDec,
  }),
  '040': struct('Result', {
    cniVersion: str,
    interfaces: list(struct('Interface', { name: str, mac: str, sandbox: str }), '*types040.Interface'),
    ips: list(struct('ipConfig', { version: str, interface: int, address: cidr, gateway: ipAddr }), '*IPConfig'),
    routes,
    dns: dnsDec,
  }),
  '100': struct('Result', {
    cniVersion: str,
    interfaces: list(
      struct('Interface', { name: str, mac: str, mtu: int, sandbox: str, socketPath: str, pciID: str }),
      '*types100.Interface',
    ),
    ips: list(struct('ipConfig', { interface: int, address: cidr, gateway: ipAddr }), '*IPConfig'),
    routes,
    dns: dnsDec,
  }),
};

/**
 * Decodes a result as libcni's creator for `version` does (create.Create): the family's struct
 * fields only, and the decoded cniVersion must belong to the family.
 */
export function decodeResult(version: string, raw: unknown): CniResult {
  const family = resultFamily(version);
  if (!family) throw new DecodeError(`unsupported CNI result version "${version}"`);
  const r = (decoders[family](raw, '') ?? {}) as JsonObject;
  const got = typeof r.cniVersion === 'string' ? r.cniVersion : '';
  const supported = RESULT_FAMILIES[family];
  if (!supported.includes(got)) {
    throw new DecodeError(`result type supports [${supported.join(' ')}] but unmarshalled CNIVersion is "${got}"`);
  }
  return normalise(family, r) as unknown as CniResult;
}

// fills what Go's zero values print (the 0.x `dns: {}`, an IPConfig's `version` string)
function normalise(family: ResultFamily, r: JsonObject): JsonObject {
  if (family !== '100') r.dns ??= {};
  if (family === '040') for (const ip of (r.ips ?? []) as JsonObject[]) if (ip) ip.version ??= '';
  return r;
}

/** Decodes a result from bytes, taking its version from its own cniVersion ("" is 0.1.0), as CreateFromBytes does. */
export function decodeResultBytes(text: string): CniResult {
  const raw = JSON.parse(text) as unknown;
  const v = (raw as { cniVersion?: unknown })?.cniVersion;
  return decodeResult(typeof v === 'string' && v !== '' ? v : '0.1.0', raw);
}

/** The result as Go marshals it (field order, omitted zero values); a 1.x result as libcni ≥ 1.2 does (keys sorted, empty dns dropped). */
export function encodeResult(r: CniResult): JsonObject {
  switch (resultFamily(r.cniVersion)) {
    case '020':
      return encode020(r as Result020);
    case '040':
      return encode040(r as Result040);
    case '100':
      return JSON.parse(marshalMap(encode100(r as Result100))) as JsonObject;
    default:
      throw new DecodeError(`unsupported CNI result version "${r.cniVersion}"`);
  }
}

/** The result printed as a plugin or cnitool prints it (4-space indent, no trailing newline). */
export function printResult(r: CniResult): string {
  return goJson(encodeResult(r));
}

function omit<T extends JsonObject>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined || o[k] === '' || o[k] === 0) delete o[k];
  return o;
}

function encodeRoute(rt: Route | null): JsonObject | null {
  if (!rt) return null;
  const out: JsonObject = omit({ dst: rt.dst, gw: rt.gw, mtu: rt.mtu, advmss: rt.advmss, priority: rt.priority });
  if (rt.dst === undefined) out.dst = '<nil>';
  if (rt.table !== undefined) out.table = rt.table;
  if (rt.scope !== undefined) out.scope = rt.scope;
  return out;
}

function encodeDns(d: DNS | undefined): JsonObject {
  const out: JsonObject = {};
  if (d?.nameservers?.length) out.nameservers = d.nameservers;
  if (d?.domain) out.domain = d.domain;
  if (d?.search?.length) out.search = d.search;
  if (d?.options?.length) out.options = d.options;
  return out;
}

function nonEmpty<T>(a: T[] | undefined): a is T[] {
  return Array.isArray(a) && a.length > 0;
}

function encode020(r: Result020): JsonObject {
  const ipc = (c: IPConfig020 | undefined) => {
    if (!c) return undefined;
    const o: JsonObject = { ip: c.ip ?? '<nil>' };
    if (c.gateway) o.gateway = c.gateway;
    if (nonEmpty(c.routes)) o.routes = c.routes.map(encodeRoute);
    return o;
  };
  const out: JsonObject = { cniVersion: r.cniVersion };
  const ip4 = ipc(r.ip4);
  const ip6 = ipc(r.ip6);
  if (ip4) out.ip4 = ip4;
  if (ip6) out.ip6 = ip6;
  out.dns = encodeDns(r.dns);
  return out;
}

function encode040(r: Result040): JsonObject {
  const out: JsonObject = { cniVersion: r.cniVersion };
  if (nonEmpty(r.interfaces))
    out.interfaces = r.interfaces.map((i) => (i ? omit({ name: i.name ?? '', mac: i.mac, sandbox: i.sandbox }) : null));
  for (const i of (out.interfaces ?? []) as Array<JsonObject | null>) if (i && !('name' in i)) i.name = '';
  if (nonEmpty(r.ips))
    out.ips = r.ips.map((ip) => {
      if (!ip) return null;
      const o: JsonObject = { version: ip.version ?? '' };
      if (ip.interface !== undefined) o.interface = ip.interface;
      o.address = ip.address ?? '<nil>';
      if (ip.gateway) o.gateway = ip.gateway;
      return o;
    });
  if (nonEmpty(r.routes)) out.routes = r.routes.map(encodeRoute);
  out.dns = encodeDns(r.dns);
  return out;
}

function encode100(r: Result100): JsonObject {
  const out: JsonObject = { cniVersion: r.cniVersion };
  if (nonEmpty(r.interfaces))
    out.interfaces = r.interfaces.map((i) => {
      if (!i) return null;
      const o = omit({
        name: i.name,
        mac: i.mac,
        mtu: i.mtu,
        sandbox: i.sandbox,
        socketPath: i.socketPath,
        pciID: i.pciID,
      });
      o.name = i.name ?? '';
      return o;
    });
  if (nonEmpty(r.ips))
    out.ips = r.ips.map((ip) => {
      if (!ip) return null;
      const o: JsonObject = {};
      if (ip.interface !== undefined) o.interface = ip.interface;
      o.address = ip.address ?? '<nil>';
      if (ip.gateway) o.gateway = ip.gateway;
      return o;
    });
  if (nonEmpty(r.routes)) out.routes = r.routes.map(encodeRoute);
  if (!dnsIsEmpty(r.dns)) out.dns = encodeDns(r.dns);
  return out;
}

/**
 * Converts a result to another version along libcni's converter graph (GetAsVersion): the same
 * version is returned as is, versions of one family copy, and across families fields are mapped
 * as types020/040/100 do (0.x `version` computed from the address going down, dropped going up;
 * only the first address of each family survives 0.2.0). "" means 0.1.0.
 */
export function convertResult(r: CniResult, toVersion: string): CniResult {
  const to = toVersion === '' ? '0.1.0' : toVersion;
  const from = r.cniVersion;
  if (from === to) return r;
  const ff = resultFamily(from);
  const tf = resultFamily(to);
  if (!ff || !tf) throw new Error(`no converter for CNI result version ${from} to ${to}`);
  if (ff === tf) return { ...structuredClone(r), cniVersion: to } as CniResult;
  if (ff === '020') {
    const r040 = from020(r as Result020, tf === '040' ? to : '0.4.0');
    return tf === '040' ? r040 : from040(r040, to);
  }
  if (ff === '040') return tf === '100' ? from040(r as Result040, to) : to020(r as Result040, to);
  const r040 = to040(r as Result100, tf === '040' ? to : '0.4.0');
  return tf === '040' ? r040 : to020(r040, to);
}

function copyRoutes(rs: Route[] | undefined): Route[] {
  return (rs ?? []).map((x) => structuredClone(x));
}

function withRoutes<T extends { routes?: Route[] }>(out: T, rs: Route[]): T {
  if (rs.length) out.routes = rs;
  return out;
}

function from020(r: Result020, to: string): Result040 {
  const out: Result040 = { cniVersion: to, dns: structuredClone(r.dns ?? {}) };
  const ips: IPConfig040[] = [];
  const rs: Route[] = [];
  for (const [c, v] of [
    [r.ip4, '4'],
    [r.ip6, '6'],
  ] as const) {
    if (!c) continue;
    ips.push(omitUndefined({ version: v, address: c.ip, gateway: c.gateway }));
    rs.push(...copyRoutes(c.routes));
  }
  if (ips.length) out.ips = ips;
  return withRoutes(out, rs);
}

function from040(r: Result040, to: string): Result100 {
  const out: Result100 = { cniVersion: to, dns: structuredClone(r.dns ?? {}) };
  if (nonEmpty(r.interfaces))
    out.interfaces = r.interfaces.map(
      (i) => omitUndefined({ name: i?.name, mac: i?.mac, sandbox: i?.sandbox }) as Interface100,
    );
  if (nonEmpty(r.ips))
    out.ips = r.ips.map(
      (ip) => omitUndefined({ interface: ip?.interface, address: ip?.address, gateway: ip?.gateway }) as IPConfig100,
    );
  return withRoutes(out, copyRoutes(r.routes));
}

function to040(r: Result100, to: string): Result040 {
  const out: Result040 = { cniVersion: to, dns: structuredClone(r.dns ?? {}) };
  if (nonEmpty(r.interfaces))
    out.interfaces = r.interfaces.map(
      (i) => omitUndefined({ name: i?.name, mac: i?.mac, sandbox: i?.sandbox }) as Interface040,
    );
  if (nonEmpty(r.ips))
    out.ips = r.ips.map(
      (ip) =>
        omitUndefined({
          version: isV4(ip?.address) ? '4' : '6',
          interface: ip?.interface,
          address: ip?.address,
          gateway: ip?.gateway,
        }) as IPConfig040,
    );
  return withRoutes(out, copyRoutes(r.routes));
}

function to020(r: Result040, to: string): Result020 {
  const out: Result020 = { cniVersion: to, dns: structuredClone(r.dns ?? {}) };
  for (const ip of r.ips ?? []) {
    if (ip?.version === '4' && !out.ip4) out.ip4 = omitUndefined({ ip: ip.address, gateway: ip.gateway });
    else if (ip?.version === '6' && !out.ip6) out.ip6 = omitUndefined({ ip: ip.address, gateway: ip.gateway });
    if (out.ip4 && out.ip6) break;
  }
  for (const rt of r.routes ?? []) {
    const target = isV4(rt?.dst) ? out.ip4 : out.ip6;
    if (target) (target.routes ??= []).push(omitUndefined({ dst: rt.dst, gw: rt.gw }));
  }
  if (!out.ip4 && !out.ip6) throw new Error('cannot convert: no valid IP addresses');
  return out;
}

// Go's To4() != nil: dotted IPv4, and (after our canonical printing) IPv4-mapped addresses too
function isV4(address: string | undefined): boolean {
  return !!address && !address.split('/')[0]?.includes(':');
}

function omitUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

/** The result in the current (1.1.0) shape, for callers that want one shape whatever the plugin spoke. */
export function currentResult(r: CniResult): Result100 {
  return convertResult(r, '1.1.0') as Result100;
}
