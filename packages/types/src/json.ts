// JSON printing that matches Go's encoding/json byte for byte where it differs from JSON.stringify.

/**
 * Indented JSON as Go's json.MarshalIndent(v, "", "    ") writes it: no trailing newline,
 * and <, >, & and U+2028/U+2029 escaped inside strings, as Go's HTML-safe encoder does.
 */
export function goJson(value: unknown, indent = '    '): string {
  return goEscape(JSON.stringify(value, null, indent));
}

/** Compact JSON as Go's json.Marshal writes it. */
export function goJsonCompact(value: unknown): string {
  return goEscape(JSON.stringify(value));
}

/**
 * <, >, & and U+2028/U+2029 as \u escapes. A scan, not a replace with a regular expression: a
 * loopback run then runs none (the first one costs a run about 0.15 ms of CPU, docs/startup.md).
 */
export function goEscape(s: string): string {
  // native searches first: the interpreter's loop below would otherwise walk every result it prints
  if (!s.includes('<') && !s.includes('>') && !s.includes('&') && !s.includes('\u2028') && !s.includes('\u2029'))
    return s;
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      out += `${s.slice(from, i)}\\u${c.toString(16).padStart(4, '0')}`;
      from = i + 1;
    }
  }
  return from === 0 ? s : out + s.slice(from);
}

/** Copies an object with its keys sorted at every level (Go marshals maps with sorted keys). */
export function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort(byteOrder)) {
    const v = sortKeysDeep((value as Record<string, unknown>)[k]);
    // a "__proto__" key (JSON.parse makes it an own key) stays an entry, not the copy's prototype
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Drops null and undefined members of an object (Go leaves such fields at their zero value). */
export function compact<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== null && v !== undefined) out[k] = v;
  return out as T;
}

/** A value as JSON for an error message; one nested too deep for JSON.stringify's recursion is named so. */
export function printValue(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return 'a value nested too deep to print';
  }
}
