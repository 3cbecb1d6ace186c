// Decoding JSON into typed values the way Go's encoding/json fills a struct: keys match fields
// case-insensitively (an exact match first), unknown keys are dropped, null leaves the zero value,
// and a value of the wrong JSON type is an error naming the field. libcni decodes configs and
// results this way, so what it keeps and what it refuses is what we keep and refuse.
import { formatIP, parseIP } from '@cni-ts/netaddr';
import { type JsonObject, jsonType } from './gojson.js';

/** Turns one decoded JSON value into a typed one; undefined is Go's zero value (omitted on output). */
export type Decoder<T> = (value: unknown, path: string) => T | undefined;

/** A decoding failure, worded like Go's UnmarshalTypeError. */
export class DecodeError extends Error {
  override name = 'DecodeError';
}

function typeError(value: unknown, path: string, goType: string): DecodeError {
  const what = typeof value === 'number' ? `number ${value}` : jsonType(value);
  return new DecodeError(`json: cannot unmarshal ${what} into Go struct field ${path} of type ${goType}`);
}

export const str: Decoder<string> = (v, path) => {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'string') throw typeError(v, path, 'string');
  return v;
};

export const int: Decoder<number> = (v, path) => {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(v, path, 'int');
  return v;
};

export const bool: Decoder<boolean> = (v, path) => {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'boolean') throw typeError(v, path, 'bool');
  return v;
};

/** A JSON array of T ([]T); null is nil. */
export function list<T>(item: Decoder<T>, goType: string): Decoder<T[]> {
  return (v, path) => {
    if (v === null || v === undefined) return undefined;
    if (!Array.isArray(v)) throw typeError(v, path, `[]${goType}`);
    // a null element of []*T is a nil pointer: it stays null, so indexes stay as given
    return v.map((x) => (x === null ? (null as T) : (item(x, path) as T)));
  };
}

/** A JSON object of booleans (map[string]bool). */
export const boolMap: Decoder<Record<string, boolean>> = (v, path) => {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw typeError(v, path, 'map[string]bool');
  const out: Record<string, boolean> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'boolean') throw typeError(x, path, 'bool');
    out[k] = x;
  }
  return out;
};

/** A net.IPNet written as "ip/len" (host bits kept), printed back as Go prints it. */
export const cidr: Decoder<string> = (v, path) => {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'string') throw typeError(v, path, 'string');
  const slash = v.indexOf('/');
  const ip = slash > 0 ? parseIP(v.slice(0, slash)) : undefined;
  const len = v.slice(slash + 1);
  const max = ip?.family === 4 ? 32 : 128;
  if (!ip || !/^\d{1,3}$/.test(len) || Number(len) > max) throw new DecodeError(`invalid CIDR address: ${v}`);
  return `${formatIP(ip)}/${Number(len)}`;
};

/** A net.IP; "" is the nil IP (omitted), anything else must parse. */
export const ipAddr: Decoder<string> = (v, path) => {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'string') throw typeError(v, path, 'string');
  if (v === '') return undefined;
  const ip = parseIP(v);
  if (!ip) throw new DecodeError(`invalid IP address: ${v}`);
  return formatIP(ip);
};

/** The fields of a Go struct: JSON name → decoder. */
export type Fields = Record<string, Decoder<unknown>>;

/** Decodes a JSON object into the struct `fields` describe (Go type `goType` for messages). */
export function struct<T>(goType: string, fields: Fields): Decoder<T> {
  const byLower = new Map(Object.keys(fields).map((k) => [k.toLowerCase(), k]));
  return (v, path) => {
    if (v === null || v === undefined) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw typeError(v, path || goType, goType);
    const out: JsonObject = {};
    for (const [key, raw] of Object.entries(v as JsonObject)) {
      const field = key in fields ? key : byLower.get(key.toLowerCase());
      if (!field) continue;
      const dec = fields[field] as Decoder<unknown>;
      const x = dec(raw, path ? `${path}.${field}` : `${goType}.${field}`);
      if (x === undefined) delete out[field];
      else out[field] = x;
    }
    return out as T;
  };
}

/** Reads a struct field from a raw JSON object as Go fills it: any key that folds to the name; the last one wins. */
export function field(obj: JsonObject, name: string): unknown {
  let found: unknown;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === lower) found = v;
  return found;
}
