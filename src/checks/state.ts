import type { Thresholds } from './check.js';

const TYPE_INDEX = { trade: 0, quote: 1, liquidation: 2, book: 3 } as const;
export function typeIndex(type: keyof typeof TYPE_INDEX): number {
  return TYPE_INDEX[type];
}

/** A fixed-capacity ring of numbers; O(1) push, no allocation after construction. */
export class NumberRing {
  readonly values: Float64Array;
  head = 0;
  size = 0;
  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity);
  }
  push(v: number): void {
    this.values[this.head] = v;
    this.head = (this.head + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }
  /** i-th newest (0 = newest). */
  at(i: number): number {
    return this.values[(this.head - 1 - i + 2 * this.capacity) % this.capacity]!;
  }
  clear(): void {
    this.head = 0;
    this.size = 0;
  }
}

const WINDOW = 50;
const ID_WINDOW = 1024;
const LIQ_WINDOW = 512;
const MOVE_WINDOW = 1024;

/**
 * Everything the checks remember about one venue's symbol. Fixed size: windows are rings,
 * the duplicate-id window is bounded; a symbol idle for long is evicted by the engine.
 */
export class SymbolState {
  /** Thresholds per check, in registry order (resolved for this venue and symbol). */
  thresholds: Thresholds[] = [];
  firstRecvUs = 0;
  lastRecvUs = 0;
  /** Exchange time of the last event per type (trade, quote, liquidation, book). */
  readonly lastTsByType = new Float64Array(4).fill(-1);
  /** True for the event that follows a gap in the stream (T7); statistics restart. */
  afterGap = false;

  // trades
  lastTradePrice = NaN;
  lastTradeIdNum = NaN;
  readonly tradeIds = new Set<string>();
  readonly tradeIdRing: string[] = new Array<string>(ID_WINDOW).fill('');
  tradeIdHead = 0;

  // best bid/ask
  bid = NaN;
  ask = NaN;
  quoteTs = 0;
  readonly spreads = new NumberRing(WINDOW);

  // book sequence
  bookSynced = false;
  /** Binance: the first delta after the snapshot has bridged it. */
  bookBridged = false;
  bookSeq = -1;

  // statistics
  readonly prices = new NumberRing(WINDOW);
  ewmaVar = NaN;
  returnsSeen = 0;
  readonly sortScratch = new Float64Array(WINDOW);

  // cascade
  readonly liqTimes = new NumberRing(LIQ_WINDOW);
  readonly liqNotional = new NumberRing(LIQ_WINDOW);
  liqRunSide = 0;
  liqRunLength = 0;
  // Monotonic deque of (time, price) with decreasing prices: its head is the window's high.
  private readonly dqTimes = new Float64Array(MOVE_WINDOW);
  private readonly dqPrices = new Float64Array(MOVE_WINDOW);
  private dqHead = 0;
  private dqCount = 0;

  /** What the last failing check measured, and its limit (for the cascade stream and tests). */
  lastValue = 0;
  lastThreshold = 0;

  constructor(readonly venue: string, readonly symbol: string) {}

  rememberTradeId(id: string): boolean {
    if (this.tradeIds.has(id)) return false;
    const evicted = this.tradeIdRing[this.tradeIdHead]!;
    if (evicted !== '') this.tradeIds.delete(evicted);
    this.tradeIdRing[this.tradeIdHead] = id;
    this.tradeIdHead = (this.tradeIdHead + 1) % ID_WINDOW;
    this.tradeIds.add(id);
    return true;
  }

  /** Adds a trade to the high-water deque (amortized O(1)). */
  pushPrice(ts: number, price: number): void {
    while (this.dqCount > 0) {
      const tail = (this.dqHead + this.dqCount - 1) % MOVE_WINDOW;
      if (this.dqPrices[tail]! > price) break;
      this.dqCount--;
    }
    if (this.dqCount === MOVE_WINDOW) { this.dqHead = (this.dqHead + 1) % MOVE_WINDOW; this.dqCount--; }
    const at = (this.dqHead + this.dqCount) % MOVE_WINDOW;
    this.dqTimes[at] = ts;
    this.dqPrices[at] = price;
    this.dqCount++;
  }

  /** Highest trade price at or after `fromTs`; NaN when none. */
  windowHigh(fromTs: number): number {
    while (this.dqCount > 0 && this.dqTimes[this.dqHead]! < fromTs) {
      this.dqHead = (this.dqHead + 1) % MOVE_WINDOW;
      this.dqCount--;
    }
    return this.dqCount > 0 ? this.dqPrices[this.dqHead]! : NaN;
  }

  /** Resets the statistical baselines (after a gap the next prints would look like jumps). */
  resetBaselines(): void {
    this.prices.clear();
    this.spreads.clear();
    this.ewmaVar = NaN;
    this.returnsSeen = 0;
    this.lastTradePrice = NaN;
    this.dqHead = 0;
    this.dqCount = 0;
  }
}

/** Median of the first `n` values of a ring, using `scratch` (insertion sort: n <= 50). */
export function ringMedian(ring: NumberRing, scratch: Float64Array, absDevFrom = NaN): number {
  const n = ring.size;
  for (let i = 0; i < n; i++) {
    const v = Number.isNaN(absDevFrom) ? ring.values[i]! : Math.abs(ring.values[i]! - absDevFrom);
    let j = i - 1;
    while (j >= 0 && scratch[j]! > v) { scratch[j + 1] = scratch[j]!; j--; }
    scratch[j + 1] = v;
  }
  if (n === 0) return NaN;
  return n % 2 === 1 ? scratch[(n - 1) >> 1]! : (scratch[n / 2 - 1]! + scratch[n / 2]!) / 2;
}
