// CNI_ARGS ("IgnoreUnknown=1;IP=10.1.0.5;K8S_POD_NAME=web"): parsed like libcni's LoadArgs,
// with keys matched exactly (case-sensitive), as Go's FieldByName does.
import { CniError, ErrorCode } from '@cni-ts/types';

/** The keys Kubernetes runtimes send on every call. */
export const K8S_ARGS = ['K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID'] as const;

const argsError = (msg: string) => new CniError(ErrorCode.invalidEnvironment, msg, 'CNI_ARGS');

/** Splits CNI_ARGS into ordered key/value pairs; a pair without exactly one '=' is an error. */
export function splitCniArgs(raw: string): Array<[string, string]> {
  if (raw === '') return [];
  return raw.split(';').map((pair) => {
    const kv = pair.split('=');
    if (kv.length !== 2) throw argsError(`ARGS: invalid pair "${pair}"`);
    return [kv[0] ?? '', kv[1] ?? ''];
  });
}

/** Parses a Go-style boolean: 1/true/0/false in any case. */
export function parseArgBool(key: string, v: string): boolean {
  const l = v.toLowerCase();
  if (l === '1' || l === 'true') return true;
  if (l === '0' || l === 'false') return false;
  throw argsError(`ARGS: ${key}="${v}" is not a boolean (use 1, true, 0 or false)`);
}

/**
 * Loads CNI_ARGS keeping the keys in `known` (plus IgnoreUnknown). Unknown keys are an error
 * unless IgnoreUnknown is true, as upstream.
 */
export function loadCniArgs(raw: string, known: readonly string[]): Record<string, string> {
  const pairs = splitCniArgs(raw);
  const out: Record<string, string> = {};
  const unknown: string[] = [];
  let ignoreUnknown = false;
  for (const [k, v] of pairs) {
    if (k === 'IgnoreUnknown') ignoreUnknown = parseArgBool(k, v);
    else if (known.includes(k)) out[k] = v;
    else unknown.push(`${k}=${v}`);
  }
  if (unknown.length && !ignoreUnknown) {
    throw argsError(
      `ARGS: unknown args [${unknown.map((u) => JSON.stringify(u)).join(' ')}] (add IgnoreUnknown=1 to CNI_ARGS to ignore them)`,
    );
  }
  return out;
}
