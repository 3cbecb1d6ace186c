// The result cache, in libcni's layout and format so either library reads the other's files:
// <cacheDir>/results/<network>-<containerID>-<ifname>, one compact JSON object of kind
// "cniCacheV1" holding the list's bytes (base64), the runtime arguments and the final result.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { goJsonCompact, sortKeysDeep } from '@cni-ts/types';
import { struct, str } from './godecode.js';
import { type JsonObject, byteOrder } from './gojson.js';
import { type CniResult, convertResult, decodeResultBytes, encodeResult } from './result.js';

/** libcni's default cache directory. */
export const DEFAULT_CACHE_DIR = '/var/lib/cni';

/** The cache record's kind. */
export const CACHE_KIND = 'cniCacheV1';

/** Who an attachment is: the runtime's view of one interface of one container on one network. */
export interface RuntimeConf {
  containerID: string;
  /** CNI_NETNS (empty for GC/STATUS, or when the sandbox is gone). */
  netns: string;
  ifName: string;
  /** CNI_ARGS as key/value pairs, e.g. [["K8S_POD_NAME", "web"]]. */
  args?: Array<[string, string]>;
  /** Capability arguments; each plugin gets those it declares in `capabilities` as runtimeConfig. */
  capabilityArgs?: Record<string, unknown>;
}

/** A cached attachment (libcni's NetworkAttachment). */
export interface NetworkAttachment {
  containerID: string;
  network: string;
  ifName: string;
  /** The network configuration list the attachment was added with. */
  config: Buffer;
  netns: string;
  cniArgs?: Array<[string, string]>;
  capabilityArgs?: Record<string, unknown>;
  /** The cache file it was read from. */
  file: string;
}

/** The cache file of an attachment; network, container ID and interface name must all be set. */
export function cacheFilePath(
  cacheDir: string,
  network: string,
  rt: Pick<RuntimeConf, 'containerID' | 'ifName'>,
): string {
  if (!network || !rt.containerID || !rt.ifName) {
    throw new Error(
      `cache file path requires network name (${JSON.stringify(network)}), container ID (${JSON.stringify(rt.containerID)}), and interface name (${JSON.stringify(rt.ifName)})`,
    );
  }
  return join(cacheDir, 'results', `${network}-${rt.containerID}-${rt.ifName}`);
}

/** The cache record's bytes exactly as libcni's json.Marshal(&cachedInfo) writes them. */
export function encodeCacheRecord(
  result: CniResult | undefined,
  config: Buffer,
  network: string,
  rt: RuntimeConf,
): string {
  const rec: JsonObject = {
    kind: CACHE_KIND,
    containerId: rt.containerID,
    config: config.toString('base64'),
    ifName: rt.ifName,
    networkName: network,
  };
  if (rt.netns) rec.netns = rt.netns;
  if (rt.args?.length) rec.cniArgs = rt.args;
  if (rt.capabilityArgs && Object.keys(rt.capabilityArgs).length) rec.capabilityArgs = sortKeysDeep(rt.capabilityArgs);
  // libcni round-trips the result through a map: its keys end up sorted at every level
  if (result) rec.result = sortKeysDeep(encodeResult(result));
  return goJsonCompact(rec);
}

/** Writes an attachment's cache file (atomically: a reader never sees half a record). */
export function writeCache(
  cacheDir: string,
  result: CniResult | undefined,
  config: Buffer,
  network: string,
  rt: RuntimeConf,
): void {
  const file = cacheFilePath(cacheDir, network, rt);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp${process.pid}`;
  writeFileSync(tmp, encodeCacheRecord(result, config, network, rt), { mode: 0o600 });
  renameSync(tmp, file);
}

/** Removes an attachment's cache file; a missing one is fine. */
export function deleteCache(cacheDir: string, network: string, rt: Pick<RuntimeConf, 'containerID' | 'ifName'>): void {
  let file: string;
  try {
    file = cacheFilePath(cacheDir, network, rt);
  } catch {
    return;
  }
  try {
    rmSync(file, { force: true });
  } catch (e) {
    // something that is not a cache file sits where the entry belongs (a directory): it is left
    // alone, never removed recursively, and the pod's teardown is not blocked by it
    if ((e as NodeJS.ErrnoException).code !== 'EISDIR' && (e as NodeJS.ErrnoException).code !== 'ERR_FS_EISDIR')
      throw e;
  }
}

/** A decoded cache record. */
export interface CacheRecord {
  kind: string;
  containerId?: string;
  config?: Buffer;
  ifName?: string;
  networkName?: string;
  netns?: string;
  cniArgs?: Array<[string, string]>;
  capabilityArgs?: Record<string, unknown>;
  result?: JsonObject;
}

const recordDecoder = struct<Record<string, unknown>>('cachedInfo', {
  kind: str,
  containerId: str,
  config: (v) => {
    if (v === null || v === undefined) return undefined;
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0)
      throw new Error('illegal base64 data in config');
    return Buffer.from(v, 'base64');
  },
  ifName: str,
  networkName: str,
  netns: str,
  cniArgs: (v) => {
    if (v === null || v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((p) => !Array.isArray(p) || p.length !== 2 || p.some((x) => typeof x !== 'string')))
      throw new Error('json: cannot unmarshal cniArgs into [][2]string');
    return v;
  },
  capabilityArgs: (v) => (v && typeof v === 'object' && !Array.isArray(v) ? v : undefined),
  result: (v) => (v && typeof v === 'object' && !Array.isArray(v) ? v : undefined),
});

/** Parses a cache file's text as a v1 record; undefined when it is not one (e.g. a pre-0.4 bare result). */
export function decodeCacheRecord(text: string): CacheRecord | undefined {
  try {
    const r = recordDecoder(JSON.parse(text), '') as CacheRecord | undefined;
    return r?.kind === CACHE_KIND ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Reads an attachment's cache file; undefined when there is none (a read error counts as none, as in libcni). */
export function readCacheFile(
  cacheDir: string,
  network: string,
  rt: Pick<RuntimeConf, 'containerID' | 'ifName'>,
): string | undefined {
  const file = cacheFilePath(cacheDir, network, rt);
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The cached result of an attachment in `cniVersion` (libcni's getCachedResult): a v1 record's
 * result, or a legacy file that is a bare result, converted to the config's version.
 */
export function cachedResult(
  cacheDir: string,
  network: string,
  cniVersion: string,
  rt: RuntimeConf,
): CniResult | undefined {
  const text = readCacheFile(cacheDir, network, rt);
  if (text === undefined) return undefined;
  const rec = decodeCacheRecord(text);
  const result = decodeResultBytes(rec ? JSON.stringify(rec.result ?? null) : text);
  try {
    return convertResult(result, cniVersion);
  } catch (e) {
    throw new Error(`failed to convert cached result to config version "${cniVersion}": ${(e as Error).message}`);
  }
}

/** The runtime arguments an attachment was added with, and its list bytes (GetNetworkListCachedConfig). */
export function cachedConfig(
  cacheDir: string,
  network: string,
  rt: RuntimeConf,
): { config: Buffer; rt: RuntimeConf } | undefined {
  const text = readCacheFile(cacheDir, network, rt);
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = recordDecoder(JSON.parse(text), '');
  } catch (e) {
    throw new Error(`failed to unmarshal cached network "${network}" config: ${(e as Error).message}`);
  }
  const rec = raw as CacheRecord;
  if (rec.kind !== CACHE_KIND)
    throw new Error(`read cached network "${network}" config has wrong kind: ${rec.kind ?? ''}`);
  const out: RuntimeConf = { ...rt };
  if (rec.cniArgs) out.args = rec.cniArgs;
  if (rec.capabilityArgs) out.capabilityArgs = rec.capabilityArgs;
  else delete out.capabilityArgs;
  return { config: rec.config ?? Buffer.alloc(0), rt: out };
}

/** Every cached attachment, optionally of one container, in file name order (GetCachedAttachments). */
export function cachedAttachments(cacheDir: string, containerID = ''): NetworkAttachment[] {
  const dir = join(cacheDir, 'results');
  let names: string[];
  try {
    names = readdirSync(dir).sort(byteOrder);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: NetworkAttachment[] = [];
  for (const name of names) {
    if (containerID) {
      const part = `-${containerID}-`;
      const pos = name.indexOf(part);
      if (pos <= 0 || pos + part.length >= name.length) continue;
    }
    let text: string;
    try {
      text = readFileSync(join(dir, name), 'utf8');
    } catch {
      continue;
    }
    const rec = decodeCacheRecord(text);
    if (!rec || (containerID && rec.containerId !== containerID) || !rec.ifName || !rec.networkName) continue;
    const a: NetworkAttachment = {
      containerID: rec.containerId ?? '',
      network: rec.networkName,
      ifName: rec.ifName,
      config: rec.config ?? Buffer.alloc(0),
      netns: rec.netns ?? '',
      file: join(dir, name),
    };
    if (rec.cniArgs) a.cniArgs = rec.cniArgs;
    if (rec.capabilityArgs) a.capabilityArgs = rec.capabilityArgs;
    out.push(a);
  }
  return out;
}
