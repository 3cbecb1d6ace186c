// The token bucket arithmetic: the values upstream's bandwidth plugin hands the kernel (so a qdisc
// the Go plugin made and one we made compare equal), the kernel's own conversion of the burst that
// `tc` sends, and the burst we choose when a runtime gives none.
//
// Upstream (plugins/meta/bandwidth/ifb_creator.go, over vishvananda/netlink) sends a tbf with
//   rate   = rateBits / 8                                   bytes per second
//   buffer = u32(u32(burst * 1e6 / rate) * TICKS_PER_US)     ticks (whole µs first, then ticks)
//   limit  = u32(rate * 25 ms + burst)                       bytes (queue: 25 ms plus the burst)
// with burst = burstBits / 8, and no burst attribute, so the kernel keeps that buffer as is.
// `tc qdisc … tbf burst B` instead sends the burst in bytes (TCA_TBF_BURST) and the kernel derives
// the buffer itself, in nanoseconds: ((B * mult) >> shift) >> 6 ticks, mult/shift being its
// fixed-point 1e9/rate (psched_ratecfg_precompute). tbfFor picks the B for tc whose derived buffer
// is upstream's exactly, whenever one exists (see docs/bandwidth.md for how often it does not).

/** Ticks per microsecond: /proc/net/psched on every kernel with PSCHED_SHIFT 6 (since 2.6.31). */
export const TICKS_PER_US = 15.625;
/** The queue latency upstream sizes `limit` with. */
export const LATENCY_US = 25_000;
/** The largest value of the kernel's u32 tbf fields (buffer ticks, limit bytes). */
export const U32_MAX = 0xffff_ffff;
/** The burst (bits) containerd's CRI sends for every pod with a bandwidth annotation: "none chosen". */
export const CRI_NO_BURST = 4_294_967_295;

/** One tbf qdisc: what the kernel reports (rate, limit, buffer) and the burst argument for tc. */
export interface Tbf {
  /** Bytes per second. */
  rate: number;
  /** Queue length in bytes. */
  limit: number;
  /** Bucket size in ticks of 64 ns, as `tc -raw` reports it (burst_raw). */
  buffer: number;
  /** The `burst` (bytes) handed to tc so that the kernel ends up with `buffer`. */
  burst: number;
}

/** Go's float64 → uint32 conversion on amd64 (truncate to int64, keep the low 32 bits). */
export function goUint32(x: number): number {
  if (!Number.isFinite(x) || x >= 2 ** 63 || x <= -(2 ** 63)) return 0;
  return Number(BigInt.asUintN(32, BigInt(Math.trunc(x))));
}

/** Upstream's buffer in ticks for a rate (B/s) and burst (B), wrapping exactly as Go does. */
export function upstreamBuffer(rate: number, burst: number): number {
  return goUint32(goUint32((burst * 1e6) / rate) * TICKS_PER_US);
}

/** Upstream's limit in bytes: 25 ms of traffic plus the burst (u32, wrapping as Go does). */
export function upstreamLimit(rate: number, burst: number): number {
  return Number(BigInt.asUintN(32, BigInt(Math.floor(rate / 40)) + BigInt(burst)));
}

/** The kernel's fixed-point rate: mult/shift with mult ≈ 2^shift · 1e9 / rate (psched_ratecfg_precompute). */
export function kernelRate(rate: number): { mult: bigint; shift: bigint } {
  const r = BigInt(rate);
  let factor = 1_000_000_000n;
  let shift = 0n;
  for (;;) {
    const mult = factor / r;
    if (mult & (1n << 31n) || factor & (1n << 63n)) return { mult, shift };
    factor <<= 1n;
    shift += 1n;
  }
}

/** The buffer (ticks) the kernel derives from `tc … burst B` at a rate: (B·mult >> shift) >> 6. */
export function kernelBuffer(rate: number, burst: number): number {
  const { mult, shift } = kernelRate(rate);
  return Number(BigInt.asUintN(32, ((BigInt(burst) * mult) >> shift) >> 6n));
}

/**
 * The burst (bytes) to hand tc so the kernel's buffer is `ticks`: the one nearest `near` among those
 * that give exactly `ticks`, or, when no whole number of bytes does, the one giving the nearest buffer.
 */
export function burstForBuffer(rate: number, ticks: number, near: number): number {
  const { mult, shift } = kernelRate(rate);
  const ns = BigInt(ticks) * 64n;
  // B·mult >> shift lies in [ns, ns + 63]  ⇔  B ∈ [ceil(ns·2^s / mult), floor(((ns + 64)·2^s − 1) / mult)]
  const lo = ceilDiv(ns << shift, mult);
  const hi = (((ns + 64n) << shift) - 1n) / mult;
  if (lo <= hi) return Number(clamp(BigInt(near), lo, hi));
  // no exact fit: hi gives the buffer just below, lo the one just above; take the closer one
  const below = hi >= 1n ? kernelBuffer(rate, Number(hi)) : -Infinity;
  const above = kernelBuffer(rate, Number(lo));
  return ticks - below <= above - ticks ? Number(hi) : Number(lo);
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

function clamp(v: bigint, lo: bigint, hi: bigint): bigint {
  return v < lo ? lo : v > hi ? hi : v;
}

/** The tbf for a rate (B/s) and burst (B): upstream's values (or a given limit), and the tc burst that reproduces them. */
export function tbfFor(rate: number, burst: number, limit = upstreamLimit(rate, burst)): Tbf {
  const buffer = upstreamBuffer(rate, burst);
  return { rate, limit, buffer, burst: burstForBuffer(rate, buffer, burst) };
}
