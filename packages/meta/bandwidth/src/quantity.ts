// Kubernetes quantities ("1M", "10Mi", "500k", "1.5G", "2e6") read exactly as apimachinery's
// resource.ParseQuantity does, then rounded as Quantity.Value() does (up, to a whole number).
// Read from k8s.io/apimachinery pkg/api/resource (quantity.go, suffix.go): the scanner accepts
//   [+-] digits [. digits] then suffix letters from "eEinumkKMGTP", an optional sign and digits,
// and the suffix must be one of n u m "" k M G T P E (×10^k), Ki Mi Gi Ti Pi Ei (×2^10k), or
// e/E followed by a decimal exponent. "1K", "1kb", " 1M" and "1.5.3" are errors; "M" alone is 0.

/** Why a quantity did not parse, in apimachinery's words. */
export type QuantityError = 'format' | 'suffix';

/** The messages of apimachinery's ErrFormatWrong and ErrSuffix. */
export const QUANTITY_ERRORS: Readonly<Record<QuantityError, string>> = {
  format: "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
  suffix: "unable to parse quantity's suffix",
};

const DECIMAL: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const SUFFIX_CHARS = 'eEinumkKMGTP';
// Exponents beyond these put any non-zero mantissa far outside every range we check.
const HUGE = 400;

/** A parsed quantity as an exact fraction num/den (den > 0). */
export interface Fraction {
  num: bigint;
  den: bigint;
}

/** Parses a quantity exactly; returns the error kind instead when apimachinery would refuse it. */
export function parseQuantity(text: string): Fraction | QuantityError {
  if (text === '') return 'format';
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$/s.exec(text)!;
  const [, sign, intPart, fracPart = '', rest] = m as unknown as [string, string, string, string | undefined, string];
  const suffix = scanSuffix(rest);
  if (suffix === undefined) return 'format';
  const mantissa = BigInt(`${intPart}${fracPart}` || '0') * (sign === '-' ? -1n : 1n);
  const scale = fracPart.length;
  if (suffix in DECIMAL) return scaled(mantissa, DECIMAL[suffix]! - scale);
  if (suffix in BINARY) return { num: mantissa * (1n << BigInt(BINARY[suffix]!)), den: 10n ** BigInt(scale) };
  if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E')) {
    const exp = goParseInt64(suffix.slice(1));
    if (exp === undefined) return 'suffix';
    // apimachinery keeps the exponent as an int32
    return scaled(mantissa, Number(BigInt.asIntN(32, exp)) - scale);
  }
  return 'suffix';
}

// The suffix part: letters from SUFFIX_CHARS, then [+-]?digits, then the end; undefined otherwise.
function scanSuffix(rest: string): string | undefined {
  let i = 0;
  while (i < rest.length && SUFFIX_CHARS.includes(rest[i]!)) i++;
  if (i === rest.length) return rest;
  let j = i;
  if (rest[j] === '+' || rest[j] === '-') j++;
  while (j < rest.length && rest[j]! >= '0' && rest[j]! <= '9') j++;
  return j === rest.length ? rest : undefined;
}

function scaled(mantissa: bigint, exp10: number): Fraction {
  if (mantissa === 0n) return { num: 0n, den: 1n };
  if (exp10 > HUGE) return { num: mantissa * 10n ** BigInt(HUGE), den: 1n };
  if (exp10 < -HUGE) return { num: mantissa, den: 10n ** BigInt(HUGE) };
  return exp10 >= 0 ? { num: mantissa * 10n ** BigInt(exp10), den: 1n } : { num: mantissa, den: 10n ** BigInt(-exp10) };
}

// Go's strconv.ParseInt(s, 10, 64): optional sign, at least one digit, within int64.
function goParseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  return v >= -(1n << 63n) && v < 1n << 63n ? v : undefined;
}

/** Quantity.Value(): the value rounded up to a whole number, away from zero. */
export function quantityValue(q: Fraction): bigint {
  const { num, den } = q;
  const whole = num / den;
  if (whole * den === num) return whole;
  return num > 0n ? whole + 1n : whole - 1n;
}
