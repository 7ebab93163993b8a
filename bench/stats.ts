/** Small summaries shared by the benchmarks. */

/** The p-quantile (0..1) of ascending `sorted` values, nearest rank; NaN when empty. */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.ceil(p * n);
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))]!;
}

/** Median of unsorted values (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const n = values.length;
  if (n === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = n >> 1;
  return n % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A duration in ns as a short human string (ns, µs or ms, three significant figures). */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return 'n/a';
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}
