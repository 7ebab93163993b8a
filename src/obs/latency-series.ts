import { LatencyHistogram, type EncodedHistogram } from './latency-histogram.js';

/** One wall-clock second of latencies. */
export interface LatencySecond {
  /** Unix time in whole seconds. */
  sec: number;
  histogram: EncodedHistogram;
}

/**
 * Latencies per wall-clock second, the last `capacity` seconds kept in a ring: what a load test
 * polls (about every second) to draw percentiles over time. Seconds are aligned to the clock, not
 * to the polls, so any number of readers see the same intervals, and a late poll loses nothing
 * younger than `capacity` seconds. Fixed memory; recording is one index lookup per batch.
 */
export class LatencySeries {
  private readonly histograms: LatencyHistogram[];
  private readonly seconds: Float64Array;

  constructor(readonly capacity = 16) {
    this.histograms = Array.from({ length: capacity }, () => new LatencyHistogram());
    this.seconds = new Float64Array(capacity).fill(-1);
  }

  /** The histogram of the second holding `nowMs`; call once per batch, record into it per event. */
  at(nowMs: number): LatencyHistogram {
    const sec = Math.floor(nowMs / 1000);
    const slot = sec % this.capacity;
    const h = this.histograms[slot]!;
    if (this.seconds[slot] !== sec) {
      h.reset();
      this.seconds[slot] = sec;
    }
    return h;
  }

  /**
   * Completed seconds after `afterSec` (exclusive) and before the one holding `nowMs`, oldest
   * first, with at least one value. The current second is still filling, so it is never returned.
   */
  completed(afterSec: number, nowMs: number): LatencySecond[] {
    const current = Math.floor(nowMs / 1000);
    const out: LatencySecond[] = [];
    for (let slot = 0; slot < this.capacity; slot++) {
      const sec = this.seconds[slot]!;
      if (sec > afterSec && sec < current && sec > current - this.capacity && this.histograms[slot]!.total > 0) {
        out.push({ sec, histogram: this.histograms[slot]!.encode() });
      }
    }
    return out.sort((a, b) => a.sec - b.sec);
  }
}
