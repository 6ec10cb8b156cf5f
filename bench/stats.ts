/** Small statistics helpers for the benchmark's aggregates. */

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Rounds for JSON output; keeps NaN out of the file (null instead). */
export function round(v: number, digits = 1): number | null {
  if (!Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Concatenates arrays without spreading them into one call (large sample arrays overflow the stack). */
export function concat(arrays: readonly (readonly number[])[]): number[] {
  const out: number[] = [];
  for (const a of arrays) for (const v of a) out.push(v);
  return out;
}
