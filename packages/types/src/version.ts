// CNI spec versions: the supported lists, parsing and comparison.
import { CniError, ErrorCode } from './errors.js';

/** Every spec version a plugin built on this library can speak, oldest first. */
export const ALL_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** The newest spec version; what VERSION reports as its own cniVersion. */
export const CURRENT_VERSION = '1.1.0';

export type Triple = readonly [number, number, number];

/** Parses "1", "1.0" or "1.0.0" into three numbers; anything else is a code-1 error. */
export function parseVersion(v: string): Triple {
  const parts = v.split('.');
  if (parts.length > 3 || !parts.every(isDigits)) {
    throw new CniError(
      ErrorCode.incompatibleVersion,
      `invalid version "${v}"`,
      'a CNI version has up to three numeric parts, e.g. "1.0.0"',
    );
  }
  const [a = 0, b = 0, c = 0] = parts.map(Number);
  return [a, b, c];
}

// /^\d+$/ without a regular expression: a loopback run then runs none, and the first one costs
// a run about 0.15 ms of CPU (JavaScriptCore's regular-expression engine set up; docs/startup.md)
function isDigits(p: string): boolean {
  if (p === '') return false;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Negative, zero or positive as version a is older than, equal to or newer than b. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

/** True when version v is at least min. */
export function versionAtLeast(v: string, min: string): boolean {
  return compareVersions(v, min) >= 0;
}

/** The supported versions from `min` upwards (bandwidth speaks 0.3.0 and newer). */
export function versionsFrom(min: string): string[] {
  return ALL_VERSIONS.filter((v) => versionAtLeast(v, min));
}

/** The result family a version belongs to; results convert freely inside a family. */
export function resultFamily(v: string): '0.2' | '0.4' | '1' {
  const [major, minor] = parseVersion(v);
  if (major >= 1) return '1';
  if (minor >= 3) return '0.4';
  return '0.2';
}
