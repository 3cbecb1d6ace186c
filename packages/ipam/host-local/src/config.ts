// host-local's configuration: the schema of what users write (keys matched case-insensitively, as
// Go's decoder does), and a pure step that turns it into canonical range sets ("pools").
// Like upstream, the whole network configuration is read, not only its "ipam" section.
import * as z from 'zod/mini';
import { type IP, formatIP, formatPrefix, parseIP, parsePrefix } from '@cni-ts/netaddr';
import { type NetConf, loadCniArgs } from '@cni-ts/skel';
import {
  CniError,
  ErrorCode,
  type Route,
  compareVersions,
  configError,
  foldKeys,
  lazySchema,
  opt,
  parseWith,
  presentFields,
  valuesOfKey,
} from '@cni-ts/types';
import { leanNetConf, leanStoreConf } from './lean-conf.js';
import { type RawRange, canonicalAddr, formatRange, parseAddr } from './range.js';
import { type RangeSet, canonicalSet, setFamily, setsOverlap, formatSet } from './rangeset.js';

/** Where the store lives when ipam.dataDir is not set (upstream's default). */
export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';

/** What DEL and GC need: which directory holds this network's reservations. */
export interface StoreConfig {
  /** The network name: the store directory under dataDir. */
  name: string;
  dataDir: string;
}

/** One range set with its rangeID (its index, naming last_reserved_ip.<id>) and where it came from. */
export interface Pool {
  id: string;
  where: string;
  ranges: RangeSet;
}

/** An address the runtime asked for, and where it asked. */
export interface Requested {
  ip: IP;
  from: string;
}

/** The full configuration ADD, CHECK and STATUS work from. */
export interface IpamConfig extends StoreConfig {
  cniVersion: string;
  pools: Pool[];
  routes: Route[];
  resolvConf?: string;
  requested: Requested[];
}

const str = () => opt(z.string({ error: 'must be a string' }));
const int = () => opt(z.int({ error: 'must be an integer' }));
const rangeSets = () => {
  const range = z.object(
    { subnet: str(), rangeStart: str(), rangeEnd: str(), gateway: str() },
    { error: 'must be a range object ({"subnet": …})' },
  );
  return z.array(z.array(range, { error: 'must be a list of ranges ([{"subnet": …}])' }), {
    error: 'must be a list of range sets ([[{"subnet": …}]])',
  });
};
const route = () =>
  z.object(
    {
      dst: z.string({ error: 'must be a CIDR string' }),
      gw: str(),
      mtu: int(),
      advmss: int(),
      priority: int(),
      table: int(),
      scope: int(),
    },
    { error: 'must be a route object ({"dst": …})' },
  );
const ips = () => z.array(z.string({ error: 'must be an address string' }), { error: 'must be a list of addresses' });

// The keys of "ipam" host-local reads, as builders: a config's schema is built from the keys it
// holds (presentFields), so a run pays for the few a config names.
const IPAM_FIELDS = {
  type: str,
  subnet: str,
  rangeStart: str,
  rangeEnd: str,
  gateway: str,
  routes: () => opt(z.array(route(), { error: 'must be a list of routes' })),
  dataDir: str,
  resolvConf: str,
  ranges: () => opt(rangeSets()),
};

/** The schema ADD, CHECK and STATUS parse the network configuration `raw` with. */
function netSchema(raw: unknown) {
  return z.object(
    presentFields(
      {
        ipam: () =>
          opt(z.object(presentFields(IPAM_FIELDS, ...valuesOfKey(raw, 'ipam')), { error: 'must be an object' })),
        runtimeConfig: () => opt(z.object({ ipRanges: opt(rangeSets()), ips: opt(ips()) })),
        args: () => opt(z.object({ cni: opt(z.object({ ips: opt(ips()) })) })),
      },
      raw,
    ),
  );
}

/** The schema DEL and GC parse with: only where the store is. */
const storeSchema = lazySchema(() =>
  z.object({ ipam: opt(z.object({ dataDir: str() }, { error: 'must be an object' })) }),
);

const noIpam = () =>
  configError(
    'IPAM config missing "ipam" key',
    'host-local reads the "ipam" section of the network configuration: add "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.1.0.0/24"}]]}',
  );

type StoreParsed = z.output<ReturnType<typeof storeSchema>>;
type NetParsed = z.output<ReturnType<typeof netSchema>>;

// The lean readers (lean-conf.ts) read the usual shapes without building a schema; whatever they
// leave, and every error, is the schema's (`lean` false: the schema alone, for the tests that
// hold the two paths to the same answers).

/** The store location only (DEL and GC): a config with broken ranges can still be cleaned up. */
export function loadStoreConfig(conf: NetConf, lean = true): StoreConfig {
  const fast = lean ? (leanStoreConf(conf.raw) as StoreParsed | undefined) : undefined;
  const raw = fast ?? parseStore(conf.raw);
  if (!raw.ipam) throw noIpam();
  return { name: conf.name, dataDir: checkDataDir(raw.ipam.dataDir || DEFAULT_DATA_DIR) };
}

/** The whole configuration, with requested IPs from CNI_ARGS, args.cni.ips and runtimeConfig.ips. */
export function loadIpamConfig(
  conf: NetConf,
  cniArgs: string,
  warn: (msg: string) => void = () => {},
  lean = true,
): IpamConfig {
  const fast = lean ? (leanNetConf(conf.raw) as NetParsed | undefined) : undefined;
  const raw = fast ?? parseNet(conf.raw);
  const ipam = raw.ipam;
  if (!ipam) throw noIpam();
  const pools = buildPools(raw.runtimeConfig?.ipRanges ?? [], ipam, ipam.ranges ?? [], warn);
  checkPools(pools, conf.cniVersion);
  const out: IpamConfig = {
    name: conf.name,
    cniVersion: conf.cniVersion,
    dataDir: checkDataDir(ipam.dataDir || DEFAULT_DATA_DIR),
    pools,
    routes: (ipam.routes ?? []).map((r, i) => canonicalRoute(r, `ipam.routes[${i}]`)),
    requested: requestedIPs(cniArgs, raw.args?.cni?.ips ?? [], raw.runtimeConfig?.ips ?? []),
  };
  if (ipam.resolvConf) out.resolvConf = ipam.resolvConf;
  return out;
}

function parseStore(raw: unknown) {
  const s = storeSchema();
  return parseWith(s, foldKeys(s, raw), 'host-local config');
}

function parseNet(raw: unknown) {
  const s = netSchema(raw);
  return parseWith(s, foldKeys(s, raw), 'host-local config');
}

// Final order as upstream: runtimeConfig.ipRanges, then the legacy single range, then ipam.ranges.
function buildPools(
  ipRanges: RawRange[][],
  legacy: RawRange,
  ranges: RawRange[][],
  warn: (msg: string) => void,
): Pool[] {
  const sets: Array<{ where: string; ranges: RangeSet }> = [];
  for (const [i, set] of ipRanges.entries()) {
    sets.push({ where: `runtimeConfig.ipRanges[${i}]`, ranges: canonicalSet(set, `runtimeConfig.ipRanges[${i}]`) });
  }
  if (legacy.subnet) {
    const { subnet, rangeStart, rangeEnd, gateway } = legacy;
    sets.push({
      where: 'ipam',
      ranges: canonicalSet([{ subnet, rangeStart, rangeEnd, gateway }], 'ipam', () => 'ipam'),
    });
  } else {
    const stray = (['rangeStart', 'rangeEnd', 'gateway'] as const).filter((k) => legacy[k]);
    if (stray.length)
      warn(
        `ipam.${stray.join(', ipam.')} ignored: they only apply together with ipam.subnet (put them inside a range of "ranges")`,
      );
  }
  for (const [i, set] of ranges.entries()) {
    sets.push({ where: `ipam.ranges[${i}]`, ranges: canonicalSet(set, `ipam.ranges[${i}]`) });
  }
  if (sets.length === 0) {
    throw configError(
      'no IP ranges specified',
      'set "ipam": {"ranges": [[{"subnet": "10.1.0.0/24"}]]} (one inner list per address to hand out)',
    );
  }
  return sets.map((s, i) => ({ id: String(i), ...s }));
}

function checkPools(pools: Pool[], cniVersion: string): void {
  for (let i = 0; i < pools.length; i++) {
    for (let j = i + 1; j < pools.length; j++) {
      if (setsOverlap(pools[i]!.ranges, pools[j]!.ranges)) {
        throw configError(
          `range set ${i} (${pools[i]!.where}: ${formatSet(pools[i]!.ranges)}) overlaps with range set ${j} (${pools[j]!.where}: ${formatSet(pools[j]!.ranges)})`,
          'each range set hands out one address per attachment, so their ranges must not share addresses',
        );
      }
    }
  }
  const v4 = pools.filter((p) => setFamily(p.ranges) === 4).length;
  if ((v4 > 1 || pools.length - v4 > 1) && compareVersions(cniVersion, '0.3.0') < 0) {
    throw configError(
      `CNI version ${cniVersion} does not support more than 1 address per family`,
      'results before 0.3.0 carry one IPv4 and one IPv6 address: use cniVersion 0.3.0 or newer, or one range set per family',
    );
  }
}

function checkDataDir(dir: string): string {
  if (!dir.startsWith('/')) {
    throw configError(
      `ipam.dataDir "${dir}" is not an absolute path`,
      'write it from the root, e.g. "/var/lib/cni/networks"',
    );
  }
  if (dir.split('/').some((seg) => seg === '.' || seg === '..')) {
    throw configError(
      `ipam.dataDir "${dir}" contains "." or ".." segments`,
      'write the plain absolute path of the store directory',
    );
  }
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

type RawRoute = {
  dst: string;
  gw?: string | null;
  mtu?: number | null;
  advmss?: number | null;
  priority?: number | null;
  table?: number | null;
  scope?: number | null;
};

function canonicalRoute(r: RawRoute, where: string): Route {
  const dst = parsePrefix(r.dst);
  if (!dst)
    throw configError(
      `${where}.dst "${r.dst}" is not a valid CIDR`,
      'write the destination as network/length, e.g. "0.0.0.0/0"',
    );
  const out: Route = { dst: formatPrefix({ ip: canonicalAddr(dst.ip), bits: dst.bits }) };
  if (r.gw) out.gw = formatIP(parseAddr(r.gw, `${where}.gw`));
  for (const k of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const)
    if (typeof r[k] === 'number') out[k] = r[k]!;
  return out;
}

function requestedIPs(cniArgs: string, argsIps: string[], runtimeIps: string[]): Requested[] {
  const out = new Map<string, Requested>();
  const add = (text: string, from: string, code: number) => {
    const ip = parseRequested(text);
    if (!ip)
      throw new CniError(
        code,
        `${from}: "${text}" is not an IP address`,
        'write an address, optionally with a prefix length: "10.1.0.5" or "10.1.0.5/24"',
      );
    const key = formatIP(ip);
    if (!out.has(key)) out.set(key, { ip, from });
  };
  const env = loadCniArgs(cniArgs, ['IP']).IP;
  if (env) add(env, 'CNI_ARGS IP', ErrorCode.invalidEnvironment);
  for (const [i, t] of argsIps.entries()) add(t, `args.cni.ips[${i}]`, ErrorCode.invalidConfig);
  for (const [i, t] of runtimeIps.entries()) add(t, `runtimeConfig.ips[${i}]`, ErrorCode.invalidConfig);
  return [...out.values()];
}

// "ip" or "ip/len" (the prefix length is ignored, as upstream).
function parseRequested(text: string): IP | undefined {
  const ip = text.includes('/') ? parsePrefix(text)?.ip : parseIP(text);
  return ip ? canonicalAddr(ip) : undefined;
}

/** A short description of a pool for messages: `range set 0 (10.1.0.1-10.1.0.254)`. */
export function describePool(p: Pool): string {
  return `range set ${p.id} (${p.ranges.map(formatRange).join(',')})`;
}
