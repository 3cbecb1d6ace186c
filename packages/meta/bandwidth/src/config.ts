// The bandwidth configuration: where the limits come from, and every check on them before anything
// is created. Three sources, the first one present wins as a whole (as upstream, where any
// top-level key hides runtimeConfig):
//   1. top-level ingressRate/ingressBurst/egressRate/egressBurst (static config);
//   2. runtimeConfig.bandwidth (the `bandwidth` capability; containerd sends IngressRate, …);
//   3. the pod annotations kubernetes.io/{ingress,egress}-bandwidth from the
//      `io.kubernetes.cri.pod-annotations` capability (containerd passes pod annotations so).
// Rates are bits per second and bursts bits, as upstream. 0 means "not set" (containerd sends
// zeros for the direction a pod does not limit). Keys match case-insensitively.
import type { Context } from '@cni-ts/skel';
import { configError, isPlainObject, printValue } from '@cni-ts/types';
import { type QuantityError, QUANTITY_ERRORS, parseQuantity, quantityValue } from './quantity.js';
import { CRI_NO_BURST } from './tbf.js';

/** The traffic directions, as seen from the pod. */
export type Direction = 'ingress' | 'egress';
export const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];

/** Where a limit came from (for messages and the docs' precedence rule). */
export type Source = 'config' | 'runtimeConfig.bandwidth' | 'annotation';

/** The limit asked for in one direction. */
export interface Limit {
  /** Bits per second, > 0. */
  rate: number;
  /** Bits, > 0; undefined when none was given (absent, 0, or containerd's 4294967295). */
  burst?: number;
  /** The burst was containerd's 4294967295 ("none chosen"). */
  criNoBurst?: true;
  source: Source;
}

/** What the configuration asks for; a direction without a limit is absent. */
export interface BandwidthConf {
  name: string;
  cniVersion: string;
  ingress?: Limit;
  egress?: Limit;
}

/** The pod annotations, as Kubernetes names them. */
export const ANNOTATIONS: Readonly<Record<Direction, string>> = {
  ingress: 'kubernetes.io/ingress-bandwidth',
  egress: 'kubernetes.io/egress-bandwidth',
};
/** The capability containerd passes pod annotations under. */
export const POD_ANNOTATIONS = 'io.kubernetes.cri.pod-annotations';
/** Kubernetes' accepted range for the annotations (bits/s), as the kubelet and containerd check it. */
export const ANNOTATION_MIN = 1000n;
export const ANNOTATION_MAX = 1_000_000_000_000_000n;

const KEYS = ['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'] as const;
type Entry = Partial<Record<(typeof KEYS)[number], unknown>>;

// The keys are folded to this shape as foldKeys folds them into a schema's (Go's decoder: any case,
// the last spelling wins, other keys kept), by hand: every value is checked by hand below, only
// in the source used (a plugin never rejects input it does not read), so a zod schema would only
// name the keys — and building it was about 1 ms of a cold ADD's CPU (docs/performance.md).
const foldEntry = (v: unknown) => foldTo(v, KEYS);
const foldRuntimeConfig = (v: unknown) => foldTo(v, ['bandwidth', POD_ANNOTATIONS], { bandwidth: foldEntry });
const foldConf = (v: unknown) => foldTo(v, [...KEYS, 'runtimeConfig'], { runtimeConfig: foldRuntimeConfig });

/** `value`'s entries with each key that names one of `keys` in any case spelled as in `keys`. */
function foldTo(
  value: unknown,
  keys: readonly string[],
  nested: Readonly<Record<string, (v: unknown) => unknown>> = {},
): unknown {
  if (!isPlainObject(value)) return value;
  // no prototype: a "__proto__" key in the JSON stays an entry
  const out: Record<string, unknown> = Object.create(null);
  for (const [key, v] of Object.entries(value)) {
    const lower = key.toLowerCase();
    const target = keys.includes(key) ? key : (keys.find((k) => k.toLowerCase() === lower) ?? key);
    const fold = Object.hasOwn(nested, target) ? nested[target] : undefined;
    out[target] = fold ? fold(v) : v;
  }
  return out;
}

/** Reads and checks the limits of an invocation (ADD and CHECK; DEL and GC never need them). */
export function loadConf(ctx: Context): BandwidthConf {
  const raw = foldConf(ctx.conf.raw) as Entry & { runtimeConfig?: unknown };
  const rc = isPlainObject(raw.runtimeConfig) ? raw.runtimeConfig : {};
  const conf: BandwidthConf = { name: ctx.conf.name, cniVersion: ctx.conf.cniVersion };
  if (KEYS.some((k) => k in raw)) return Object.assign(conf, fromEntry(raw, 'config', ''));
  if (rc.bandwidth !== undefined && rc.bandwidth !== null) {
    if (!isPlainObject(rc.bandwidth))
      throw configError(
        `invalid runtimeConfig.bandwidth: expected an object, got ${shown(rc.bandwidth)}`,
        'the runtime must pass {"ingressRate", "ingressBurst", "egressRate", "egressBurst"} (bits/s and bits)',
      );
    return Object.assign(conf, fromEntry(rc.bandwidth, 'runtimeConfig.bandwidth', 'runtimeConfig.bandwidth.'));
  }
  const annotations = rc[POD_ANNOTATIONS];
  if (isPlainObject(annotations)) Object.assign(conf, fromAnnotations(annotations));
  return conf;
}

function fromEntry(e: Entry, source: Source, where: string): Pick<BandwidthConf, Direction> {
  const out: Pick<BandwidthConf, Direction> = {};
  for (const dir of DIRECTIONS) {
    const rate = bits(e[`${dir}Rate`], `${where}${dir}Rate`);
    const given = bits(e[`${dir}Burst`], `${where}${dir}Burst`);
    const burst = given === CRI_NO_BURST ? 0 : given;
    if (rate === 0 && burst !== 0) {
      throw configError(
        `${where}${dir}Burst is set (${burst} bits) but ${where}${dir}Rate is not`,
        `a burst needs a rate: set ${dir}Rate (bits per second) too, or remove ${dir}Burst`,
      );
    }
    if (rate !== 0)
      out[dir] = {
        rate,
        ...(burst !== 0 ? { burst } : {}),
        ...(given === CRI_NO_BURST ? { criNoBurst: true } : {}),
        source,
      };
  }
  return out;
}

// A rate or burst: a non-negative whole number of bits that JSON carries exactly; absent or null is 0.
function bits(v: unknown, key: string): number {
  if (v === undefined || v === null) return 0;
  const fix = `set "${key}" to a whole number of bits${key.endsWith('Rate') ? ' per second' : ''}, or leave it out`;
  if (typeof v !== 'number') throw configError(`invalid ${key}: expected a number, got ${shown(v)}`, fix);
  if (!Number.isInteger(v)) throw configError(`invalid ${key}: ${v} is not a whole number`, fix);
  if (v < 0) throw configError(`invalid ${key}: ${v} is negative`, fix);
  if (!Number.isSafeInteger(v)) throw configError(`invalid ${key}: ${v} is too large`, 'values must be below 2^53');
  return v;
}

function fromAnnotations(annotations: Record<string, unknown>): Pick<BandwidthConf, Direction> {
  const out: Pick<BandwidthConf, Direction> = {};
  for (const dir of DIRECTIONS) {
    const key = ANNOTATIONS[dir];
    if (!(key in annotations)) continue;
    out[dir] = { rate: annotationRate(key, annotations[key]), source: 'annotation' };
  }
  return out;
}

/** An annotation's value in bits/s: a Kubernetes quantity between 1k and 1P, as Kubernetes accepts it. */
export function annotationRate(key: string, value: unknown): number {
  const bad = (why: string, fix: string) => configError(`invalid pod annotation ${key}=${shown(value)}: ${why}`, fix);
  const forms = 'write a Kubernetes quantity in bits per second such as "1M", "10Mi", "500k" or "1.5G"';
  if (typeof value !== 'string') throw bad('expected a string', forms);
  const q = parseQuantity(value);
  if (typeof q === 'string') throw bad(QUANTITY_ERRORS[q as QuantityError], forms);
  const v = quantityValue(q);
  if (v < ANNOTATION_MIN) throw bad('resource is unreasonably small (< 1kbit)', `${forms}, at least 1k`);
  if (v > ANNOTATION_MAX) throw bad('resource is unreasonably large (> 1Pbit)', `${forms}, at most 1P`);
  return Number(v);
}

// A user's value in a message: JSON (or a note when it is nested too deep to print), cut at 120 characters.
function shown(v: unknown): string {
  const s = printValue(v) ?? String(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
