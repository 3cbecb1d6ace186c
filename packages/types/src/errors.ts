// CNI error codes and the CniError class that carries them to the runtime.

/** Well-known CNI error codes (spec §5, plus codes libcni and the plugins use). */
export const ErrorCode = {
  unknown: 0,
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidConfig: 7,
  invalidNetns: 8,
  tryAgainLater: 11,
  pluginNotAvailable: 50,
  limitedConnectivity: 51,
  /** cni-ts: CHECK found the sandbox differs from what ADD set up (plugin-specific range ≥ 100). */
  checkFailed: 100,
  internal: 999,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode] | number;

/** The JSON object a plugin prints on stdout when it fails. */
export interface CniErrorJson {
  code: number;
  msg: string;
  details?: string;
}

/** An error with a CNI code; skel prints it as the spec's error object and exits 1. */
export class CniError extends Error {
  readonly code: number;
  readonly details: string;

  constructor(code: ErrorCodeValue, msg: string, details = '', options?: { cause?: unknown }) {
    super(msg, options);
    this.name = 'CniError';
    this.code = code;
    this.details = details;
  }

  /** The error object as the spec and libcni expect it (`details` omitted when empty). */
  toJSON(): CniErrorJson {
    const out: CniErrorJson = { code: this.code, msg: this.message };
    if (this.details) out.details = this.details;
    return out;
  }
}

/** A code-7 error: the network configuration is wrong and the operator must fix it. */
export function configError(msg: string, details = ''): CniError {
  return new CniError(ErrorCode.invalidConfig, msg, details);
}

/** Turns anything thrown into a CniError, keeping codes that are already there. */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  const coded = codeOf(err);
  if (coded !== undefined) {
    const e = err as Error;
    return new CniError(coded, e.message, detailsOf(e), { cause: err });
  }
  if (err instanceof Error) return new CniError(ErrorCode.internal, err.message, detailsOf(err), { cause: err });
  return new CniError(ErrorCode.internal, String(err));
}

// Errors from lower layers may carry a CNI code as a numeric `cniCode` property.
function codeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { cniCode?: unknown }).cniCode;
  return typeof code === 'number' ? code : undefined;
}

function detailsOf(err: Error): string {
  const d = (err as { details?: unknown }).details;
  return typeof d === 'string' ? d : '';
}
