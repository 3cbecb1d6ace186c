// The portmap configuration: what users and runtimes write (keys matched case-insensitively, as
// Go decodes them: containerd's CRI sends "HostPort"), read by hand where it has the right types
// and through a zod/mini schema (config-schema.ts, imported only then) where it has not; the
// cross-field rules beside it, and one normalise step. Every value that ends up in
// iptables-restore or nft input is checked here, before anything on the node is read or changed
// (see values.ts).
import { type Context, pick } from '@cni-ts/skel';
import { configError, isPlainObject } from '@cni-ts/types';
import type { RawConf } from './config-schema.js';
import { checkChainName, checkConditions, parseMapping, type PortMapping } from './values.js';

export type { PortMapping, Protocol } from './values.js';

/** Which rule engine writes the mappings. */
export type Backend = 'iptables' | 'nftables';

/** The portmap config after defaults and validation. */
export interface PortmapConf {
  name: string;
  cniVersion: string;
  /** Unset: chosen at run time as upstream (iptables unless only nftables works). */
  backend?: Backend;
  snat: boolean;
  masqAll: boolean;
  /** The mark bit of CNI-HOSTPORT-SETMARK (0–31, default 13). */
  markMasqBit: number;
  /** An existing nat chain that marks packets for masquerading (e.g. kube-proxy's KUBE-MARK-MASQ). */
  externalSetMarkChain?: string;
  /** Extra match tokens for the entry rules, per family (iptables arguments or nft tokens). */
  conditionsV4?: string[];
  conditionsV6?: string[];
  mappings: PortMapping[];
}

/** The mark bit when the config gives none (upstream DefaultMarkBit; Kubernetes uses 14 and 15). */
export const DEFAULT_MARK_BIT = 13;

/** The keys of a mapping (parseMapping checks the values; the schema only folds the keys' case). */
const MAPPING_KEYS = ['hostPort', 'containerPort', 'protocol', 'hostIP'] as const;

/**
 * Parses and validates the config of an invocation; every mistake is a code-7 error saying what to
 * fix. A config of the right types is read without the schema (rawWithoutSchema: the schema's
 * checks by hand, compared with it by a test); only the rest loads the schema's module, which says
 * what is wrong. Building the schema is zod's first use in a run, about 2 ms of a cold process's
 * CPU, and loading zod's modules at all about 0.4 ms, which no usual run pays (docs/performance.md).
 */
export async function loadConf(ctx: Context): Promise<PortmapConf> {
  return readConf(ctx) ?? (await import('./config-schema.js')).loadConfWithSchema(ctx);
}

/** The config read without the schema (normalised and checked), or undefined when its types need the schema's reading. */
export function readConf(ctx: Context): PortmapConf | undefined {
  const raw = rawWithoutSchema(ctx.conf.raw);
  return raw && normalise(raw);
}

/** The cross-field rules and the values (checked for the batches they go into), after the schema. */
export function normalise(raw: RawConf): PortmapConf {
  if (raw.markMasqBit !== undefined && raw.markMasqBit !== null && raw.externalSetMarkChain != null) {
    throw configError(
      'Cannot specify externalSetMarkChain and markMasqBit',
      'the external chain marks packets itself; remove "markMasqBit" or "externalSetMarkChain"',
    );
  }
  const markMasqBit = raw.markMasqBit ?? DEFAULT_MARK_BIT;
  if (markMasqBit < 0 || markMasqBit > 31)
    throw configError(`MasqMarkBit must be between 0 and 31, got ${markMasqBit}`, 'set "markMasqBit" to 0–31');
  const conf: PortmapConf = {
    name: raw.name,
    cniVersion: raw.cniVersion,
    snat: raw.snat ?? true,
    masqAll: !!raw.masqAll,
    markMasqBit,
    mappings: (raw.runtimeConfig?.portMappings ?? []).map((m, i) => parseMapping(m, i)),
  };
  if (raw.backend != null) conf.backend = backendOf(raw.backend);
  if (raw.externalSetMarkChain != null)
    conf.externalSetMarkChain = checkChainName(raw.externalSetMarkChain, 'externalSetMarkChain');
  for (const key of ['conditionsV4', 'conditionsV6'] as const) {
    const list = raw[key];
    if (list == null) continue;
    // checked in the grammar they are written in now; checkForBackend refuses the wrong backend later
    checkConditions(list, backendOfConditions(list) ?? 'iptables', key);
    conf[key] = list;
  }
  return conf;
}

/**
 * The config DEL and GC work from: only what finds ADD's work (the network name) and the
 * backend when it names one, read without the schema (no cost, and a config change or a bad
 * mapping never stops a DEL). The mappings, when DEL needs them, come from `mappingsLenient`.
 */
export function loadConfLenient(ctx: Context): PortmapConf {
  const backend = pick(ctx.conf.raw, 'backend');
  return {
    name: ctx.conf.name,
    cniVersion: ctx.conf.cniVersion,
    snat: true,
    masqAll: false,
    markMasqBit: DEFAULT_MARK_BIT,
    mappings: [],
    ...(backend === 'iptables' || backend === 'nftables' ? { backend } : {}),
  };
}

/**
 * The config when it parses, else undefined (DEL: the mappings and conditions say which rules ADD
 * wrote), never building the schema: a config it would refuse is simply not used.
 */
export function loadConfOrUndefined(ctx: Context): PortmapConf | undefined {
  const raw = rawWithoutSchema(ctx.conf.raw);
  if (!raw) return undefined;
  try {
    return normalise(raw);
  } catch {
    return undefined;
  }
}

// The value foldKeys would put under `key` (the last key matching it in any case), or undefined.
function folded(obj: Record<string, unknown>, key: string): unknown {
  const lower = key.toLowerCase();
  let v: unknown;
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) v = obj[k];
  return v;
}

// The schema's checks by hand: undefined where it would refuse the config.
function rawWithoutSchema(top: Record<string, unknown>): RawConf | undefined {
  const ok = (v: unknown, type: (x: unknown) => boolean) => v === undefined || v === null || type(v);
  const isString = (x: unknown) => typeof x === 'string';
  const isBool = (x: unknown) => typeof x === 'boolean';
  const isInt = (x: unknown) => Number.isSafeInteger(x);
  const isStrings = (x: unknown) => Array.isArray(x) && x.every(isString);
  const get = (key: string) => folded(top, key);
  const [cniVersion, name] = [get('cniVersion'), get('name')];
  if (typeof cniVersion !== 'string' || typeof name !== 'string') return undefined;
  const checks: Array<[string, (x: unknown) => boolean]> = [
    ['backend', isString],
    ['snat', isBool],
    ['masqAll', isBool],
    ['markMasqBit', isInt],
    ['externalSetMarkChain', isString],
    ['conditionsV4', isStrings],
    ['conditionsV6', isStrings],
  ];
  const out: Record<string, unknown> = { cniVersion, name };
  for (const [key, type] of checks) {
    const v = get(key);
    if (!ok(v, type)) return undefined;
    if (v !== undefined) out[key] = v;
  }
  const rc = get('runtimeConfig');
  if (rc !== undefined && rc !== null) {
    if (!isPlainObject(rc)) return undefined;
    const list = folded(rc, 'portMappings');
    if (list !== undefined && list !== null) {
      if (!Array.isArray(list) || !list.every(isPlainObject)) return undefined;
      const portMappings = list.map((m: Record<string, unknown>) => {
        const o: Record<string, unknown> = { ...m };
        for (const k of MAPPING_KEYS) {
          const v = folded(m, k);
          for (const other of Object.keys(m))
            if (other !== k && other.toLowerCase() === k.toLowerCase()) delete o[other];
          if (v !== undefined) o[k] = v;
        }
        return o;
      });
      out.runtimeConfig = { portMappings };
    } else out.runtimeConfig = {};
  }
  return out as RawConf;
}

/** The mappings of a config that parses, else none. */
export function mappingsLenient(ctx: Context): PortMapping[] {
  return loadConfOrUndefined(ctx)?.mappings ?? [];
}

function backendOf(v: string): Backend {
  if (v === 'iptables' || v === 'nftables') return v;
  throw configError(
    `unrecognized backend "${v}"`,
    'set "backend" to "iptables" or "nftables", or leave it out to choose automatically',
  );
}

/** The backend a condition list is written for: iptables arguments start with '-' or '!'. */
export function backendOfConditions(c: readonly string[] | undefined): Backend | undefined {
  const first = c?.[0];
  if (!first) return undefined;
  return first.startsWith('-') || first.startsWith('!') ? 'iptables' : 'nftables';
}

/**
 * Checks the config against the backend that will run it (upstream ensureBackend): options of
 * the other backend are refused, and the conditions are checked in that backend's grammar.
 */
export function checkForBackend(conf: PortmapConf, backend: Backend): void {
  const own: Record<Backend, string[]> = { iptables: [], nftables: [] };
  if (conf.externalSetMarkChain !== undefined) own.iptables.push('externalSetMarkChain');
  for (const key of ['conditionsV4', 'conditionsV6'] as const) {
    const b = backendOfConditions(conf[key]);
    if (b) own[b].push(key);
  }
  const other: Backend = backend === 'iptables' ? 'nftables' : 'iptables';
  if (own[other].length) {
    throw configError(
      `${backend} backend was requested but configuration contains ${other}-specific options [${own[other].join(' ')}]`,
      `write the options for ${backend}, or set "backend": "${other}"`,
    );
  }
  checkConditions(conf.conditionsV4, backend, 'conditionsV4');
  checkConditions(conf.conditionsV6, backend, 'conditionsV6');
}
