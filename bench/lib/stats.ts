/** Percentiles of latency samples. */

/** Nearest-rank percentile: the smallest sample with at least p% of the samples at or below it; NaN without samples. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * The sample at index ⌊p/100 · n⌋ of the sorted samples (one rank above `percentile` when
 * p·n is whole); NaN without samples. The ingest and search reports were measured with it:
 * kept so their figures stay comparable with the results already written.
 */
export function percentileFloor(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
