// host-local: hands out addresses from the configured range sets and remembers them on disk
// (<dataDir>/<network>/), under the store's flock, compatible with the Go plugin's store.
import { parseIP } from '@cni-ts/netaddr';
import { type Context, type Plugin, validAttachments } from '@cni-ts/skel';
import { ALL_VERSIONS, CniError, ErrorCode, type Result, newResult } from '@cni-ts/types';
import { allocateAll, verifyAttachment } from './allocator.js';
import { type StoreConfig, loadIpamConfig, loadStoreConfig } from './config.js';
import { readResolvConf } from './dns.js';
import { describeOwner, stale, toRelease } from './owners.js';
import { storeDir } from './paths.js';
import { storeStatus } from './status.js';
import { DiskStore } from './store.js';

/** How long a run waits for the store lock before answering code 11 ("try again later"). */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

/** The lock timeout: CNI_TS_LOCK_TIMEOUT_MS from the environment (ms), else the default. */
export function lockTimeout(env: Readonly<Record<string, string | undefined>>): number {
  const v = Number(env.CNI_TS_LOCK_TIMEOUT_MS || NaN);
  return Number.isFinite(v) && v >= 0 ? v : DEFAULT_LOCK_TIMEOUT_MS;
}

/** Runs fn on the network's store with its lock held; undefined when the store does not exist and create is off. */
export async function withStore<T>(
  ctx: Context,
  cfg: StoreConfig,
  create: boolean,
  fn: (store: DiskStore) => T,
): Promise<T | undefined> {
  const dir = storeDir(cfg.dataDir, cfg.name, create);
  if (!dir) return undefined;
  const store = new DiskStore(dir, cfg.name);
  const lock = await store.lock(lockTimeout(ctx.env));
  try {
    return fn(store);
  } finally {
    lock.release();
  }
}

async function add(ctx: Context): Promise<Result> {
  const cfg = loadIpamConfig(ctx.conf, ctx.args.args, ctx.log);
  const dns = cfg.resolvConf ? readResolvConf(cfg.resolvConf) : undefined;
  const ips = await withStore(ctx, cfg, true, (s) => allocateAll(s, cfg, ctx.args.containerId, ctx.args.ifname));
  return newResult({ ips: ips!, ...(cfg.routes.length ? { routes: cfg.routes } : {}), ...(dns ? { dns } : {}) });
}

// DEL needs only the store's location: a configuration whose ranges no longer parse can still be
// cleaned up. A configuration that names no usable store (no "ipam", a dataDir ADD would refuse)
// cannot have reserved anything: DEL says so on stderr and succeeds, rather than block the pod's deletion.
async function del(ctx: Context): Promise<void> {
  let cfg: StoreConfig;
  try {
    cfg = loadStoreConfig(ctx.conf);
  } catch (e) {
    if (!(e instanceof CniError) || e.code !== ErrorCode.invalidConfig) throw e;
    ctx.log(`DEL: nothing to release: ${e.message} (an ADD with this configuration could not have reserved anything)`);
    return;
  }
  const { containerId: id, ifname } = ctx.args;
  await withStore(ctx, cfg, false, (s) => {
    removeAll(
      s,
      toRelease(s.held(id, ifname), id, ifname),
      `release the addresses of container ${id} interface ${ifname}`,
    );
  });
}

async function check(ctx: Context): Promise<void> {
  const cfg = loadIpamConfig(ctx.conf, ctx.args.args, ctx.log);
  const { containerId: id, ifname } = ctx.args;
  const held = (await withStore(ctx, cfg, false, (s) => s.held(id, ifname))) ?? [];
  const prevIPs = (ctx.prevResult?.ips ?? []).map((ip) => ip.address);
  const problems = verifyAttachment(cfg.pools, held, prevIPs);
  if (problems.length) {
    throw new CniError(
      ErrorCode.checkFailed,
      `host-local: Failed to find address added by container ${id} (interface ${ifname}) in network "${cfg.name}": ${problems.join('; ')}`,
      `its reservation in ${cfg.dataDir}/${cfg.name} is gone (released by DEL or GC, or the directory was wiped); delete and re-create the pod`,
    );
  }
}

// GC: every reservation whose owner the runtime no longer lists goes; lock and last_reserved_ip.* stay.
async function gc(ctx: Context): Promise<void> {
  const cfg = loadStoreConfig(ctx.conf);
  const valid = validAttachments(ctx.conf);
  if (!valid) {
    ctx.log('GC without "cni.dev/valid-attachments": nothing released');
    return;
  }
  await withStore(ctx, cfg, false, (s) => {
    const gone = stale(
      s.reservations().filter((r) => parseIP(r.file) !== undefined),
      valid,
    );
    removeAll(s, gone, `garbage-collect network "${cfg.name}"`);
    for (const r of gone) ctx.log(`GC released ${r.ip} of network "${cfg.name}" (${describeOwner(r.owner)})`);
    s.removeStrays();
  });
}

// Removes every file, carrying on past failures, then reports them all (code 5).
function removeAll(s: DiskStore, list: ReadonlyArray<{ file: string }>, what: string): void {
  const errors: string[] = [];
  for (const r of list) {
    try {
      s.remove(r.file);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (errors.length) throw new CniError(ErrorCode.ioFailure, `failed to ${what}: ${errors.join('; ')}`);
}

async function status(ctx: Context): Promise<void> {
  const cfg = loadIpamConfig(ctx.conf, ctx.args.args, ctx.log);
  await storeStatus(cfg, (fn) => withStore(ctx, cfg, false, fn));
}

/** The host-local IPAM plugin. */
export const hostLocal: Plugin = { name: 'host-local', versions: ALL_VERSIONS, add, del, check, gc, status };
