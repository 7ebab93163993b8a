/** Consumer lag at one instant: messages in the topic that the group has not committed. */
export interface LagSample {
  /** Seconds since the step (or run) started. */
  t: number;
  lag: number;
}

export interface LagCriterion {
  /** The lag may grow by at most this share of the offered rate per second (fitted slope). */
  maxGrowthShare: number;
  /** ... and end below this many seconds of traffic ... */
  maxBacklogS: number;
  /** ... or below this many messages (commit granularity at low rates). */
  floor: number;
}

/**
 * Processing keeps up when the lag stops growing: the backlog a consumer that is slower than the
 * offered rate builds grows by (offered − processed) every second. Commits every 200 ms and
 * batching make the lag a saw-tooth of up to a fraction of a second of traffic, so one sample
 * says little; a least-squares slope over the second half of the step (after the ramp-up) does.
 * 5 % of the rate is about two standard deviations of that slope over ten noisy samples.
 */
export const DEFAULT_LAG_CRITERION: LagCriterion = Object.freeze({ maxGrowthShare: 0.05, maxBacklogS: 1, floor: 2000 });

export interface LagVerdict {
  bounded: boolean;
  /** Fitted growth of the lag over the judged samples, messages per second. */
  slopePerS: number;
  /** Lag at the last sample. */
  finalLag: number;
  maxLag: number;
  /** The limits applied, for the report. */
  maxSlopePerS: number;
  maxFinalLag: number;
  reason: string;
}

/** Least-squares slope of lag over t; 0 for fewer than two distinct times. */
export function lagSlope(samples: readonly LagSample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  let st = 0;
  let sl = 0;
  for (const s of samples) { st += s.t; sl += s.lag; }
  const mt = st / n;
  const ml = sl / n;
  let num = 0;
  let den = 0;
  for (const s of samples) { num += (s.t - mt) * (s.lag - ml); den += (s.t - mt) ** 2; }
  return den === 0 ? 0 : num / den;
}

/** Judges a step at `rate` events/s from its lag samples (every second, oldest first). */
export function judgeLag(samples: readonly LagSample[], rate: number, c: LagCriterion = DEFAULT_LAG_CRITERION): LagVerdict {
  const maxSlopePerS = c.maxGrowthShare * rate;
  const maxFinalLag = Math.max(c.floor, c.maxBacklogS * rate);
  if (samples.length < 4) {
    return { bounded: false, slopePerS: 0, finalLag: samples.at(-1)?.lag ?? 0, maxLag: Math.max(0, ...samples.map((s) => s.lag)), maxSlopePerS, maxFinalLag, reason: 'too few lag samples to judge' };
  }
  const judged = samples.slice(Math.floor(samples.length / 2));
  const slopePerS = lagSlope(judged);
  const finalLag = samples[samples.length - 1]!.lag;
  const maxLag = Math.max(...samples.map((s) => s.lag));
  const reasons: string[] = [];
  if (slopePerS > maxSlopePerS) reasons.push(`lag grows ${Math.round(slopePerS)}/s over the second half (limit ${Math.round(maxSlopePerS)}/s)`);
  if (finalLag > maxFinalLag) reasons.push(`final lag ${finalLag} above ${Math.round(maxFinalLag)}`);
  return {
    bounded: reasons.length === 0, slopePerS, finalLag, maxLag, maxSlopePerS, maxFinalLag,
    reason: reasons.length === 0 ? 'lag bounded' : reasons.join('; '),
  };
}

/**
 * The next rate of the max-rate search: double while steps pass, then bisect between the highest
 * passing and the lowest failing rate until they are within `precision` of each other. Returns
 * null when the search is done. `results` are the steps so far, in order.
 */
export function nextSearchRate(results: ReadonlyArray<{ rate: number; passed: boolean }>, options: { startRate: number; maxRate: number; minRate: number; precision: number }): number | null {
  if (results.length === 0) return options.startRate;
  const passed = results.filter((r) => r.passed).map((r) => r.rate);
  const failed = results.filter((r) => !r.passed).map((r) => r.rate);
  const lo = passed.length === 0 ? 0 : Math.max(...passed);
  const hi = failed.length === 0 ? Infinity : Math.min(...failed.filter((f) => f > lo).concat(Infinity));
  if (hi === Infinity) {
    const next = lo * 2;
    return next > options.maxRate ? null : next;
  }
  if (lo === 0) {
    const next = Math.floor(hi / 2);
    return next < options.minRate ? null : next;
  }
  if ((hi - lo) / lo <= options.precision) return null;
  const mid = Math.round((lo + hi) / 2 / 100) * 100;
  return mid <= lo || mid >= hi ? null : mid;
}
