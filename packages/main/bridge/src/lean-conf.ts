// "Fast accept, slow reject" for the bridge config (as @cni-ts/types does for results): a
// hand-written reader of the shapes configs are written in, which builds no zod schema. A cold
// process pays about 1–2 ms to build and run its first zod schemas (docs/performance.md); this
// costs microseconds. It accepts only what the schema path (config.ts schemaFor, foldKeys,
// parseWith) accepts and returns what that path returns for every key the bridge reads; anything
// else — a key written in another case (the schema path folds it), a value of another type,
// vlanTrunk, args or runtimeConfig — makes it give up (undefined), and the schema path reads the
// config as before, so every error is the schema path's. test/lean-conf.test.ts holds the two
// paths to the same configs.
import { hasCaseVariant, isPlainObject } from '@cni-ts/types';

type Obj = Record<string, unknown>;

const GIVE_UP: unique symbol = Symbol('give up');

const BOOLS = [
  'isGateway',
  'isDefaultGateway',
  'forceAddress',
  'ipMasq',
  'hairpinMode',
  'promiscMode',
  'preserveDefaultVlan',
  'macspoofchk',
  'enabledad',
  'disableContainerInterface',
  'portIsolation',
] as const;
const STRINGS = ['cniVersion', 'name', 'bridge', 'ipMasqBackend'] as const;
const INTS = ['mtu', 'vlan'] as const;
// read by the schema path too, but left to it here: rare in real configs
const LEFT_TO_SCHEMA = ['vlanTrunk', 'args', 'runtimeConfig'] as const;
const KNOWN: readonly string[] = [...BOOLS, ...STRINGS, ...INTS, ...LEFT_TO_SCHEMA, 'ipam', 'dns'];
const DNS_KEYS = ['nameservers', 'domain', 'search', 'options'] as const;

/** The schema path's parse of `raw` for the keys loadConf reads, or undefined to leave `raw` to it. */
export function leanBridgeConf(raw: unknown): Obj | undefined {
  try {
    return read(raw);
  } catch (e) {
    if (e === GIVE_UP) return undefined;
    throw e;
  }
}

function read(raw: unknown): Obj {
  const r = exactKeys(raw, KNOWN);
  const out: Obj = { ...r };
  if (typeof r.cniVersion !== 'string' || typeof r.name !== 'string') throw GIVE_UP;
  for (const k of BOOLS) if (!absent(r[k]) && typeof r[k] !== 'boolean') throw GIVE_UP;
  for (const k of STRINGS) if (!absent(r[k]) && typeof r[k] !== 'string') throw GIVE_UP;
  for (const k of INTS) if (!absent(r[k]) && !Number.isSafeInteger(r[k])) throw GIVE_UP;
  for (const k of LEFT_TO_SCHEMA) if (!absent(r[k])) throw GIVE_UP;
  if (!absent(r.ipam)) {
    // a loose object: every member kept; only "type" is read
    const ipam = exactKeys(r.ipam, ['type']);
    if (!absent(ipam.type) && typeof ipam.type !== 'string') throw GIVE_UP;
    out.ipam = { ...ipam };
  }
  if (!absent(r.dns)) out.dns = dns(r.dns);
  return out;
}

// A strict object: the known members only, in the schema's order.
function dns(v: unknown): Obj {
  const d = exactKeys(v, DNS_KEYS);
  const out: Obj = {};
  for (const k of DNS_KEYS) {
    if (!Object.hasOwn(d, k)) continue;
    const x = d[k];
    if (k === 'domain') {
      if (!absent(x) && typeof x !== 'string') throw GIVE_UP;
      out[k] = x;
    } else if (absent(x)) out[k] = x;
    else if (Array.isArray(x) && x.every((s) => typeof s === 'string')) out[k] = [...x];
    else throw GIVE_UP;
  }
  return out;
}

const absent = (v: unknown) => v === undefined || v === null;

// `obj`'s own members, when it is a plain object none of whose keys differs from one of `keys`
// only in case (the schema path would fold it onto that key).
function exactKeys(obj: unknown, keys: readonly string[]): Obj {
  if (!isPlainObject(obj) || hasCaseVariant(obj, keys)) throw GIVE_UP;
  return obj as Obj;
}
