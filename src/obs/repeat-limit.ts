/**
 * Lets a repeated report through once per window: the first of a kind at once, later ones counted
 * and let through, with the count, once the window has passed. librdkafka reports "all broker
 * connections are down" on every attempt of a client whose broker is gone: a consumer
 * heartbeating every 500 ms logged it 120 times in 15 s of a stopped broker (6 at 2,000 ms).
 */
export class RepeatLimit {
  private readonly kinds = new Map<string, { at: number; held: number }>();

  /** `maxKinds`: past it the kinds seen are forgotten (bounded memory if kinds never repeat). */
  constructor(private readonly windowMs: number, private readonly maxKinds = 256) {}

  /**
   * -1: hold this one back (counted). Otherwise let it through; the number is how many of its
   * kind were held back since the last one let through.
   */
  admit(kind: string, nowMs: number): number {
    const k = this.kinds.get(kind);
    if (k === undefined) {
      if (this.kinds.size >= this.maxKinds) this.kinds.clear();
      this.kinds.set(kind, { at: nowMs, held: 0 });
      return 0;
    }
    if (nowMs - k.at < this.windowMs) {
      k.held++;
      return -1;
    }
    const held = k.held;
    k.at = nowMs;
    k.held = 0;
    return held;
  }
}
