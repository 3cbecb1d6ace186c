// Validators for the identifiers a runtime hands us; each failure names the value and the rule.
import { type Grammar, UnencodableError } from '@cni-ts/process';
import { CniError, ErrorCode, configError } from '@cni-ts/types';

// The checks below scan characters instead of testing regular expressions: a loopback run then
// runs none, and the first one costs a run about 0.15 ms of CPU (JavaScriptCore's engine set up,
// docs/startup.md). Each is held to its regular expression in test/validate.test.ts.

/** /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/: a letter or digit, then letters, digits, '_', '.' and '-'. */
export function isIdentifier(s: string): boolean {
  if (s === '') return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (!alnum && (i === 0 || (c !== 0x5f && c !== 0x2e && c !== 0x2d))) return false;
  }
  return true;
}

/** /[/:\s]/: a '/', a ':' or what JavaScript's \s matches (its white space and line terminators). */
export function hasSlashColonOrSpace(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // \s: TAB, LF, VT, FF, CR, space, NBSP, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, BOM
    if (c <= 0x20 ? c === 0x20 || (c >= 0x09 && c <= 0x0d) : c === 0x2f || c === 0x3a || (c >= 0xa0 && isWideSpace(c)))
      return true;
  }
  return false;
}

function isWideSpace(c: number): boolean {
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** CNI_CONTAINERID must start with a letter or digit and hold only letters, digits, '_', '.', '-'. */
export function validateContainerId(id: string): void {
  if (!isIdentifier(id)) {
    throw new CniError(ErrorCode.invalidEnvironment, 'invalid characters in containerID', id);
  }
}

/** CNI_IFNAME must be a valid Linux interface name: 1–15 bytes, not "." or "..", no '/', ':' or whitespace. */
export function validateIfName(name: string): void {
  const bad = (why: string) =>
    new CniError(ErrorCode.invalidEnvironment, `invalid interface name "${name}": ${why}`, 'CNI_IFNAME');
  if (name === '') throw bad('it is empty');
  if (new TextEncoder().encode(name).length > 15) throw bad('it is longer than 15 bytes');
  if (name === '.' || name === '..') throw bad('it cannot be "." or ".."');
  if (hasSlashColonOrSpace(name)) throw bad("it cannot contain '/', ':' or whitespace");
}

/** The network name must be usable as a file name (it names the IPAM store directory). */
export function validateNetworkName(name: unknown): string {
  if (typeof name !== 'string' || name === '')
    throw configError('missing network name', 'set "name" in the network configuration');
  if (!isIdentifier(name)) {
    throw configError(
      'invalid characters found in network name',
      `"${name}": use letters, digits, '_', '.', '-', starting with a letter or digit`,
    );
  }
  return name;
}

const TOOL: Record<Grammar, string> = {
  iproute2: 'ip -batch',
  'iptables-restore': 'iptables-restore',
  nft: 'nft -f',
};

/**
 * A value a tool's input language cannot carry, as the CNI error naming its field: code 4 for
 * CNI_* variables, 7 for config keys. `value` is the field's value when the refused text was
 * made from it (a chain name holding the ifname).
 */
export function unwritableField(e: UnencodableError, field: string, value = e.value): CniError {
  const env = field.startsWith('CNI_');
  const within = value === e.value ? '' : ` (in ${JSON.stringify(e.value)})`;
  return new CniError(
    env ? ErrorCode.invalidEnvironment : ErrorCode.invalidConfig,
    `invalid ${field} ${JSON.stringify(value)}: it cannot be written for ${TOOL[e.grammar]}${within}: ${e.why}`,
    env ? `${field} is set by the container runtime` : `change "${field}" in the network configuration`,
  );
}

/** One check for requireWritable: the field, its value, and the encoder that must accept it (or something derived from it). */
export type WritableCheck = readonly [field: string, value: string, encode: (value: string) => unknown];

/** Runs each encoder on its value before anything changes; the first refusal is thrown as unwritableField's error. */
export function requireWritable(checks: readonly WritableCheck[]): void {
  for (const [field, value, encode] of checks) {
    try {
      encode(value);
    } catch (e) {
      if (e instanceof UnencodableError) throw unwritableField(e, field, value);
      throw e;
    }
  }
}
