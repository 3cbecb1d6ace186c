// The CNI result in its current (1.1.0) form, which every plugin builds internally.
import { CURRENT_VERSION } from './version.js';

/** An interface created or used by a plugin. */
export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

/** An address assigned to an interface; `interface` indexes Result.interfaces. */
export interface IPConfig {
  interface?: number;
  address: string;
  gateway?: string;
}

/** A route a plugin installed or wants installed. */
export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

/** Resolver configuration returned to the runtime. */
export interface DNS {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A CNI result in the current spec version's shape. */
export interface Result {
  cniVersion: string;
  interfaces?: Interface[];
  ips?: IPConfig[];
  routes?: Route[];
  dns?: DNS;
}

/** True when the DNS object carries nothing. */
export function dnsIsEmpty(dns: DNS | undefined): boolean {
  return !dns || (!dns.nameservers?.length && !dns.domain && !dns.search?.length && !dns.options?.length);
}

/** "4" or "6" from an "ip/prefix" or bare ip string. */
export function addressFamily(address: string): '4' | '6' {
  return address.includes(':') && !/^::ffff:\d+\.\d+\.\d+\.\d+/i.test(address) ? '6' : '4';
}

/** A fresh result in the current version. */
export function newResult(init: Omit<Result, 'cniVersion'> = {}): Result {
  return { cniVersion: CURRENT_VERSION, ...init };
}
