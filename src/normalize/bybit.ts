import type { Level, MarketEvent } from '../codec/event.js';
import {
  EVENTS, ignored, Instruments, isObject, msToUs, NOT_AN_OBJECT, num, splitConcatenated, text, unrecognized, type Disposition, type Instrument, type Normalizer,
} from './common.js';

interface TickerState { bid: number; bidSize: number; ask: number; askSize: number }

/**
 * Bybit v5 (publicTrade, orderbook.N, tickers, allLiquidation / liquidation) and the legacy
 * 2021 inverse feed (trade.X, orderBookL2_25.X with cross_seq). Trade `S`/`side` is the taker
 * side; liquidation `S`/`side` = Buy means a LONG was liquidated. v5 ticker deltas carry only
 * changed fields: they are merged into the last known ticker per symbol.
 */
export type BybitCategory = 'spot' | 'linear' | 'inverse' | 'option';

export class BybitNormalizer implements Normalizer {
  private readonly tickers = new Map<string, TickerState>();
  private readonly instruments = new Instruments((symbol) => bybitInstrument(this.category, symbol));

  /**
   * `category` is the v5 category of the connection (`/v5/public/<category>`): spot and
   * linear both send `BTCUSDT`, and only the connection says which. Spot events get the venue
   * `bybit-spot`, the others `bybit`. `connected` takes it from the connection's URL.
   */
  constructor(private category: BybitCategory = 'linear') {}

  get venue(): string {
    return this.category === 'spot' ? 'bybit-spot' : 'bybit';
  }

  connected(url: string): void {
    const v5 = /\/v5\/public\/(spot|linear|inverse|option)\b/.exec(url);
    if (v5 !== null) this.category = v5[1] as BybitCategory;
    // The 2021 feeds: /realtime for inverse contracts, /realtime_public for USDT-linear.
    else if (/\/realtime_public\b/.test(url)) this.category = 'linear';
    else if (/\/realtime\b/.test(url)) this.category = 'inverse';
    this.instruments.clear();
    this.tickers.clear();
  }

  normalize(raw: unknown, recvTsUs: number, out: MarketEvent[]): Disposition {
    if (!isObject(raw)) return unrecognized(NOT_AN_OBJECT);
    if (typeof raw.topic !== 'string') return this.answer(raw);
    const [kind] = raw.topic.split('.');
    const data = raw.data;
    const before = out.length;
    switch (kind) {
      case 'publicTrade':
      case 'trade':
        if (!Array.isArray(data)) return unrecognized(`${kind} without a data array`);
        for (const t of data) {
          if (!isObject(t)) continue;
          const v5 = t.T !== undefined;
          const i = this.instruments.get(v5 ? t.s : t.symbol);
          out.push({
            v: 1, type: 'trade', venue: this.venue, symbol: i.symbol, market: i.market,
            ts: msToUs(v5 ? t.T : t.trade_time_ms), recvTs: recvTsUs, id: text(v5 ? t.i : t.trade_id),
            price: num(v5 ? t.p : t.price), size: num(v5 ? t.v : t.size), side: (v5 ? t.S : t.side) === 'Sell' ? 'sell' : 'buy',
            ...(t.BT === true ? { offBook: true } : {}),
          });
        }
        return out.length > before ? EVENTS : ignored(`${kind} without data`);
      case 'orderbook':
        if (!isObject(data)) return unrecognized('orderbook without a data object');
        const i = this.instruments.get(data.s);
        out.push({
          v: 1, type: 'book', venue: this.venue, symbol: i.symbol, market: i.market, ts: msToUs(raw.cts ?? raw.ts), recvTs: recvTsUs,
          action: raw.type === 'snapshot' || data.u === 1 ? 'snapshot' : 'delta', seq: num(data.u),
          bids: levelsOf(data.b), asks: levelsOf(data.a),
        });
        return EVENTS;
      case 'orderBookL2_25':
      case 'orderBookL2_200':
        return this.legacyBook(raw, recvTsUs, out);
      case 'tickers': {
        if (!isObject(data)) return unrecognized('tickers without a data object');
        const i = this.instruments.get(data.symbol);
        const symbol = i.symbol;
        const prev = this.tickers.get(symbol);
        const next: TickerState = {
          bid: data.bid1Price !== undefined ? num(data.bid1Price) : prev?.bid ?? NaN,
          bidSize: data.bid1Size !== undefined ? num(data.bid1Size) : prev?.bidSize ?? NaN,
          ask: data.ask1Price !== undefined ? num(data.ask1Price) : prev?.ask ?? NaN,
          askSize: data.ask1Size !== undefined ? num(data.ask1Size) : prev?.askSize ?? NaN,
        };
        this.tickers.set(symbol, next);
        const changed = data.bid1Price !== undefined || data.ask1Price !== undefined || data.bid1Size !== undefined || data.ask1Size !== undefined;
        // A delta of other fields (last price, volume) changes no quote; until both sides are
        // known (a delta before the first snapshot) there is none.
        if (!changed) return ignored('tickers without a best bid/ask change');
        if (Number.isNaN(next.bid) || Number.isNaN(next.ask)) return ignored('tickers before both sides are known');
        out.push({ v: 1, type: 'quote', venue: this.venue, symbol, market: i.market, ts: msToUs(raw.ts), recvTs: recvTsUs, bid: next.bid, bidSize: next.bidSize, ask: next.ask, askSize: next.askSize, ...(raw.cs === undefined ? {} : { updateId: num(raw.cs) }) });
        return EVENTS;
      }
      case 'allLiquidation':
      case 'liquidation': {
        const items = Array.isArray(data) ? data : [data];
        for (const l of items) {
          if (!isObject(l)) continue;
          const v5 = l.T !== undefined;
          const i = this.instruments.get(v5 ? l.s : l.symbol);
          out.push({
            v: 1, type: 'liquidation', venue: this.venue, symbol: i.symbol, market: i.market,
            ts: msToUs(v5 ? l.T : l.updatedTime), recvTs: recvTsUs,
            posSide: (v5 ? l.S : l.side) === 'Buy' ? 'long' : 'short', price: num(v5 ? l.p : l.price), size: num(v5 ? l.v : l.size),
          });
        }
        return out.length > before ? EVENTS : ignored(`${kind} without data`);
      }
      default:
        return unrecognized(`topic ${raw.topic}`);
    }
  }

  /**
   * A message without a topic: the answer to a request (`{"success":true,"op":"subscribe"}` in
   * v5, `{"success":true,"request":{"op":"subscribe"}}` in the legacy feed, `pong`s), or an error.
   */
  private answer(raw: Record<string, unknown>): Disposition {
    const op = text(raw.op ?? (isObject(raw.request) ? raw.request.op : ''));
    if (raw.success === false) return unrecognized(`venue refused ${op || 'a request'}: ${text(raw.ret_msg)}`);
    if (raw.success === true || op === 'pong' || raw.ret_msg === 'pong') return ignored(op === 'ping' || op === 'pong' || raw.ret_msg === 'pong' ? 'pong' : 'subscription');
    return unrecognized('no topic');
  }

  private legacyBook(raw: Record<string, unknown>, recvTsUs: number, out: MarketEvent[]): Disposition {
    const i = this.instruments.get(String(raw.topic).split('.')[1] ?? '');
    const bids: Level[] = [];
    const asks: Level[] = [];
    const add = (rows: unknown, deleted: boolean) => {
      if (!Array.isArray(rows)) return;
      for (const r of rows) {
        if (!isObject(r)) continue;
        (r.side === 'Buy' ? bids : asks).push([num(r.price), deleted ? 0 : num(r.size)]);
      }
    };
    const snapshot = raw.type === 'snapshot';
    if (snapshot) {
      // Inverse contracts send the levels as the data array; USDT-linear (v2 public) as
      // {"order_book": [...]}. Anything else would be an empty book that every delta is then
      // judged against: refused instead.
      const rows = Array.isArray(raw.data) ? raw.data : isObject(raw.data) && Array.isArray(raw.data.order_book) ? raw.data.order_book : null;
      if (rows === null) return unrecognized('order book snapshot without levels (data neither an array nor {order_book})');
      add(rows, false);
    } else if (isObject(raw.data)) {
      add(raw.data.delete, true);
      add(raw.data.update, false);
      add(raw.data.insert, false);
    } else {
      return unrecognized('order book delta without a data object');
    }
    out.push({
      v: 1, type: 'book', venue: this.venue, symbol: i.symbol, market: i.market, ts: raw.timestamp_e6 !== undefined ? num(raw.timestamp_e6) : recvTsUs, recvTs: recvTsUs,
      action: snapshot ? 'snapshot' : 'delta', seq: num(raw.cross_seq), bids, asks,
    });
    return EVENTS;
  }
}

function levelsOf(raw: unknown): Level[] {
  return Array.isArray(raw) ? raw.filter(Array.isArray).map((l) => [num(l[0]), num(l[1])] as Level) : [];
}

const MONTH_CODE = /^(.+?)([FGHJKMNQUVXZ]\d{2})$/;
const DATED_LINEAR = /^([A-Z0-9]+)-(\d{2}[A-Z]{3}\d{2})$/;

/** `BTCUSDT` → `BTC-USDT`; inverse futures `BTCUSDH25` → `BTC-USD-H25`; USDC futures `BTC-27DEC24` → `BTC-USDC-27DEC24`. */
export function bybitInstrument(category: BybitCategory, raw: string): Instrument {
  const upper = raw.toUpperCase();
  if (category === 'spot') return { symbol: splitConcatenated(upper), market: 'spot' };
  const linearDated = DATED_LINEAR.exec(upper);
  if (linearDated !== null) return { symbol: `${linearDated[1]}-USDC-${linearDated[2]}`, market: 'future' };
  const pair = splitConcatenated(upper);
  if (pair.includes('-')) return { symbol: pair, market: 'perp' };
  const inverseDated = MONTH_CODE.exec(upper);
  if (inverseDated !== null && splitConcatenated(inverseDated[1]!).includes('-')) {
    return { symbol: `${splitConcatenated(inverseDated[1]!)}-${inverseDated[2]}`, market: 'future' };
  }
  return { symbol: pair, market: 'perp' };
}
