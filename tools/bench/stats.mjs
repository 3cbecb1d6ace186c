// Small statistics for the bench: medians, quantiles and least-squares slopes.

/** The q-quantile (0…1) of numbers, linearly interpolated; NaN for none. */
export function quantile(xs, q) {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return s[lo] + (s[hi] - s[lo]) * (at - lo);
}

/** The median of numbers. */
export const median = (xs) => quantile(xs, 0.5);

/**
 * The least-squares slope of ys against their index (growth per step), and a robust one: the
 * median of the slopes between every pair of points (Theil–Sen), which one slow run on a loaded
 * machine does not tilt.
 */
export function slopes(ys) {
  const n = ys.length;
  if (n < 2) return { ls: Number.NaN, theilSen: Number.NaN };
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (i - mx) * (ys[i] - my);
    den += (i - mx) ** 2;
  }
  // Theil–Sen over pairs at least n/4 apart keeps it O(n²) small and the estimate stable
  const gap = Math.max(1, Math.floor(n / 4));
  const pair = [];
  for (let i = 0; i < n; i++) for (let j = i + gap; j < n; j++) pair.push((ys[j] - ys[i]) / (j - i));
  return { ls: num / den, theilSen: median(pair) };
}
