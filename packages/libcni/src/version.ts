// Spec versions as libcni compares them, and the VERSION answer a plugin gives. The current
// version is @cni-ts/types'; parsing stays libcni's own, because Go's ParseVersion accepts what the
// plugins' parser refuses ("" as 0.1.0, signed parts) and its messages are what callers match.
import { CURRENT_VERSION } from '@cni-ts/types';

/** The newest spec version this library speaks (libcni's version.Current()). */
export { CURRENT_VERSION };

/** Parses "1", "1.0" or "1.0.0" as Go's version.ParseVersion does ("" is 0.1.0). */
export function parseVersion(v: string): [number, number, number] {
  if (v === '') return [0, 1, 0];
  const parts = v.split('.');
  if (parts.length >= 4) throw new Error(`invalid version "${v}": too many parts`);
  const names = ['major', 'minor', 'micro'];
  return [0, 1, 2].map((i) => {
    const p = parts[i];
    if (p === undefined) return 0;
    if (!/^[+-]?\d+$/.test(p)) throw new Error(`failed to convert ${names[i]} version part "${p}"`);
    return Number(p);
  }) as [number, number, number];
}

/** Negative, zero or positive as a is older than, equal to or newer than b. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

/** True when v is at least min (Go's GreaterThanOrEqualTo). */
export function versionAtLeast(v: string, min: string): boolean {
  return compareVersions(v, min) >= 0;
}

/** What a plugin answered to VERSION. */
export interface PluginInfo {
  /** The spec version the answer itself is written in. */
  cniVersion: string;
  /** Every config version the plugin accepts. */
  supportedVersions: string[];
}

/** Decodes a VERSION answer as libcni's PluginDecoder does (a bare 0.2.0 answer means 0.1.0 and 0.2.0). */
export function decodePluginInfo(stdout: string): PluginInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch (e) {
    throw new Error(`decoding version info: ${(e as Error).message}`);
  }
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const cniVersion = typeof o.cniVersion === 'string' ? o.cniVersion : '';
  const supported = Array.isArray(o.supportedVersions)
    ? o.supportedVersions.filter((v): v is string => typeof v === 'string')
    : [];
  if (!cniVersion) throw new Error('decoding version info: missing field cniVersion');
  if (supported.length === 0) {
    if (cniVersion === '0.2.0') return { cniVersion: CURRENT_VERSION, supportedVersions: ['0.1.0', '0.2.0'] };
    throw new Error('decoding version info: missing field supportedVersions');
  }
  return { cniVersion, supportedVersions: supported };
}
