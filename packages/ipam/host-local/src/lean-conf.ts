// "Fast accept, slow reject" for host-local's config (as @cni-ts/types does for results): a
// hand-written reader of the shapes configs are written in, which builds no zod schema. A cold
// process pays about 1 ms to build and run its first zod schemas (docs/performance.md); this
// costs microseconds. It accepts only what the schema path (config.ts netSchema / storeSchema,
// foldKeys, parseWith) accepts and returns what that path returns; anything else — a key written
// in another case (the schema path folds it), a value of another type, runtimeConfig or args —
// makes it give up (undefined), and the schema path reads the config as before, so every error is
// the schema path's. test/lean-conf.test.ts holds the two paths to the same configs.
import { hasCaseVariant, isPlainObject } from '@cni-ts/types';

type Obj = Record<string, unknown>;

const GIVE_UP: unique symbol = Symbol('give up');

const TOP = ['ipam', 'runtimeConfig', 'args'] as const;
const IPAM_STRINGS = ['type', 'subnet', 'rangeStart', 'rangeEnd', 'gateway', 'dataDir', 'resolvConf'] as const;
const IPAM_KEYS = [...IPAM_STRINGS, 'routes', 'ranges'] as const;
// the schema's order of the members of ipam, of a range and of a route (z.object's output order)
const IPAM_ORDER = ['type', 'subnet', 'rangeStart', 'rangeEnd', 'gateway', 'routes', 'dataDir', 'resolvConf', 'ranges'];
const RANGE_KEYS = ['subnet', 'rangeStart', 'rangeEnd', 'gateway'] as const;
const ROUTE_INTS = ['mtu', 'advmss', 'priority', 'table', 'scope'] as const;
const ROUTE_KEYS = ['dst', 'gw', ...ROUTE_INTS] as const;

/** The schema path's parse of the whole network config (ADD, CHECK, STATUS), or undefined to leave it to that path. */
export function leanNetConf(raw: unknown): Obj | undefined {
  return attempt(() => {
    const r = known(raw, TOP);
    if (!absent(r.runtimeConfig) || !absent(r.args)) throw GIVE_UP;
    const out: Obj = {};
    if (Object.hasOwn(r, 'ipam')) out.ipam = absent(r.ipam) ? r.ipam : ipam(r.ipam);
    return out;
  });
}

/** The schema path's parse for DEL and GC (`ipam.dataDir` only), or undefined to leave it to that path. */
export function leanStoreConf(raw: unknown): Obj | undefined {
  return attempt(() => {
    const r = known(raw, ['ipam']);
    if (!Object.hasOwn(r, 'ipam') || absent(r.ipam)) return { ...r };
    const i = known(r.ipam, ['dataDir']);
    optString(i.dataDir);
    return { ipam: { ...i } };
  });
}

function attempt(f: () => Obj): Obj | undefined {
  try {
    return f();
  } catch (e) {
    if (e === GIVE_UP) return undefined;
    throw e;
  }
}

function ipam(v: unknown): Obj {
  const i = known(v, IPAM_KEYS);
  for (const k of IPAM_STRINGS) optString(i[k]);
  const out: Obj = {};
  for (const k of IPAM_ORDER) {
    if (!Object.hasOwn(i, k)) continue;
    const x = i[k];
    if (k === 'routes') out[k] = absent(x) ? x : list(x, route);
    else if (k === 'ranges') out[k] = absent(x) ? x : list(x, (set) => list(set, range));
    else out[k] = x;
  }
  return out;
}

function range(v: unknown): Obj {
  const r = known(v, RANGE_KEYS);
  for (const k of RANGE_KEYS) optString(r[k]);
  return ordered(r, RANGE_KEYS);
}

function route(v: unknown): Obj {
  const r = known(v, ROUTE_KEYS);
  if (typeof r.dst !== 'string') throw GIVE_UP;
  optString(r.gw);
  for (const k of ROUTE_INTS) if (!absent(r[k]) && !Number.isSafeInteger(r[k])) throw GIVE_UP;
  return ordered(r, ROUTE_KEYS);
}

function list(v: unknown, item: (x: unknown) => unknown): unknown[] {
  if (!Array.isArray(v)) throw GIVE_UP;
  return v.map(item);
}

// The members named in `keys` that `obj` holds, in the order of `keys`.
function ordered(obj: Obj, keys: readonly string[]): Obj {
  const out: Obj = {};
  for (const k of keys) if (Object.hasOwn(obj, k)) out[k] = obj[k];
  return out;
}

function optString(v: unknown): void {
  if (!absent(v) && typeof v !== 'string') throw GIVE_UP;
}

const absent = (v: unknown) => v === undefined || v === null;

// The members of `obj` named in `keys`, when it is a plain object none of whose other keys
// differs from one of `keys` only in case (the schema path would fold it onto that key); the
// other members are dropped, as the schema drops them.
function known(obj: unknown, keys: readonly string[]): Obj {
  if (!isPlainObject(obj) || hasCaseVariant(obj, keys)) throw GIVE_UP;
  return ordered(obj, keys);
}
