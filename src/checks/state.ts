import type { BookEvent, EventType } from '../codec/event.js';
import { OrderBook } from './book.js';
import type { SharedReference } from './reference.js';
import { MonotonicWindow, NumberRing, RecentNumbers, RecentStrings, SortedWindow } from './windows.js';

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
