// STATUS: could an ADD succeed now? The store must be creatable or writable, its lock obtainable,
// and every range set must have a free address. Failures are code 50 ("plugin not available").
import { accessSync, constants, statSync } from 'node:fs';
import { CniError, ErrorCode } from '@cni-ts/types';
import { countIn, exhausted } from './allocator.js';
import type { IpamConfig } from './config.js';
import { storeDir } from './paths.js';
import { setCapacity } from './rangeset.js';
import type { DiskStore } from './store.js';

const unavailable = (msg: string, details = '') => new CniError(ErrorCode.pluginNotAvailable, msg, details);

/** Throws code 50 when the store cannot take a reservation; code 7 for configuration mistakes. */
export async function storeStatus(
  cfg: IpamConfig,
  locked: (fn: (s: DiskStore) => Set<string>) => Promise<Set<string> | undefined>,
): Promise<void> {
  const dir = storeDir(cfg.dataDir, cfg.name, false);
  if (!dir) {
    creatable(`${cfg.dataDir}/${cfg.name}`);
    return;
  }
  writable(dir);
  let reserved: Set<string> | undefined;
  try {
    reserved = await locked((s) => s.reservedIPs());
  } catch (e) {
    if (e instanceof CniError && e.code === ErrorCode.tryAgainLater) throw unavailable(e.message, e.details);
    throw e;
  }
  for (const pool of cfg.pools) {
    const capacity = setCapacity(pool.ranges);
    if (countIn(pool, reserved ?? []) >= capacity) {
      const e = exhausted(cfg, pool, capacity);
      throw unavailable(e.message, e.details);
    }
  }
}

function writable(dir: string): void {
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw unavailable(
      `the IP store ${dir} is not writable: ${(e as NodeJS.ErrnoException).code}`,
      'host-local must run as root on a writable file system; check ipam.dataDir',
    );
  }
}

// The store does not exist yet: its nearest existing ancestor must be a writable directory.
function creatable(path: string): void {
  let dir = path;
  for (;;) {
    dir = dir.slice(0, dir.lastIndexOf('/')) || '/';
    try {
      if (!statSync(dir).isDirectory())
        throw unavailable(`the IP store ${path} cannot be created: ${dir} is not a directory`, 'check ipam.dataDir');
      break;
    } catch (e) {
      if (e instanceof CniError) throw e;
      if (dir === '/') throw e;
    }
  }
  writable(dir);
}
