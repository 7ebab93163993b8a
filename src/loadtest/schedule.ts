import { ErrorCode, HimariError } from '../errors.js';
/** From second `fromS` of the run on, send `rate` events per second (until the next step). */
export interface RateStep {
  fromS: number;
  rate: number;
}

/**
 * An open-loop send schedule: a piecewise-constant rate over `durationS` seconds. Message k
 * (0-based) is due at the time t_k where the expected count ∫rate reaches k, whatever happened
 * to the messages before it: a generator that falls behind sends late, it does not send less,
 * and latency measured from t_k counts the wait (no coordinated omission).
 */
export class RateSchedule {
  readonly steps: readonly RateStep[];
  /** Expected count at the start of each step. */
  private readonly starts: number[];
  /** Messages in the run: the expected count at `durationS`, rounded down. */
  readonly total: number;

  constructor(steps: readonly RateStep[], readonly durationS: number) {
    if (steps.length === 0) throw new HimariError(ErrorCode.INVALID_INPUT, 'a schedule needs at least one step');
    if (!(durationS > 0) || !Number.isFinite(durationS)) throw new HimariError(ErrorCode.INVALID_INPUT, `duration must be a positive number of seconds, got ${durationS}`);
    if (steps[0]!.fromS !== 0) throw new HimariError(ErrorCode.INVALID_INPUT, `the first step must start at second 0, not ${steps[0]!.fromS}`);
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i]!;
      if (!Number.isFinite(s.rate) || s.rate < 0) throw new HimariError(ErrorCode.INVALID_INPUT, `rate must be a non-negative number, got ${s.rate} at second ${s.fromS}`);
      if (!Number.isFinite(s.fromS) || s.fromS < 0) throw new HimariError(ErrorCode.INVALID_INPUT, `step start must be a non-negative number of seconds, got ${s.fromS}`);
      if (i > 0 && s.fromS <= steps[i - 1]!.fromS) throw new HimariError(ErrorCode.INVALID_INPUT, `step starts must increase: ${steps[i - 1]!.fromS} then ${s.fromS}`);
    }
    this.steps = steps.filter((s) => s.fromS < durationS).map((s) => ({ ...s }));
    this.starts = [];
    let c = 0;
    for (let i = 0; i < this.steps.length; i++) {
      this.starts.push(c);
      c += this.steps[i]!.rate * (this.endOf(i) - this.steps[i]!.fromS);
    }
    this.total = Math.floor(c + 1e-9);
  }

  static fixed(rate: number, durationS: number): RateSchedule {
    return new RateSchedule([{ fromS: 0, rate }], durationS);
  }

  private endOf(i: number): number {
    return i + 1 < this.steps.length ? this.steps[i + 1]!.fromS : this.durationS;
  }

  /** Rate in force at second `t`. */
  rateAt(t: number): number {
    let r = 0;
    for (const s of this.steps) if (s.fromS <= t) r = s.rate;
    return t >= this.durationS ? 0 : r;
  }

  /** Expected messages sent by second `t` (∫rate over [0, t]), fractional. */
  expectedAt(t: number): number {
    if (t <= 0) return 0;
    const tt = Math.min(t, this.durationS);
    let i = this.steps.length - 1;
    while (i > 0 && this.steps[i]!.fromS > tt) i--;
    return this.starts[i]! + this.steps[i]!.rate * (tt - this.steps[i]!.fromS);
  }

  /** How many messages are due by second `t`: those with t_k ≤ t. */
  dueAt(t: number): number {
    if (t < 0) return 0;
    return Math.min(this.total, Math.floor(this.expectedAt(t) + 1e-9) + 1);
  }

  /** t_k: the first second at which message `k` is due (∫rate reaches k). */
  timeOf(k: number): number {
    for (let i = 0; i < this.steps.length; i++) {
      const s = this.steps[i]!;
      if (s.rate > 0 && k <= this.starts[i]! + s.rate * (this.endOf(i) - s.fromS) + 1e-9) return s.fromS + Math.max(0, k - this.starts[i]!) / s.rate;
    }
    return this.durationS;
  }
}

/**
 * Parses `--pattern 0:1000,30:10000,60:5000`: from second 0 1,000 events/s, from second 30
 * 10,000/s, from second 60 5,000/s (until `durationS`).
 */
export function parsePattern(text: string): RateStep[] {
  const steps: RateStep[] = [];
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const m = /^(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)$/.exec(item);
    if (m === null) throw new HimariError(ErrorCode.INVALID_INPUT, `pattern step ${JSON.stringify(item)} is not SECOND:RATE`);
    steps.push({ fromS: Number(m[1]), rate: Number(m[2]) });
  }
  if (steps.length === 0) throw new HimariError(ErrorCode.INVALID_INPUT, 'pattern needs at least one SECOND:RATE step');
  if (steps[0]!.fromS !== 0) throw new HimariError(ErrorCode.INVALID_INPUT, `pattern must start at second 0, not ${steps[0]!.fromS}`);
  for (let i = 1; i < steps.length; i++) {
    if (steps[i]!.fromS <= steps[i - 1]!.fromS) throw new HimariError(ErrorCode.INVALID_INPUT, `pattern seconds must increase: ${steps[i - 1]!.fromS} then ${steps[i]!.fromS}`);
  }
  return steps;
}

/**
 * `steps` preceded by `warmupS` seconds at their first rate, the rest shifted by as much: the
 * generator, the broker's new partitions and the processor's connections reach their steady
 * state before the window that is measured.
 */
export function withWarmup(steps: readonly RateStep[], warmupS: number): RateStep[] {
  if (!(warmupS >= 0) || !Number.isFinite(warmupS)) throw new HimariError(ErrorCode.INVALID_INPUT, `warm-up must be a non-negative number of seconds, got ${warmupS}`);
  if (warmupS === 0 || steps.length === 0) return steps.map((s) => ({ ...s }));
  return [{ fromS: 0, rate: steps[0]!.rate }, ...steps.map((s) => ({ fromS: s.fromS + warmupS, rate: s.rate }))];
}
