// Network configurations as libcni reads them: a list (conflist) with its plugins, a single
// plugin config (.conf) up-converted to a list, the version chosen from cniVersion/cniVersions,
// and plugin objects aggregated from the `<dir>/<network name>/*.conf` folder beside a list.
import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { DecodeError, boolMap, list, str, struct } from './godecode.js';
import { type JsonObject, jsonType, marshalMap } from './gojson.js';
import { CURRENT_VERSION, compareVersions } from './version.js';

/** The keys of a plugin config that libcni itself reads (Go's types.PluginConf). */
export interface PluginConf {
  cniVersion?: string;
  name?: string;
  type: string;
  capabilities?: Record<string, boolean>;
  ipam?: { type?: string };
}

/** One plugin of a network: what libcni decoded and the exact bytes it sends on. */
export interface PluginConfig {
  network: PluginConf;
  /** The plugin's JSON object as Go re-marshals it (keys sorted, compact). */
  bytes: Buffer;
}

/** A network: a configuration list with its plugins in order. */
export interface NetworkConfigList {
  name: string;
  /** The version every plugin is run with (the highest of cniVersion ∪ cniVersions this library knows). */
  cniVersion: string;
  disableCheck: boolean;
  disableGC: boolean;
  loadOnlyInlinedPlugins: boolean;
  plugins: PluginConfig[];
  /** The list as it was read (what the result cache stores). */
  bytes: Buffer;
}

const pluginConfDecoder = struct<PluginConf>('PluginConf', {
  cniVersion: str,
  name: str,
  type: str,
  capabilities: boolMap,
  ipam: struct('IPAM', { type: str }),
  dns: struct('DNS', {
    nameservers: list(str, 'string'),
    domain: str,
    search: list(str, 'string'),
    options: list(str, 'string'),
  }),
  prevResult: (v, path) => {
    if (v === null || v === undefined || (typeof v === 'object' && !Array.isArray(v))) return v ?? undefined;
    throw new DecodeError(
      `json: cannot unmarshal ${jsonType(v)} into Go struct field ${path} of type map[string]interface {}`,
    );
  },
  'cni.dev/valid-attachments': list(struct('GCAttachment', { containerID: str, ifname: str }), 'types.GCAttachment'),
});

/** Decodes one plugin config (NetworkPluginConfFromBytes): it must be a JSON object with a `type`. */
export function pluginConfFromBytes(bytes: Buffer | string): PluginConfig {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  let raw: unknown;
  let network: PluginConf;
  try {
    raw = JSON.parse(buf.toString('utf8'));
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new DecodeError(`json: cannot unmarshal ${jsonType(raw)} into Go value of type types.PluginConf`);
    network = (pluginConfDecoder(raw, '') ?? {}) as PluginConf;
  } catch (e) {
    throw new Error(`error parsing configuration: ${(e as Error).message}`);
  }
  if (!network.type) throw new Error("error parsing configuration: missing 'type'");
  return { network, bytes: buf };
}

/** The raw JSON object of a plugin config. */
export function pluginObject(p: PluginConfig): JsonObject {
  return JSON.parse(p.bytes.toString('utf8')) as JsonObject;
}

/** Decodes a configuration list (NetworkConfFromBytes); plugins may be absent when a folder supplies them. */
export function confListFromBytes(bytes: Buffer | string): NetworkConfigList {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  const fail = (msg: string) => new Error(`error parsing configuration list: ${msg}`);
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw fail((e as Error).message);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw fail(`json: cannot unmarshal ${jsonType(raw)} into Go value of type map[string]interface {}`);
  const rawList = raw as JsonObject;
  if (!('name' in rawList)) throw fail('no name');
  if (typeof rawList.name !== 'string') throw fail(`invalid name type ${goTypeName(rawList.name)}`);
  let cniVersion = '';
  if ('cniVersion' in rawList) {
    if (typeof rawList.cniVersion !== 'string') throw fail(`invalid cniVersion type ${goTypeName(rawList.cniVersion)}`);
    cniVersion = rawList.cniVersion;
  }
  if ('cniVersions' in rawList) cniVersion = chooseVersion(rawList.cniVersions, cniVersion, fail);
  const readBool = (key: string): boolean => {
    if (!(key in rawList)) return false;
    const v = rawList[key];
    if (typeof v === 'boolean') return v;
    if (typeof v !== 'string') throw fail(`invalid type ${goTypeName(v)} for ${key}`);
    const s = v.toLowerCase();
    if (s === 'true' || s === 'false') return s === 'true';
    throw fail(`invalid value "${s}" for ${key}`);
  };
  const out: NetworkConfigList = {
    name: rawList.name,
    cniVersion,
    disableCheck: readBool('disableCheck'),
    disableGC: readBool('disableGC'),
    loadOnlyInlinedPlugins: readBool('loadOnlyInlinedPlugins'),
    plugins: [],
    bytes: buf,
  };
  if (!('plugins' in rawList)) {
    if (out.loadOnlyInlinedPlugins) throw fail("`loadOnlyInlinedPlugins` is true, and no 'plugins' key");
    return out;
  }
  if (!Array.isArray(rawList.plugins)) throw fail(`invalid 'plugins' type ${goTypeName(rawList.plugins)}`);
  if (rawList.plugins.length === 0) throw fail('no plugins in list');
  rawList.plugins.forEach((p, i) => {
    try {
      out.plugins.push(pluginConfFromBytes(marshalMap(p)));
    } catch (e) {
      throw new Error(`failed to parse plugin config ${i}: ${(e as Error).message}`);
    }
  });
  return out;
}

// libcni: entries newer than the version it implements are ignored; the highest of the rest wins
function chooseVersion(raw: unknown, cniVersion: string, fail: (m: string) => Error): string {
  if (!Array.isArray(raw)) throw fail(`invalid type for cniVersions: ${goTypeName(raw)}`);
  const known: string[] = [];
  const newer = (v: string, what: string) => {
    try {
      return compareVersions(v, CURRENT_VERSION) > 0;
    } catch (e) {
      throw fail(`invalid ${what}: ${(e as Error).message}`);
    }
  };
  raw.forEach((v, i) => {
    if (typeof v !== 'string') throw fail(`invalid type for cniVersions index ${i}: ${goTypeName(v)}`);
    if (!newer(v, `cniVersions entry ${v} at index ${i}`)) known.push(v);
  });
  if (cniVersion !== '' && !newer(cniVersion, `cniVersion ${cniVersion}`)) known.push(cniVersion);
  known.sort(compareVersions);
  return known.at(-1) ?? cniVersion;
}

// the Go type name libcni's messages print for a decoded JSON value (%T)
function goTypeName(v: unknown): string {
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return '[]interface {}';
  if (typeof v === 'object') return 'map[string]interface {}';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'boolean') return 'bool';
  return 'string';
}

/** Reads a list file, adding the plugin configs of the folder named after the network beside it (unless loadOnlyInlinedPlugins). */
export function confListFromFile(filename: string): NetworkConfigList {
  const list = confListFromBytes(readConfFile(filename));
  if (!list.loadOnlyInlinedPlugins) list.plugins.push(...pluginConfsFromFolder(dirname(filename), list.name));
  if (list.plugins.length === 0) throw new Error('no plugin configs found');
  return list;
}

/** The `<dir>/<network>/*.conf` plugin configs, in file name order. */
export function pluginConfsFromFolder(dir: string, network: string): PluginConfig[] {
  const folder = join(dir, network);
  let files: string[];
  try {
    files = confFiles(folder, ['.conf']);
  } catch (e) {
    throw new Error(`failed to read plugin config files in ${folder}: ${(e as Error).message}`);
  }
  return files.map((f) => pluginConfFromBytes(readConfFile(f)));
}

/** Reads a single plugin config file. */
export function confFromFile(filename: string): PluginConfig {
  return pluginConfFromBytes(readConfFile(filename));
}

/** Wraps a single plugin config as a one-plugin list (ConfListFromConf), taking its name and cniVersion. */
export function confListFromConf(conf: PluginConfig): NetworkConfigList {
  const raw = pluginObject(conf);
  return confListFromBytes(
    marshalMap({ cniVersion: conf.network.cniVersion ?? '', name: conf.network.name ?? '', plugins: [raw] }),
  );
}

/** Builds a list from a conflist object (for callers that hold one in memory). */
export function confListFromObject(obj: unknown): NetworkConfigList {
  return confListFromBytes(JSON.stringify(obj));
}

function readConfFile(filename: string): Buffer {
  try {
    return readFileSync(filename);
  } catch (e) {
    throw new Error(`error reading ${filename}: ${(e as Error).message}`);
  }
}

/** The files in dir with one of the extensions (not directories), as libcni's ConfFiles; none when dir is missing. */
export function confFiles(dir: string, extensions: readonly string[]): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries
    .filter((e) => !e.isDirectory() && extensions.includes(extname(e.name)))
    .map((e) => join(dir, e.name))
    .sort(byteOrderPath);
}

function byteOrderPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** No configuration of that name in the directory. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
  constructor(
    readonly dir: string,
    readonly network: string,
  ) {
    super(`no net configuration with name "${network}" in ${dir}`);
  }
}

/** The directory holds no configuration files at all. */
export class NoConfigsFoundError extends Error {
  override name = 'NoConfigsFoundError';
  constructor(readonly dir: string) {
    super(`no net configurations found in ${dir}`);
  }
}

/** Finds the single-plugin config (.conf, .json) named `name` in dir (LoadConf). */
export function loadConf(dir: string, name: string): PluginConfig {
  const files = confFiles(dir, ['.conf', '.json']);
  if (files.length === 0) throw new NoConfigsFoundError(dir);
  for (const f of files) {
    const conf = confFromFile(f);
    if (conf.network.name === name) return conf;
  }
  throw new NotFoundError(dir, name);
}

/**
 * Finds network `name` in dir as libcni's LoadNetworkConf does: every .conflist in file name
 * order (one that does not parse is an error), then the single-plugin configs, up-converted.
 */
export function loadConfList(dir: string, name: string): NetworkConfigList {
  const lists = confFiles(dir, ['.conflist']);
  for (const f of lists) {
    const list = confListFromFile(f);
    if (list.name === name) return list;
  }
  try {
    return confListFromConf(loadConf(dir, name));
  } catch (e) {
    if (e instanceof NoConfigsFoundError && lists.length) throw new NotFoundError(dir, name);
    throw e;
  }
}

/** One configuration file of a directory, parsed as a list, or why it could not be. */
export interface ConfFileEntry {
  file: string;
  list?: NetworkConfigList;
  error?: Error;
}

/**
 * Every network configuration in dir in the order runtimes consider them (.conf, .conflist and
 * .json by file name, as containerd's and CRI-O's loaders); the first that parses is the node's
 * default network.
 */
export function listConfFiles(dir: string): ConfFileEntry[] {
  return confFiles(dir, ['.conf', '.conflist', '.json']).map((file) => {
    try {
      const list = extname(file) === '.conflist' ? confListFromFile(file) : confListFromConf(confFromFile(file));
      return { file, list };
    } catch (e) {
      return { file, error: e as Error };
    }
  });
}

/** The node's default network: the first configuration in dir that parses (or why there is none). */
export function defaultConfList(dir: string): NetworkConfigList {
  const entries = listConfFiles(dir);
  const first = entries.find((e) => e.list);
  if (first?.list) return first.list;
  if (entries.length === 0) throw new NoConfigsFoundError(dir);
  throw new Error(
    `no valid network configuration in ${dir}: ${entries.map((e) => `${basename(e.file)}: ${e.error?.message}`).join('; ')}`,
  );
}
