import { ErrorCode, HimariError } from '../errors.js';

/** At most `count` in any `perMs` milliseconds. */
export interface Rate {
  readonly count: number;
  readonly perMs: number;
}

/**
 * `rate` as a client keeps a venue's limit: the same count over a window a quarter longer. A
 * venue counts requests when they arrive, and two that left a window apart can arrive closer
 * when the first was held up on the way: the longer window absorbs a delay of up to a quarter of
 * it (250 ms for a limit per second). Fewer per window would not: at the window's edge the
 * client sends its next ones at once, and a late one before them puts one too many in the
 * venue's window (seen in the test of a reconnect storm: 2 a second refused by a venue taking 3).
 */
export function withMargin(rate: Rate): Rate {
  return { count: rate.count, perMs: Math.ceil(rate.perMs * 1.25) };
}

/**
 * A venue limit kept exactly: never more than `count` takes in any window of `perMs`, the way a
 * venue counts them (a sliding window over the last `count` takes). A token bucket of the same
 * rate would let up to twice `count` through in the first window after an idle spell, which is
 * when a reconnect storm or a burst of resubscriptions comes.
 */
export class RateWindow {
  /** Times of the last `count` takes, ms; `head` is the oldest once full. */
  private readonly times: Float64Array;
  private head = 0;
  private size = 0;

  constructor(readonly rate: Rate) {
    if (!Number.isInteger(rate.count) || rate.count < 1 || !(rate.perMs > 0)) {
      throw new HimariError(ErrorCode.CONFIG_INVALID, `a rate is at least 1 per a positive number of milliseconds (got ${rate.count} per ${rate.perMs} ms)`);
    }
    this.times = new Float64Array(rate.count);
  }

  /**
   * Takes one at `nowMs` and returns 0 when the limit allows it; otherwise takes nothing and
   * returns how many milliseconds until it would.
   */
  take(nowMs: number): number {
    const { count, perMs } = this.rate;
    if (this.size < count) {
      this.times[(this.head + this.size++) % count] = nowMs;
      return 0;
    }
    const wait = this.times[this.head]! + perMs - nowMs;
    if (wait > 0) return Math.ceil(wait);
    this.times[this.head] = nowMs;
    this.head = (this.head + 1) % count;
    return 0;
  }
}
