// Go's encoding/json matches object keys to struct fields case-insensitively; real runtimes rely
// on it (e.g. "HostPort"). foldKeys renames keys to a schema's spelling before validation.
import type * as z from 'zod/mini';

type Def = { type: string; [k: string]: unknown };

/** Returns a copy of `value` whose object keys are renamed to the schema's spelling, at every level. */
export function foldKeys(schema: z.ZodMiniType, value: unknown): unknown {
  const def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  switch (def.type) {
    case 'object':
      return foldObject(def.shape as Record<string, z.ZodMiniType>, def.catchall as z.ZodMiniType | undefined, value);
    case 'array':
      return Array.isArray(value) ? value.map((v) => foldKeys(def.element as z.ZodMiniType, v)) : value;
    case 'record':
      return isPlainObject(value) ? mapValues(value, (v) => foldKeys(def.valueType as z.ZodMiniType, v)) : value;
    case 'tuple':
      return Array.isArray(value)
        ? value.map((v, i) => {
            const s = (def.items as z.ZodMiniType[])[i];
            return s ? foldKeys(s, v) : v;
          })
        : value;
    case 'union':
      return (def.options as z.ZodMiniType[]).reduce((v, s) => foldKeys(s, v), value);
    case 'intersection':
      return foldKeys(def.right as z.ZodMiniType, foldKeys(def.left as z.ZodMiniType, value));
    case 'pipe':
      return foldKeys(def.in as z.ZodMiniType, value);
    case 'lazy':
      return foldKeys((def.getter as () => z.ZodMiniType)(), value);
    default:
      return 'innerType' in def ? foldKeys(def.innerType as z.ZodMiniType, value) : value;
  }
}

function foldObject(
  shape: Record<string, z.ZodMiniType>,
  catchall: z.ZodMiniType | undefined,
  value: unknown,
): unknown {
  if (!isPlainObject(value)) return value;
  const byLower = new Map<string, string>();
  for (const k of Object.keys(shape)) byLower.set(k.toLowerCase(), k);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    // own keys only: a key such as "constructor" is not a field (`in` would find Object.prototype's)
    const target = Object.hasOwn(shape, key) ? key : (byLower.get(key.toLowerCase()) ?? key);
    const s = (Object.hasOwn(shape, target) ? shape[target] : undefined) ?? catchall;
    setOwn(out, target, s ? foldKeys(s, v) : v);
  }
  return out;
}

// out[key] = v, except that a "__proto__" key (JSON.parse makes it an own key) stays an own
// entry: assigned, it would become the object's prototype and zod would read fields through it.
function setOwn(out: Record<string, unknown>, key: string, v: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  else out[key] = v;
}

/**
 * True when `obj` has a key that is not one of `keys` but equals one of them ignoring case: the
 * schema path's key folding would read it as that key, so a fast ("lean") reader gives up on it.
 */
export function hasCaseVariant(obj: Record<string, unknown>, keys: readonly string[]): boolean {
  for (const k of Object.keys(obj)) {
    if (keys.includes(k)) continue;
    const lower = k.toLowerCase();
    if (keys.some((s) => s.toLowerCase() === lower)) return true;
  }
  return false;
}

/** True for a JSON object (not null, not an array). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mapValues(obj: Record<string, unknown>, f: (v: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) setOwn(out, k, f(v));
  return out;
}
