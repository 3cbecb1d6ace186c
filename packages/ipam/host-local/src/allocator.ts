// The allocator: pure logic against a Store (the disk store, or an in-memory fake in tests).
// The caller holds the store's lock for the whole call.
import { type IP, formatIP, parseIP } from '@cni-ts/netaddr';
import { type CniError, type IPConfig, configError } from '@cni-ts/types';
import { type IpamConfig, type Pool, type Requested, describePool } from './config.js';
import { canonicalAddr, formatRange, isExcluded, type Range } from './range.js';
import { candidates, rangeFor, setCapacity, setContains } from './rangeset.js';
import { type Reservation, describeOwner } from './owners.js';

/** The reservation store host-local allocates from (upstream's backend.Store, minus locking). */
export interface Store {
  /** Names of the reservation files, i.e. the taken addresses (no file is read). */
  reservedIPs(): Set<string>;
  /** Every reservation with its owner (reads every reservation file). */
  reservations(): Reservation[];
  /** The reservations of (id, ifname), legacy id-only ones included: heldBy(reservations(), id, ifname). */
  held(id: string, ifname: string): Reservation[];
  /** Creates the reservation of ip for (id, ifname) unless it exists; records it as last of rangeId. */
  reserve(ip: string, id: string, ifname: string, rangeId: string): boolean;
  /** The address last reserved from rangeId, if recorded. */
  lastReserved(rangeId: string): string | undefined;
  /** Deletes one reservation file. */
  remove(file: string): void;
}

/** What allocation needs from the configuration. */
export type AllocConfig = Pick<IpamConfig, 'name' | 'dataDir' | 'pools' | 'requested'>;

/**
 * Reserves one address per range set for (id, ifname): a requested address where one falls in the
 * set, else the next free one in round-robin order. All or nothing: on any failure the addresses
 * reserved by this call are released again.
 */
export function allocateAll(store: Store, cfg: AllocConfig, id: string, ifname: string): IPConfig[] {
  const pending = [...cfg.requested];
  const made: string[] = [];
  let held: Reservation[] | undefined;
  const heldNow = () => (held ??= store.held(id, ifname));
  try {
    const out = cfg.pools.map((pool) => {
      const i = pending.findIndex((r) => setContains(pool.ranges, r.ip));
      const req = i >= 0 ? pending.splice(i, 1)[0] : undefined;
      const got = req
        ? reserveRequested(store, cfg, pool, req, id, ifname)
        : reserveNext(store, cfg, pool, heldNow(), id, ifname);
      made.push(formatIP(got.ip));
      return { address: `${formatIP(got.ip)}/${got.range.subnet.bits}`, gateway: formatIP(got.range.gateway) };
    });
    if (pending.length) {
      const what = pending.map((r) => `${formatIP(r.ip)} (${r.from})`).join(', ');
      throw configError(
        `failed to allocate all requested IPs: ${what} not in any range of network "${cfg.name}"`,
        `request addresses inside ${cfg.pools.map(describePool).join(', ')}; at most one per range set`,
      );
    }
    return out;
  } catch (e) {
    for (const ip of made) {
      try {
        store.remove(ip);
      } catch {
        // the original error matters more; the runtime's DEL after a failed ADD releases the rest
      }
    }
    throw e;
  }
}

interface Got {
  ip: IP;
  range: Range;
}

function reserveRequested(store: Store, cfg: AllocConfig, pool: Pool, req: Requested, id: string, ifname: string): Got {
  const key = formatIP(req.ip);
  const range = rangeFor(pool.ranges, req.ip)!;
  if (isExcluded(range, req.ip)) {
    const what =
      req.ip.value === range.gateway.value
        ? 'gateway'
        : req.ip.value === range.subnet.ip.value
          ? 'network address'
          : 'broadcast address';
    throw configError(
      `requested IP ${key} (${req.from}) is the ${what} of range ${formatRange(range)} (${range.where})`,
      'request an address that can be assigned to a container',
    );
  }
  if (!store.reserve(key, id, ifname, pool.id)) {
    const owner = store.reservations().find((r) => r.ip === key);
    throw configError(
      `requested IP address ${key} (${req.from}) is not available in ${describePool(pool)} of network "${cfg.name}": it is reserved${owner ? ` by ${describeOwner(owner.owner)}` : ''}`,
      'request another address, or DEL the attachment that holds it first',
    );
  }
  return { ip: req.ip, range };
}

function reserveNext(store: Store, cfg: AllocConfig, pool: Pool, held: Reservation[], id: string, ifname: string): Got {
  const dup = held.find((r) => {
    const ip = parseIP(r.ip);
    return ip && setContains(pool.ranges, canonicalAddr(ip));
  });
  if (dup) {
    throw configError(
      `${dup.ip} has been allocated to ${id} (interface ${ifname}) in ${describePool(pool)} of network "${cfg.name}", duplicate allocation is not allowed`,
      'the runtime sent ADD twice for one attachment; DEL it before adding it again',
    );
  }
  // taken addresses are skipped by name, so each try costs a set lookup, not a file creation
  const reserved = store.reservedIPs();
  const lastText = store.lastReserved(pool.id);
  const lastIP = lastText ? parseIP(lastText) : undefined;
  for (const c of candidates(pool.ranges, lastIP && canonicalAddr(lastIP))) {
    const key = formatIP(c.ip);
    if (!reserved.has(key) && store.reserve(key, id, ifname, pool.id)) return c;
  }
  throw exhausted(cfg, pool, setCapacity(pool.ranges));
}

/** How many reserved addresses are allocatable addresses of the pool. */
export function countIn(pool: Pool, reserved: Iterable<string>): bigint {
  let n = 0n;
  for (const key of reserved) {
    const parsed = parseIP(key);
    if (!parsed) continue;
    const ip = canonicalAddr(parsed);
    const r = rangeFor(pool.ranges, ip);
    if (r && !isExcluded(r, ip)) n += 1n;
  }
  return n;
}

/** The code-7 error for a full range set: it names the network, the range and what to do. */
export function exhausted(cfg: Pick<AllocConfig, 'name' | 'dataDir'>, pool: Pool, capacity: bigint): CniError {
  return configError(
    `no IP addresses available in ${describePool(pool)} of network "${cfg.name}": all ${capacity} usable addresses are reserved`,
    `free addresses by deleting the pods that hold them (or let the runtime run CNI GC), or widen ${pool.where}; the reservations are the files in ${cfg.dataDir}/${cfg.name}`,
  );
}

/**
 * CHECK's comparison: every range set must hold a reservation of the attachment, and every
 * prevResult address inside the range sets must be one of them. Returns the problems found.
 */
export function verifyAttachment(
  pools: readonly Pool[],
  held: readonly Reservation[],
  prevIPs: readonly string[],
): string[] {
  const problems: string[] = [];
  const ips = held.flatMap((r) => {
    const p = parseIP(r.ip);
    return p ? [canonicalAddr(p)] : [];
  });
  for (const pool of pools) {
    if (!ips.some((ip) => setContains(pool.ranges, ip)))
      problems.push(`no address of ${describePool(pool)} is reserved for it`);
  }
  for (const text of prevIPs) {
    const parsed = parseIP(text.split('/')[0]!);
    if (!parsed) continue;
    const ip = canonicalAddr(parsed);
    if (
      pools.some((p) => setContains(p.ranges, ip)) &&
      !ips.some((x) => x.value === ip.value && x.family === ip.family)
    ) {
      problems.push(`prevResult address ${text} is not reserved for it`);
    }
  }
  return problems;
}
