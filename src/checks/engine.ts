import { EVENT_TYPES, Verdict, type BookEvent, type EventType, type MarketEvent } from '../codec/event.js';
import { checkMask, type Check, type EventOf, type Judge, type Thresholds } from './check.js';
import { binanceDepthRules, SymbolState, typeIndex } from './state.js';
import { instrumentKey, instrumentKind, SharedReference, spotKeyOf } from './reference.js';
import { DEFAULT_CHECK_CONFIG, resolveThresholds, type CheckConfig } from './thresholds.js';
import { ErrorCode, HimariError } from '../errors.js';

/** Outcome of all checks on one event. Reused: `evaluate` overwrites it, never allocates. */
export interface CheckOutcome {
  verdict: Verdict;
  /** Failed-check bits 0..31 and 32..63. */
  failedLo: number;
  failedHi: number;
  /** 1 - (rejects x 1 + flags x 0.25), floored at 0. */
  score: number;
  /** A resync check failed: the symbol's book is unsynced until the next snapshot. */
  resync: boolean;
  /** Per check bit: what the check measured and its limit, valid where the bit failed. */
  readonly values: Float64Array;
  readonly limits: Float64Array;
}

const REJECT_WEIGHT = 1;
const FLAG_WEIGHT = 0.25;
/**
 * Checks whose failure keeps a trade out of the price statistics (A1's window, A2's and
 * C5's volatilities, the last price returns are taken from): a trade older than the newest (T4)
 * or replayed on subscribe (T6) is not the current price, and a return to or from it is not a
 * move. Every other flagged trade is the market as it is and updates the baselines: keeping
 * flagged trades out froze a baseline at the level before a genuine shift, and the same check
 * then flagged every later trade (runs of 1,600+ on real feeds, issue #14). Only rejects stay out.
 */
const PRICE_STAT_EXCLUDING = ['T4', 'T6'];
/**
 * Checks whose failure makes a trade's price suspect as a print (an outlier, off the book,
 * outside the quote, away from the other venues, out of time): kept out of the cross-venue
 * reference that the other venues' X checks compare with, and out of C4's window high and low.
 * One bad print must not move every venue's reference, nor read as a fast move for a minute;
 * a genuine shift reaches both as soon as A1 takes it as the new level.
 */
const SUSPECT_PRICE = ['V7', 'M2', 'A1', 'A2', 'T4', 'T6', 'X3'];
const LAMBDA = 0.94;
/** The thresholds handed to the engine's own preparation step (it has none). */
const NO_THRESHOLDS: Thresholds = Object.freeze({});

/**
 * What runs on an event of one type, in order: the engine's preparation, then the judges of the
 * checks that examine the type, in registry order. `owners[i]` is step i's index in the
 * engine's check list and in every state's `thresholds`; the preparation's is one past the last
 * check (its slot holds `NO_THRESHOLDS`).
 */
interface TypePlan {
  readonly steps: readonly Judge[];
  readonly owners: readonly number[];
}

/**
 * The engine's step before the checks, per event type: stages the event's numbers in the state
 * (the checks that span several event types, and the engine's own update, read them from there)
 * and applies a book update. It runs as the first step of the type's plan, from the call site
 * that runs the checks' judges, for the same reason the judges are split by type (see `Judges`):
 * that site sees dozens of functions, so V8 compiles each on its own with feedback from one event
 * shape, and the shape-specific numbers it reads are not boxed. Never fails.
 */
const PREPARE: { readonly [T in EventType]: Judge<EventOf<T>> } = {
  trade(e, s) {
    s.eventPrice = e.price;
    parseTradeId(s, e.id);
    return false;
  },
  quote(e, s) {
    s.eventBid = e.bid;
    s.eventAsk = e.ask;
    s.eventPrice = (e.bid + e.ask) / 2;
    return false;
  },
  liquidation(e, s) {
    s.eventPrice = e.price;
    return false;
  },
  book(e, s) {
    applyBook(e, s);
    if (s.bookSynced && s.book !== undefined) s.eventPrice = s.book.midPrice;
    else s.eventPrice = NaN;
    return false;
  },
};

/**
 * Runs the checks over events of many symbols, keeping one `SymbolState` per venue and symbol
 * (nested maps: no key string is built per event). After the checks, `update` folds the event
 * into the state: rejected events change nothing but time and id bookkeeping; flagged events
 * update the baselines like accepted ones, except trades out of time order (PRICE_STAT_EXCLUDING).
 */
export class CheckEngine {
  readonly outcome: CheckOutcome = {
    verdict: Verdict.ACCEPTED, failedLo: 0, failedHi: 0, score: 1, resync: false, values: new Float64Array(64), limits: new Float64Array(64),
  };
  private readonly states = new Map<string, Map<string, SymbolState>>();
  /** By event type index (`typeIndex`). */
  private readonly plans: readonly TypePlan[];
  private readonly priceStatMaskLo: number;
  private readonly priceStatMaskHi: number;
  private readonly suspectMaskLo: number;
  private readonly suspectMaskHi: number;
  private count = 0;
  /** The cross-venue reference (shared with the other workers when given; private otherwise). */
  readonly reference: SharedReference;

  constructor(private readonly checks: readonly Check[], private readonly config: CheckConfig = DEFAULT_CHECK_CONFIG, reference?: SharedReference) {
    this.reference = reference ?? SharedReference.create(1024);
    const bits = new Set<number>();
    for (const c of checks) {
      if (c.bit < 0 || c.bit > 63 || bits.has(c.bit)) throw new HimariError(ErrorCode.INTERNAL, `check ${c.id}: bit ${c.bit} is out of range or taken`);
      bits.add(c.bit);
    }
    const disabled = new Set(config.disabled);
    this.checks = checks.filter((c) => !disabled.has(c.id));
    this.plans = EVENT_TYPES.map((type): TypePlan => {
      const steps: Judge[] = [PREPARE[type] as Judge];
      const owners = [this.checks.length];
      this.checks.forEach((c, k) => {
        const judge = c.evaluate[type] as Judge | undefined;
        if (judge !== undefined) { steps.push(judge); owners.push(k); }
      });
      return { steps, owners };
    });
    const priceStat = checkMask(checks, (c) => PRICE_STAT_EXCLUDING.includes(c.id));
    this.priceStatMaskLo = priceStat.lo;
    this.priceStatMaskHi = priceStat.hi;
    const suspectMask = checkMask(checks, (c) => SUSPECT_PRICE.includes(c.id));
    this.suspectMaskLo = suspectMask.lo;
    this.suspectMaskHi = suspectMask.hi;
  }

  /** Symbols with state. */
  get symbols(): number {
    return this.count;
  }

  state(venue: string, symbol: string): SymbolState {
    let byVenue = this.states.get(venue);
    if (byVenue === undefined) {
      byVenue = new Map();
      this.states.set(venue, byVenue);
    }
    const s = byVenue.get(symbol);
    return s ?? this.createState(byVenue, venue, symbol);
  }

  // Apart from `state` on purpose: the closure below captures venue and symbol, which would make
  // every call of `state` allocate a context for them, once per event.
  private createState(byVenue: Map<string, SymbolState>, venue: string, symbol: string): SymbolState {
    const s = new SymbolState(venue, symbol);
    s.thresholds = this.checks.map((c): Thresholds => resolveThresholds(c, venue, symbol, this.config));
    s.thresholds.push(NO_THRESHOLDS);
    const ref = this.reference;
    s.ref = ref;
    s.refInstrument = ref.instrument(instrumentKey(venue, symbol));
    s.refEntry = ref.entry(s.refInstrument, venue, symbol);
    s.isPerp = instrumentKind(venue, symbol) === 'perp';
    s.binanceDepth = binanceDepthRules(venue);
    if (s.isPerp) s.spotInstrument = ref.instrument(spotKeyOf(venue, symbol));
    byVenue.set(symbol, s);
    this.count++;
    return s;
  }

  evaluate(e: MarketEvent, nowUs: number): CheckOutcome {
    const s = this.state(e.venue, e.symbol);
    let lo = 0;
    let hi = 0;
    let penalty = 0;
    let resync = false;
    let verdict: Verdict = Verdict.ACCEPTED;
    const o = this.outcome;
    const ti = typeIndex(e.type);
    // Per-event values the checks share, kept in the state's number fields: a double handed to
    // a function as an argument or a return value is boxed, one allocation per call. The
    // type-specific ones are staged by the plan's first step.
    s.eventTs = e.ts;
    s.eventType = ti;
    const checks = this.checks;
    const thresholds = s.thresholds;
    const { steps, owners } = this.plans[ti]!;
    // A failing check may leave what it measured in lastValue / lastThreshold; reset after each
    // failure (not before every check: two stores x 42 checks per event for nothing).
    s.lastValue = NaN;
    s.lastThreshold = NaN;
    for (let i = 0; i < steps.length; i++) {
      const k = owners[i]!;
      if (!steps[i]!(e, s, thresholds[k]!, nowUs)) continue;
      const check = checks[k]!;
      o.values[check.bit] = s.lastValue;
      o.limits[check.bit] = s.lastThreshold;
      s.lastValue = NaN;
      s.lastThreshold = NaN;
      if (check.bit < 32) lo |= 1 << check.bit;
      else hi |= 1 << (check.bit - 32);
      if (check.severity === 'reject') {
        verdict = Verdict.REJECTED;
        penalty += REJECT_WEIGHT;
      } else {
        if (check.severity === 'resync') resync = true;
        if (verdict === Verdict.ACCEPTED) verdict = Verdict.FLAGGED;
        penalty += FLAG_WEIGHT;
      }
    }
    o.verdict = verdict;
    o.failedLo = lo >>> 0;
    o.failedHi = hi >>> 0;
    o.score = penalty >= 1 ? 0 : 1 - penalty;
    o.resync = resync;
    this.update(e, s, o, ti, nowUs);
    this.publish(e, s, o, nowUs);
    return o;
  }

  /** This stream's price and liveness into the shared reference, for the other workers and the sweep. */
  private publish(e: MarketEvent, s: SymbolState, o: CheckOutcome, nowUs: number): void {
    if (s.refEntry < 0) return;
    s.refPrice = 0;
    if (o.verdict !== Verdict.REJECTED) {
      // The quote's mid; venues without a best bid/ask feed contribute their book's mid, or else
      // their trades' prices.
      if (e.type === 'quote') s.refPrice = s.eventPrice;
      else if (s.quoteTs === 0 && e.type === 'book' && s.bookSynced && s.book !== undefined) s.refPrice = s.book.midPrice;
      else if (s.quoteTs === 0 && e.type === 'trade' && (o.failedLo & this.suspectMaskLo) === 0 && (o.failedHi & this.suspectMaskHi) === 0) s.refPrice = s.eventPrice;
    }
    if (!(s.refPrice > 0)) s.refPrice = 0;
    s.ref!.publish(s, s.silenceSeenUs);
  }

  /** Folds the event into the state; its type-specific numbers come from the state (staged by `PREPARE`). */
  private update(e: MarketEvent, s: SymbolState, o: CheckOutcome, ti: number, nowUs: number): void {
    if (s.firstRecvUs === 0) s.firstRecvUs = e.recvTs;
    s.noteSeen(ti, e.recvTs, nowUs);
    // A book snapshot's time is when it was taken (often the receive time when the venue gives
    // none), not a point in the update stream: only deltas advance the book's clock for T4.
    if (e.ts > s.lastTsByType[ti]! && !(e.type === 'book' && e.action === 'snapshot')) s.lastTsByType[ti] = e.ts;
    if (e.type === 'book') {
      // A resync failure unsyncs the book whatever else failed; a snapshot syncs it.
      if (e.action === 'snapshot' && o.verdict !== Verdict.REJECTED) {
        s.bookSynced = true;
        s.bookBridged = false;
        s.bookSeq = e.seq;
        s.bookFirstSeq = -2;
        s.bookPrevSeq = -2;
      } else if (o.resync) {
        s.bookSynced = false;
      } else if (s.bookSynced && e.seq > s.bookSeq) {
        s.bookSeq = e.seq;
        s.bookFirstSeq = e.firstSeq ?? e.seq;
        s.bookPrevSeq = e.prevSeq ?? -1;
      }
      return;
    }
    if (o.verdict === Verdict.REJECTED) return;
    switch (e.type) {
      case 'trade': {
        const id = s.tradeIdNum;
        if (!Number.isNaN(id) && !(id <= s.lastTradeIdNum)) s.lastTradeIdNum = id;
        const price = s.eventPrice;
        s.rawPrice0 = s.rawPrice1;
        s.rawPrice1 = price;
        if ((o.failedLo & this.priceStatMaskLo) !== 0 || (o.failedHi & this.priceStatMaskHi) !== 0) { s.rvPending = false; return; }
        if (s.rvPending) {
          s.rvFast = s.rvFastNext;
          s.rvSlow = s.rvSlowNext;
          s.rvReturns++;
          s.rvPending = false;
        }
        if (s.rvFirstTs === 0) s.rvFirstTs = e.ts;
        s.rvTs = e.ts;
        if (s.lastTradePrice > 0) {
          const r = Math.log(price / s.lastTradePrice);
          s.ewmaVar = Number.isNaN(s.ewmaVar) ? r * r : LAMBDA * s.ewmaVar + (1 - LAMBDA) * r * r;
          s.returnsSeen++;
        }
        s.lastTradePrice = price;
        s.pushPrice();
        if ((o.failedLo & this.suspectMaskLo) === 0 && (o.failedHi & this.suspectMaskHi) === 0) s.pushMovePrice();
        return;
      }
      case 'quote':
        s.bid = s.eventBid;
        s.ask = s.eventAsk;
        s.quoteTs = e.ts;
        // Flagged quotes too (M3's own included): a venue whose spread widened for good has a new
        // normal, which the median of the window reaches in half a window.
        s.spreads.staged = s.eventAsk - s.eventBid;
        s.spreads.pushStaged();
        return;
      default:
        return;
    }
  }

  /** Drops the state of symbols silent for longer than `idleUs` (bounded memory). */
  evictIdle(nowUs: number, idleUs: number): number {
    let evicted = 0;
    for (const byVenue of this.states.values()) {
      for (const [symbol, s] of byVenue) {
        if (nowUs - s.lastRecvUs > idleUs) {
          byVenue.delete(symbol);
          evicted++;
        }
      }
    }
    this.count -= evicted;
    return evicted;
  }
}

/**
 * Applies a book event to the stream's book before the checks run (Q5 compares the venue's
 * checksum with the book after the update; M4, M5 look at it). Deltas apply only to a synced
 * book and only when newer than what it holds (Binance: updates the snapshot already covers are
 * skipped); a delta that breaks the sequence is caught by Q1/Q3/Q4, which unsync the book.
 */
function applyBook(e: BookEvent, s: SymbolState): void {
  if (e.action === 'snapshot') {
    s.orderBook().applySnapshot(e.bids, e.asks);
    return;
  }
  if (!s.bookSynced || (e.seq !== 0 && e.seq <= s.bookSeq)) return;
  s.orderBook().applyDelta(e.bids, e.asks);
}

/** The trade id as a number into `s.tradeIdNum` (NaN unless all digits and a safe integer), without allocating. */
function parseTradeId(s: SymbolState, id: string): void {
  let n = 0;
  const len = id.length;
  if (len === 0 || len > 15) { s.tradeIdNum = NaN; return; }
  for (let i = 0; i < len; i++) {
    const d = id.charCodeAt(i) - 48;
    if (d < 0 || d > 9) { s.tradeIdNum = NaN; return; }
    n = n * 10 + d;
  }
  s.tradeIdNum = n;
}
