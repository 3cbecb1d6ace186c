// Helpers shared by every zod/mini schema in the project: lazy construction, address checks,
// and turning zod issues into one CNI error with a readable message.
import * as z from 'zod/mini';
import { parseIP, parsePrefix } from '@cni-ts/netaddr';
import { CniError, ErrorCode } from './errors.js';
import { printValue } from './json.js';
import { isPlainObject } from './keys.js';

/** Builds a schema on first use, so a plugin run pays only for the schemas its verb needs. */
export function lazySchema<T>(build: () => T): () => T {
  let cached: T | undefined;
  return () => (cached ??= build());
}

/**
 * The fields of `fields` (builders of an object schema's optional fields) that `value` holds,
 * matched case-insensitively as foldKeys matches keys, built now; the rest are left out of the
 * shape. A config names a few of the keys a plugin reads and every field schema costs a cold
 * process about 0.1 ms to build, while an absent optional field parses the same whether the
 * shape has it or not (docs/performance.md). Typed as the whole shape.
 */
export function presentFields<S extends Record<string, () => z.ZodMiniType>>(
  fields: S,
  ...values: unknown[]
): { [K in keyof S]: ReturnType<S[K]> } {
  const keys: string[] = [];
  for (const v of values) if (isPlainObject(v)) for (const k of Object.keys(v)) keys.push(k.toLowerCase());
  const out: Record<string, z.ZodMiniType> = {};
  for (const name of Object.keys(fields)) if (keys.includes(name.toLowerCase())) out[name] = fields[name]!();
  return out as never;
}

/** Every value of `obj` under `key` in any case (what foldKeys may fold into that key). */
export function valuesOfKey(obj: unknown, key: string): unknown[] {
  if (!isPlainObject(obj)) return [];
  const lower = key.toLowerCase();
  return Object.keys(obj)
    .filter((k) => k.toLowerCase() === lower)
    .map((k) => obj[k]);
}

/** A string that must be an IP address. */
export function ipString(): z.ZodMiniString<string> {
  return z.string().check(z.refine((s) => parseIP(s) !== undefined, { message: 'must be an IP address' }));
}

/** A string that must be an address with a prefix length, e.g. "10.1.0.5/24". */
export function cidrString(): z.ZodMiniString<string> {
  return z
    .string()
    .check(z.refine((s) => parsePrefix(s) !== undefined, { message: 'must be a CIDR such as "10.1.0.0/16"' }));
}

/** An optional field that Go's decoder would also accept as null. */
export function opt<T extends z.ZodMiniType>(schema: T): z.ZodMiniOptional<z.ZodMiniNullable<T>> {
  return z.optional(z.nullable(schema));
}

/** Parses data with a schema or throws a CniError (default code 7) listing every problem by path. */
export function parseWith<T extends z.ZodMiniType>(
  schema: T,
  data: unknown,
  what: string,
  code: number = ErrorCode.invalidConfig,
): z.output<T> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const problems = r.error.issues.map(
    (i) => `${formatPath(i.path)}${describeIssue(i as Issue, valueAt(data, i.path))}`,
  );
  throw new CniError(code, `invalid ${what}: ${problems.join('; ')}`);
}

type Issue = {
  code: string;
  message: string;
  expected?: string;
  maximum?: unknown;
  minimum?: unknown;
  values?: unknown[];
  format?: string;
  keys?: string[];
};

// zod/mini carries no locale, so its own issues all read "Invalid input"; say what was expected
// and what was given instead. Messages we wrote (refinements) are kept as they are.
function describeIssue(i: Issue, got: unknown): string {
  if (i.message && i.message !== 'Invalid input') return i.message;
  const given = got === undefined ? 'nothing' : printValue(got);
  switch (i.code) {
    case 'invalid_type':
      return `expected ${i.expected === 'int' ? 'an integer' : `a${/^[aeiou]/.test(i.expected ?? '') ? 'n' : ''} ${i.expected}`}, got ${given}`;
    case 'too_big':
      return `must be at most ${String(i.maximum)}, got ${given}`;
    case 'too_small':
      return `must be at least ${String(i.minimum)}, got ${given}`;
    case 'invalid_value':
      return `must be one of ${(i.values ?? []).map((v) => JSON.stringify(v)).join(', ')}, got ${given}`;
    case 'invalid_format':
      return `must be a valid ${i.format ?? 'value'}, got ${given}`;
    case 'unrecognized_keys':
      return `unknown keys ${(i.keys ?? []).join(', ')}`;
    case 'invalid_union':
      return `does not match any accepted form, got ${given}`;
    default:
      return `invalid value ${given}`;
  }
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = data;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '';
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return `${out}: `;
}
