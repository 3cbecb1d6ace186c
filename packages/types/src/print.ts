// Printing results: the current shape in the version the runtime asked for, byte-compatible with
// libcni's PrintResult. No schema here, so a run that only prints a result loads no zod.
import { CniError, ErrorCode } from './errors.js';
import { compact, goJson, sortKeysDeep } from './json.js';
import { type DNS, type Result, type Route, addressFamily, dnsIsEmpty } from './result.js';
import { resultFamily } from './version.js';

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
