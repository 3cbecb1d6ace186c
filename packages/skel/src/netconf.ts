// The network configuration on stdin: decoding, the keys every plugin shares, and the raw
// prevResult (decoded by prev.ts).
import { ALL_VERSIONS, CniError, ErrorCode, configError, isPlainObject, parseVersion, printValue } from '@cni-ts/types';
import { validateNetworkName } from './validate.js';

/** The config as decoded, with the keys skel itself reads made canonical. */
export interface NetConf {
  cniVersion: string;
  name: string;
  type?: string;
  /** Everything from stdin, including keys skel does not know (plugins parse their own). */
  raw: Record<string, unknown>;
}

/** Decodes stdin as a network config: JSON (code 6), `name` (code 7), `cniVersion` (codes 7 and 1). */
export function decodeNetConf(stdin: string): NetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (e) {
    const why = stdin.trim() === '' ? 'stdin is empty' : (e as Error).message;
    throw new CniError(
      ErrorCode.decodingFailure,
      `error unmarshall network config: ${why}`,
      'the runtime must send the network configuration as JSON on stdin',
    );
  }
  if (!isPlainObject(raw)) {
    throw new CniError(ErrorCode.decodingFailure, 'error unmarshall network config: expected a JSON object');
  }
  const name = validateNetworkName(pick(raw, 'name'));
  const version = pick(raw, 'cniVersion');
  if (version === undefined || version === null || version === '') {
    // Upstream silently treats a missing version as 0.1.0; we ask the operator to say what they mean.
    throw configError(
      'network configuration has no "cniVersion"',
      `set "cniVersion" to one of ${ALL_VERSIONS.join(', ')} (in a conflist, at the top level)`,
    );
  }
  if (typeof version !== 'string')
    throw configError(`"cniVersion" must be a string such as "1.0.0", got ${printValue(version)}`);
  parseVersion(version);
  const type = pick(raw, 'type');
  // Go plugins read prevResult after a round trip through a map (version.ParsePrevResult): its
  // keys sorted at every level, so of two spellings of a key the greatest in byte order wins
  // wherever it stands ("ips" over "IPS"). Put in that order here, every reader of it (the lean
  // reader, the schemas, DEL's lenient reads through pick: each takes the last spelling) reads
  // what a Go plugin reads, and ADD and DEL read the same.
  for (const k of Object.keys(raw)) if (k.toLowerCase() === 'prevresult') raw[k] = goMapOrder(raw[k], PREV_DEPTH);
  return { cniVersion: version, name, type: typeof type === 'string' ? type : undefined, raw };
}

// How deep the readers of a prevResult read: prevResult → ip4 → routes → a route's keys.
const PREV_DEPTH = 4;

// `value` with the keys of its objects sorted in byte order down to `depth` levels of objects and
// lists; deeper values are kept as they are (no reader reads them, and a copy of an arbitrarily
// deep value would overflow the stack).
function goMapOrder(value: unknown, depth: number): unknown {
  if (depth === 0 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => goMapOrder(v, depth - 1));
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort(byteOrder)) {
    const v = goMapOrder(obj[k], depth - 1);
    // a "__proto__" key (JSON.parse makes it an own key) stays an entry, not the copy's prototype
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The raw prevResult the runtime sent (any case of the key), or undefined when absent or null. */
export function rawPrevResult(conf: NetConf): unknown {
  const prev = pick(conf.raw, 'prevResult');
  return prev === null ? undefined : prev;
}

/**
 * Reads a key case-insensitively, as Go's decoder reads a config and foldKeys (the schemas' path)
 * reads anything: own keys only, and of several spellings the last in the JSON wins, so a lenient
 * read (DEL) sees what a schema read (ADD) saw. (prevResult, whose keys Go reads in sorted order,
 * is put in that order by decodeNetConf.)
 */
export function pick(obj: Record<string, unknown>, key: string): unknown {
  const lower = key.toLowerCase();
  let found: unknown;
  for (const k of Object.keys(obj)) if (k === key || k.toLowerCase() === lower) found = obj[k];
  return found;
}
