// JSON as Go's encoding/json reads and writes it, where libcni's bytes depend on it: maps marshal
// with sorted keys, output is compact, and <, >, & and U+2028/U+2029 are escaped.
import { goJsonCompact, sortKeysDeep } from '@cni-ts/types';

/** A JSON object value (what Go decodes into map[string]interface{}). */
export type JsonObject = Record<string, unknown>;

/** Marshals a decoded JSON value as Go marshals a map[string]interface{}: keys sorted at every level. */
export function marshalMap(value: unknown): string {
  return goJsonCompact(sortKeysDeep(value));
}

/**
 * Marshals an object whose top level is a Go map, keeping some values as they are (already in
 * the key order their Go struct marshals in, e.g. a prevResult).
 */
export function marshalMapWith(obj: JsonObject, keepOrder: ReadonlySet<string>): string {
  const out: JsonObject = {};
  for (const k of Object.keys(obj).sort(byteOrder)) out[k] = keepOrder.has(k) ? obj[k] : sortKeysDeep(obj[k]);
  return goJsonCompact(out);
}

/** Parses JSON text into an object, or says why it is not one (Go's messages, roughly). */
export function parseObject(text: string, what: string): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new Error(`${what}: json: cannot unmarshal ${jsonType(v)} into Go value of type map[string]interface {}`);
  }
  return v as JsonObject;
}

/** The JSON type name Go's errors use for a decoded value. */
export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v; // string, number, boolean
}

/** Compares strings by UTF-16 code unit, as Go's sort.Strings does for ASCII names. */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
