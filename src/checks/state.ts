import type { BookEvent, EventType } from '../codec/event.js';
import { OrderBook } from './book.js';
import type { SharedReference } from './reference.js';

/** A check's thresholds by name, resolved for one venue and symbol. */
export type Thresholds = Readonly<Record<string, number>>;

/** Position of an event type in `EVENT_TYPES`: trade 0, quote 1, liquidation 2, book 3. */
export function typeIndex(type: EventType): number {
  // A switch rather than a lookup in an object keyed by the type: V8 compiles that keyed load
  // to a generic call.
  switch (type) {
    case 'trade': return 0;
    case 'quote': return 1;
    case 'liquidation': return 2;
    default: return 3;
  }
}

/*
 * Boxing traps these classes avoid (V8 boxes a double it cannot keep in a register or a
 * number field: 16 bytes per occurrence):
 * - a double passed to, or returned from, a call V8 does not inline: numbers cross calls
 *   through fields (`staged`, `probe`, results such as `median`);
 * - `c ? NaN : x` (or `Infinity`) where the NaN branch never ran before V8 optimized the code:
 *   `NaN` is then a generic global load, the merged value is tagged, and `x` is boxed; such
 *   results are stored from separate branches instead.
 */

/** A fixed-capacity ring of numbers; O(1) push, no allocation after construction. */
export class NumberRing {
  readonly values: Float64Array;
  head = 0;
  size = 0;
  /** Median as of the last `computeMedian`. */
  median = NaN;
  /** 90th percentile (nearest rank) as of the last `computeMedian`. */
  p90 = NaN;
  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity);
  }
  /** Sets `median` and `p90` (insertion sort into `scratch`: rings here are at most 64 long; callers amortize it). */
  computeMedian(scratch: Float64Array): void {
    const n = this.size;
    if (n === 0) { this.median = NaN; this.p90 = NaN; return; }
    for (let i = 0; i < n; i++) {
      const v = this.values[i]!;
      let j = i - 1;
      while (j >= 0 && scratch[j]! > v) { scratch[j + 1] = scratch[j]!; j--; }
      scratch[j + 1] = v;
    }
    if (n % 2 === 1) this.median = scratch[(n - 1) >> 1]!;
    else this.median = (scratch[n / 2 - 1]! + scratch[n / 2]!) / 2;
    this.p90 = scratch[Math.min(n - 1, Math.ceil(0.9 * n) - 1)]!;
  }
  /** Tests and cold paths; the hot paths push `staged`. */
  push(v: number): void {
    this.staged = v;
    this.pushStaged();
  }
  /** Pushes `staged`: callers on the hot path set the field and call this, so no number is boxed. */
  staged = 0;
  pushStaged(): void {
    this.values[this.head] = this.staged;
    this.head = (this.head + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }
  clear(): void {
    this.head = 0;
    this.size = 0;
    this.median = NaN;
    this.p90 = NaN;
  }
}

/**
 * The last `capacity` values in arrival order (a ring) and the same values kept sorted, so the
 * median is O(1) and the median absolute deviation O(n/2) (a two-pointer walk out from the
 * median) instead of sorting on every event. Push is two binary searches and two memmoves.
 */
export class SortedWindow {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private head = 0;
  size = 0;
  /** Median and median absolute deviation, as of the last `computeMad()`. */
  median = NaN;
  mad = NaN;

  constructor(readonly capacity: number) {
    this.ring = new Float64Array(capacity);
    this.sorted = new Float64Array(capacity);
  }

  /** The value `push` inserts and `lowerBound` looks for (fields, not arguments: no boxing). */
  staged = 0;
  private probe = 0;

  /** Tests and cold paths; the hot paths push `staged`. */
  push(v: number): void {
    this.staged = v;
    this.pushStaged();
  }

  pushStaged(): void {
    const v = this.staged;
    const cap = this.capacity;
    if (this.size === cap) {
      this.probe = this.ring[this.head]!;
      const at = this.lowerBound();
      this.sorted.copyWithin(at, at + 1, this.size);
      this.size--;
    }
    this.probe = v;
    const at = this.lowerBound();
    this.sorted.copyWithin(at + 1, at, this.size);
    this.sorted[at] = v;
    this.size++;
    this.ring[this.head] = v;
    this.head = (this.head + 1) % cap;
  }

  private lowerBound(): number {
    const v = this.probe;
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Sets `median` to the median of the values (NaN when empty). */
  computeMedian(): void {
    const n = this.size;
    const a = this.sorted;
    if (n === 0) this.median = NaN;
    else if (n % 2 === 1) this.median = a[(n - 1) >> 1]!;
    else this.median = (a[n / 2 - 1]! + a[n / 2]!) / 2;
  }

  /**
   * Median absolute deviation from the median (which it leaves in `median`). The deviations
   * below and above the median are each sorted already (walking outwards), so the k-th smallest
   * is a merge of the two walks.
   */
  computeMad(): void {
    const n = this.size;
    this.computeMedian();
    const m = this.median;
    this.mad = NaN;
    if (n === 0) return;
    const a = this.sorted;
    this.probe = m;
    let right = this.lowerBound();
    let left = right - 1;
    const k = (n - 1) >> 1;
    let prev = 0;
    let cur = 0;
    for (let step = 0; step <= k + 1 && step < n; step++) {
      prev = cur;
      // The nearer of the next value below and the next above (one side may be used up).
      if (left >= 0 && (right >= n || m - a[left]! <= a[right]! - m)) { cur = m - a[left]!; left--; }
      else { cur = a[right]! - m; right++; }
      if (step === k && n % 2 === 1) { this.mad = cur; return; }
      if (step === k + 1) { this.mad = (prev + cur) / 2; return; }
    }
    this.mad = cur;
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
  }
}

/**
 * The last `capacity` numbers seen, with O(1) membership: a ring for the order and an
 * open-addressing hash table (linear probing, backward-shift deletion) in typed arrays, so
 * remembering an id allocates nothing. Numbers must be non-negative safe integers.
 */
export class RecentNumbers {
  private readonly ring: Float64Array;
  private head = 0;
  private size = 0;
  private readonly keys: Float64Array;
  private readonly mask: number;
  /** The number being hashed, looked up or removed (a field: a double passed to a call is boxed). */
  private probe = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Float64Array(capacity);
    let slots = 1;
    while (slots < capacity * 2) slots <<= 1;
    this.keys = new Float64Array(slots).fill(-1);
    this.mask = slots - 1;
  }

  /** Adds `src.tradeIdNum`; false when it was already among the last `capacity`. */
  addFrom(src: { readonly tradeIdNum: number }): boolean {
    const v = src.tradeIdNum;
    this.probe = v;
    if (this.slotOfProbe() >= 0) return false;
    if (this.size === this.capacity) {
      this.probe = this.ring[this.head]!;
      this.removeProbe();
      this.probe = v;
    } else {
      this.size++;
    }
    this.ring[this.head] = v;
    this.head = (this.head + 1) % this.capacity;
    let i = this.hashProbe();
    while (this.keys[i] !== -1) i = (i + 1) & this.mask;
    this.keys[i] = v;
    return true;
  }

  clear(): void {
    this.keys.fill(-1);
    this.head = 0;
    this.size = 0;
  }

  private hashProbe(): number {
    // Mix the low and high 32 bits (ids exceed 2^32 on busy venues).
    const v = this.probe;
    const lo = v % 4294967296;
    const hi = (v - lo) / 4294967296;
    return (Math.imul(lo | 0, 0x9e3779b1) ^ Math.imul(hi | 0, 0x85ebca6b)) & this.mask;
  }

  private slotOfProbe(): number {
    const v = this.probe;
    let i = this.hashProbe();
    for (;;) {
      const k = this.keys[i]!;
      if (k === v) return i;
      if (k === -1) return -1;
      i = (i + 1) & this.mask;
    }
  }

  private removeProbe(): void {
    let i = this.slotOfProbe();
    if (i < 0) return;
    // Backward-shift deletion: move later entries of the probe run into the hole.
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      const k = this.keys[j]!;
      if (k === -1) break;
      this.probe = k;
      const home = this.hashProbe();
      // Move k into the hole at i unless its home lies cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        this.keys[i] = k;
        i = j;
      }
    }
    this.keys[i] = -1;
  }
}

/**
 * The last `capacity` strings seen, with O(1) membership: the trade ids that are not numbers
 * (UUIDs, composite keys). The same design as `RecentNumbers`, with the strings and their home
 * slots in fixed arrays: a Set that churns allocates, since deleted entries stay in its table
 * until it rehashes into a new one.
 */
export class RecentStrings {
  private readonly ring: (string | undefined)[];
  private head = 0;
  private size = 0;
  /** `undefined` marks a free slot. */
  private readonly keys: (string | undefined)[];
  /** Home slot of each key (its hash, masked), so deletion never rehashes a string. */
  private readonly homes: Int32Array;
  private readonly mask: number;

  constructor(private readonly capacity: number) {
    this.ring = new Array<string | undefined>(capacity).fill(undefined);
    let slots = 1;
    while (slots < capacity * 2) slots <<= 1;
    this.keys = new Array<string | undefined>(slots).fill(undefined);
    this.homes = new Int32Array(slots);
    this.mask = slots - 1;
  }

  /** Adds `id`; false when it was already among the last `capacity`. */
  add(id: string): boolean {
    const home = hashString(id) & this.mask;
    if (this.slotOf(id, home) >= 0) return false;
    if (this.size === this.capacity) this.remove(this.ring[this.head]!);
    else this.size++;
    this.ring[this.head] = id;
    this.head = (this.head + 1) % this.capacity;
    let i = home;
    while (this.keys[i] !== undefined) i = (i + 1) & this.mask;
    this.keys[i] = id;
    this.homes[i] = home;
    return true;
  }

  private slotOf(id: string, home: number): number {
    for (let i = home; ; i = (i + 1) & this.mask) {
      const k = this.keys[i];
      if (k === undefined) return -1;
      if (k === id) return i;
    }
  }

  private remove(id: string): void {
    let i = this.slotOf(id, hashString(id) & this.mask);
    if (i < 0) return;
    // Backward-shift deletion, as in RecentNumbers.
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      const k = this.keys[j];
      if (k === undefined) break;
      const home = this.homes[j]!;
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        this.keys[i] = k;
        this.homes[i] = home;
        i = j;
      }
    }
    this.keys[i] = undefined;
  }
}

/** FNV-1a over the UTF-16 code units. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

/**
 * Extreme (max or min) of the values of a sliding time window: a monotonic deque in fixed
 * arrays, amortized O(1) per push and query. Holds at most `capacity` entries (the oldest
 * fall out first).
 */
export class MonotonicWindow {
  private readonly times: Float64Array;
  private readonly values: Float64Array;
  private head = 0;
  private count = 0;
  constructor(private readonly capacity: number, private readonly keepMax: boolean) {
    this.times = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
  }
  /** Adds `at.eventTs` / `at.eventPrice` (read from the state: numbers passed as arguments are boxed). */
  pushFrom(src: { readonly eventTs: number; readonly eventPrice: number }): void {
    const ts = src.eventTs;
    const v = src.eventPrice;
    const cap = this.capacity;
    while (this.count > 0) {
      const tail = (this.head + this.count - 1) % cap;
      const t = this.values[tail]!;
      if (this.keepMax ? t > v : t < v) break;
      this.count--;
    }
    if (this.count === cap) { this.head = (this.head + 1) % cap; this.count--; }
    const at = (this.head + this.count) % cap;
    this.times[at] = ts;
    this.values[at] = v;
    this.count++;
  }
  /** Extreme of the window's values after `trim` (NaN when none). */
  value = NaN;

  /** Drops values older than `windowMs` before `at.eventTs` and sets `value` to the extreme of the rest. */
  trim(at: { readonly eventTs: number }, windowMs: number): void {
    const fromTs = at.eventTs - windowMs * 1000;
    while (this.count > 0 && this.times[this.head]! < fromTs) {
      this.head = (this.head + 1) % this.capacity;
      this.count--;
    }
    this.value = this.count > 0 ? this.values[this.head]! : NaN;
  }
  clear(): void {
    this.head = 0;
    this.count = 0;
  }
}

/** Binance spot diff-depth rules (binance, binance-us): `U == previous u + 1`. */
export const BINANCE_SPOT = 1;
/** Binance futures rules (binance-futures USD-M, binance-coinm COIN-M): `pu == previous u`. */
export const BINANCE_FUTURES = 2;

/** The depth rules of a venue (set once per stream: no venue string is compared per event). */
export function binanceDepthRules(venue: string): number {
  switch (venue) {
    case 'binance': case 'binance-us': return BINANCE_SPOT;
    case 'binance-futures': case 'binance-coinm': return BINANCE_FUTURES;
    default: return 0;
  }
}

const WINDOW = 50;
const GAP_WINDOW = 64;
const LIQUIDATION_INDEX = typeIndex('liquidation');
const FLOW_SECONDS = 60;
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
  /** Receive time of the stream's last event, any type. */
  lastRecvUs = 0;
  /** Exchange time of the last event per type (trade, quote, liquidation, book). */
  readonly lastTsByType = new Float64Array(4).fill(-1);
  /** The current event's type index (`typeIndex`), staged by the engine. */
  eventType = 0;

  // trades
  lastTradePrice = NaN;
  lastTradeIdNum = NaN;
  readonly recentNumericIds = new RecentNumbers(ID_WINDOW);
  /** Created on the stream's first non-numeric trade id. */
  private recentStringIds: RecentStrings | undefined;

  // best bid/ask
  bid = NaN;
  ask = NaN;
  quoteTs = 0;
  readonly spreads = new SortedWindow(WINDOW);

  // book sequence
  /** Which of Binance's depth rules the venue follows (Q1): 0 none, BINANCE_SPOT, BINANCE_FUTURES. */
  binanceDepth = 0;
  bookSynced = false;
  /** Binance: the first delta after the snapshot has bridged it. */
  bookBridged = false;
  bookSeq = -1;
  /** The first and previous sequence numbers of the delta that set `bookSeq` (-2: a snapshot did). */
  bookFirstSeq = -2;
  bookPrevSeq = -2;

  // statistics
  readonly prices = new SortedWindow(WINDOW);
  ewmaVar = NaN;
  returnsSeen = 0;
  /** Scratch for medians: as long as the longest ring a median is taken of. */
  readonly sortScratch = new Float64Array(Math.max(WINDOW, GAP_WINDOW, FLOW_SECONDS));

  // cascade
  readonly liqTimes = new NumberRing(LIQ_WINDOW);
  readonly liqNotional = new NumberRing(LIQ_WINDOW);
  liqRunSide = 0;
  liqRunLength = 0;
  /** C1's window sum as of the last liquidation, and its exchange time: published for C7. */
  liqWindowNotional = 0;
  liqLastTs = 0;
  /** Highest and lowest trade prices of the fast-move window (C4). */
  readonly high = new MonotonicWindow(MOVE_WINDOW, true);
  readonly low = new MonotonicWindow(MOVE_WINDOW, false);
  /** Signed move over C4's window, bp (negative: down from the high); NaN before any. */
  moveBp = NaN;

  // raw trade prices (every trade not rejected, outliers included): spike-and-revert (A3)
  rawPrice1 = NaN;
  rawPrice0 = NaN;

  // liquidation consistency (V6) uses bid/ask above; quote sequence (Q2)
  lastQuoteId = -1;

  // book (Q5 checksums, M4, M5): built on the first book event
  book: OrderBook | undefined;
  /** Depth samples, one per second; their median is `depthSamples.median`. */
  readonly depthSamples = new NumberRing(WINDOW);
  depthSampleSec = 0;

  // silence (T5, T7), per event type: a stream's liquidations arrive minutes apart while its
  // trades arrive every few ms, so one limit learned from both fits neither (issue #14: T5/T7 on
  // 7-17 % of real liquidations with a shared limit).
  /** Receive time of the last event per type, µs (0: none yet). */
  readonly lastRecvByType = new Float64Array(4);
  /** Worker wall time of the last event per type, µs (what the silence sweep compares with). */
  readonly seenByType = new Float64Array(4);
  /** The learned silence limit per type, µs (0: not learned yet). */
  readonly silenceByType = new Float64Array(4);
  /** Gaps pushed per type since its median was last taken. */
  readonly gapsSinceMedian = new Uint8Array(4);
  /** Receive-time gaps per type, made on a type's second event. */
  private readonly gapRings: Array<NumberRing | undefined> = [undefined, undefined, undefined, undefined];
  /** Published to the silence sweep: the limit of the type whose limit runs out first, and when it was last seen. */
  silenceUs = 0;
  silenceSeenUs = 0;

  // volume spike (A4): notional of the current second, history of busy seconds
  volumeSec = 0;
  volumeNotional = 0;
  /** Notional of recent busy seconds; their median is `volumeHistory.median`. */
  readonly volumeHistory = new NumberRing(FLOW_SECONDS);

  // message rate (A5): count in the current receive second, EWMA baseline per second
  rateSec = 0;
  rateCount = 0;
  rateBaseline = NaN;
  rateSeconds = 0;

  // frozen price (A6)
  frozenPrice = NaN;
  frozenSinceTs = 0;
  frozenCount = 0;
  frozenRef = NaN;

  // taker flow (C3): buy / sell notional per second of the last minute
  readonly buyFlow = new Float64Array(FLOW_SECONDS);
  readonly sellFlow = new Float64Array(FLOW_SECONDS);
  flowSec = 0;
  buySum = 0;
  sellSum = 0;
  flowNormal = NaN;
  flowSeconds = 0;

  // volatility (C5): exponentially decayed sums of squared returns, fast and slow
  rvFast = 0;
  rvSlow = 0;
  rvTs = 0;
  rvReturns = 0;
  rvFirstTs = 0;
  rvFastNext = 0;
  rvSlowNext = 0;
  rvPending = false;

  // cross-venue reference (X1-X4, A6, C6, T5's timer half)
  ref: SharedReference | undefined;
  refInstrument = -1;
  refEntry = -1;
  refPrice = 0;
  /**
   * The event being checked, staged by the engine before the checks: its exchange time; its
   * price (a trade's or liquidation's price, a quote's mid, a synced book's mid, else NaN); a
   * quote's bid and ask.
   */
  eventTs = 0;
  eventPrice = 0;
  eventBid = 0;
  eventAsk = 0;
  /** Its trade id as a number (NaN when not numeric): Q7 and the id bookkeeping. */
  tradeIdNum = NaN;
  spotInstrument = -1;
  isPerp = false;

  /** What the last failing check measured, and its limit (for the cascade stream and tests). */
  lastValue = 0;
  lastThreshold = 0;

  constructor(readonly venue: string, readonly symbol: string) {}

  /**
   * Remembers the current trade's id; false when it is a repeat. Numeric ids (most venues) go
   * to a table of numbers, other ids (UUIDs, composite keys) to a table of strings.
   */
  rememberTradeId(id: string): boolean {
    if (!Number.isNaN(this.tradeIdNum)) return this.recentNumericIds.addFrom(this);
    return (this.recentStringIds ??= new RecentStrings(ID_WINDOW)).add(id);
  }

  /**
   * Adds the current trade (`eventPrice`) to A1's price window (amortized O(1)). The numbers are
   * read from fields here: passed as arguments from the engine, which V8 does not inline into,
   * each would be boxed.
   */
  pushPrice(): void {
    this.prices.staged = this.eventPrice;
    this.prices.pushStaged();
  }

  /** Adds the current trade (`eventTs`, `eventPrice`) to C4's window high and low (amortized O(1)). */
  pushMovePrice(): void {
    this.high.pushFrom(this);
    this.low.pushFrom(this);
  }

  /** The order book, created on the stream's first book event. */
  orderBook(): OrderBook {
    return (this.book ??= new OrderBook());
  }

  /**
   * A delta identical in its sequence numbers to the last one applied: a venue that sends the
   * same update twice in a row (legal on some) has not broken the sequence, and the book already
   * holds it (absolute levels: applying it again changes nothing).
   */
  repeatsLastDelta(e: BookEvent): boolean {
    return e.action === 'delta' && e.seq > 0 && e.seq === this.bookSeq && this.bookFirstSeq !== -2
      && (e.firstSeq ?? e.seq) === this.bookFirstSeq && (e.prevSeq ?? -1) === this.bookPrevSeq;
  }

  /** The receive-time gaps of event type `ti`. */
  recvGaps(ti: number): NumberRing {
    return this.gapRings[ti] ?? (this.gapRings[ti] = new NumberRing(GAP_WINDOW));
  }

  /**
   * Folds the event of type `ti` into the per-type liveness and picks what the silence sweep
   * watches: among the continuous types with a learned limit that has not run out yet, the one
   * whose limit runs out first. Liquidations are left out: they come with market moves, and
   * hours without one are a calm market, not a broken feed (T5 still flags the one that ends an
   * unusually long lull). A type already past its limit was reported by the sweep then.
   */
  noteSeen(ti: number, recvUs: number, seenUs: number): void {
    this.lastRecvUs = recvUs;
    this.lastRecvByType[ti] = recvUs;
    this.seenByType[ti] = seenUs;
    let deadline = Infinity;
    this.silenceUs = 0;
    this.silenceSeenUs = 0;
    for (let t = 0; t < 4; t++) {
      if (t === LIQUIDATION_INDEX) continue;
      const limit = this.silenceByType[t]!;
      const ends = this.seenByType[t]! + limit;
      if (limit > 0 && ends > seenUs && ends < deadline) {
        deadline = this.seenByType[t]! + limit;
        this.silenceUs = limit;
        this.silenceSeenUs = this.seenByType[t]!;
      }
    }
  }

  /** Resets the statistical baselines (after a gap the next prints would look like jumps). */
  resetBaselines(): void {
    this.prices.clear();
    this.spreads.clear();
    this.ewmaVar = NaN;
    this.returnsSeen = 0;
    this.lastTradePrice = NaN;
    this.high.clear();
    this.low.clear();
    this.moveBp = NaN;
    this.rawPrice0 = NaN;
    this.rawPrice1 = NaN;
    this.volumeHistory.clear();
    this.depthSamples.clear();
    this.frozenPrice = NaN;
    this.rvFast = 0;
    this.rvSlow = 0;
    this.rvReturns = 0;
    this.rvFirstTs = 0;
    this.rvTs = 0;
  }
}
