/**
 * The normalized market event, schema version 1. The wire form is a msgpack map with exactly
 * these field names (JSON with the same names is accepted from the old producers). The full
 * description, with examples, is `docs/event-schema.md`.
 *
 * Times are integer microseconds since the Unix epoch: `ts` is the venue's exchange time,
 * `recvTs` the time our collector received the message. Prices and sizes are float64 (msgpack
 * float 64); JSON producers may send them as decimal strings.
 */
export const SCHEMA_VERSION = 1;

export const EVENT_TYPES = ['trade', 'quote', 'liquidation', 'book'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Taker side of a trade; `''` when the venue does not say. */
export type TradeSide = 'buy' | 'sell' | '';
/** Side of the liquidated position (venue conventions are normalized away: see docs). */
export type PositionSide = 'long' | 'short';
/** One price level: `[price, size]`; size 0 removes the level in a book delta. */
export type Level = [number, number];
/**
 * What kind of market the instrument trades on. Optional (schema v1 messages without it stay
 * valid): venues whose spot and derivatives share symbol names (Bybit's `BTCUSDT`) also keep
 * them apart by venue id (`bybit-spot`), since the checks key their state by venue and symbol.
 */
export const MARKET_TYPES = ['spot', 'perp', 'future'] as const;
export type MarketType = (typeof MARKET_TYPES)[number];

interface EventBase {
  v: typeof SCHEMA_VERSION;
  type: EventType;
  /** Venue id, lower case: `binance`, `binance-futures`, `coinbase`, `kraken`, `okx`, `bybit`. */
  venue: string;
  /** Normalized symbol `BASE-QUOTE` (e.g. `BTC-USDT`); also the Kafka message key. */
  symbol: string;
  /** Exchange time, µs since the epoch. */
  ts: number;
  /** Local receive time at the collector, µs since the epoch. */
  recvTs: number;
  /** Spot, perpetual swap or dated future; absent when the producer does not say. */
  market?: MarketType;
  /**
   * For contracts quoted in contracts rather than the base asset (Binance COIN-M: 100 USD per
   * BTCUSD contract, 10 USD for the others; BitMEX): what one contract is worth, in the quote
   * currency (inverse) or the base asset. Sizes stay in contracts, as the venue sends them.
   */
  contractSize?: number;
}

export interface TradeEvent extends EventBase {
  type: 'trade';
  /** The venue's trade id (string: some venues use UUIDs). */
  id: string;
  price: number;
  size: number;
  side: TradeSide;
  /** Insurance-fund, ADL or block print: not a market price. */
  offBook?: boolean;
}

export interface QuoteEvent extends EventBase {
  type: 'quote';
  bid: number;
  bidSize: number;
  ask: number;
  askSize: number;
  /** The venue's book update id for this best bid/ask, when it has one. */
  updateId?: number;
}

export interface LiquidationEvent extends EventBase {
  type: 'liquidation';
  /** The venue's id for the liquidation order, when it has one. */
  id?: string;
  posSide: PositionSide;
  price: number;
  size: number;
}

export interface BookEvent extends EventBase {
  type: 'book';
  action: 'snapshot' | 'delta';
  /** Sequence of this update (Binance `u`, OKX `seqId`, Bybit `u`, Coinbase `sequence`). */
  seq: number;
  /** Sequence this update follows (Binance futures `pu`, OKX `prevSeqId`). */
  prevSeq?: number;
  /** First update id covered (Binance `U`). */
  firstSeq?: number;
  /** Venue checksum of the book after this update (Kraken, OKX: CRC32). */
  checksum?: number;
  /** Decimal places the venue prints prices / sizes with (Kraken: its checksum is over those digits). */
  priceDp?: number;
  sizeDp?: number;
  bids: Level[];
  asks: Level[];
}

export type MarketEvent = TradeEvent | QuoteEvent | LiquidationEvent | BookEvent;

/** Verdict of the checks on one event, as stored and published. */
export const Verdict = {
  ACCEPTED: 0,
  FLAGGED: 1,
  REJECTED: 2,
  /** Never decoded into an event: goes to the dead-letter topic only. */
  DEAD_LETTER: 3,
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];
export const VERDICT_NAMES = ['accepted', 'flagged', 'rejected', 'dead_letter'] as const;

/**
 * The event rebuilt with one fixed shape per type: every field of the type present (optional
 * ones `undefined` when absent), always in the same order. The checks then see at most four
 * hidden classes at each property access instead of one per producer field order; a
 * megamorphic read of a number field boxes it, and that would be an allocation per access.
 */
export function canonicalEvent(e: MarketEvent): MarketEvent {
  switch (e.type) {
    case 'trade':
      return { v: e.v, type: e.type, venue: e.venue, symbol: e.symbol, ts: e.ts, recvTs: e.recvTs, market: e.market, contractSize: e.contractSize, id: e.id, price: e.price, size: e.size, side: e.side, offBook: e.offBook };
    case 'quote':
      return { v: e.v, type: e.type, venue: e.venue, symbol: e.symbol, ts: e.ts, recvTs: e.recvTs, market: e.market, contractSize: e.contractSize, bid: e.bid, bidSize: e.bidSize, ask: e.ask, askSize: e.askSize, updateId: e.updateId };
    case 'liquidation':
      return { v: e.v, type: e.type, venue: e.venue, symbol: e.symbol, ts: e.ts, recvTs: e.recvTs, market: e.market, contractSize: e.contractSize, id: e.id, posSide: e.posSide, price: e.price, size: e.size };
    case 'book':
      return {
        v: e.v, type: e.type, venue: e.venue, symbol: e.symbol, ts: e.ts, recvTs: e.recvTs, market: e.market, contractSize: e.contractSize, action: e.action, seq: e.seq, prevSeq: e.prevSeq,
        firstSeq: e.firstSeq, checksum: e.checksum, priceDp: e.priceDp, sizeDp: e.sizeDp, bids: e.bids, asks: e.asks,
      };
  }
}
