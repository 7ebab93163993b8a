import type { Level, MarketEvent } from '../codec/event.js';
import {
  EVENTS, ignored, instrumentFields, Instruments, isObject, isoToUs, NOT_AN_OBJECT, num, splitConcatenated, text, unrecognized,
  type Disposition, type Instrument, type Normalizer,
} from './common.js';

const MONTH_CODE = /^([A-Z0-9]+?)([FGHJKMNQUVXZ]\d{2})$/;

/** `XBTUSD` → `BTC-USD` (perpetual), `ETHUSDT` → `ETH-USDT`, `XBTZ24` → `BTC-USD-Z24` (future). */
export function bitmexInstrument(raw: string): Instrument {
  const upper = raw.toUpperCase().replace(/^XBT/, 'BTC');
  const dated = MONTH_CODE.exec(upper);
  if (dated !== null && !splitConcatenated(upper).includes('-')) {
    // Dated contracts name the base only (XBTZ24 is BTC/USD, ETHZ24 ETH/USD).
    const pair = splitConcatenated(dated[1]!);
    return { symbol: `${pair.includes('-') ? pair : `${pair}-USD`}-${dated[2]}`, market: 'future' };
  }
  // XBTUSD: one contract is 1 USD of bitcoin (inverse); other contracts' multipliers are in the
  // instrument table, not in the feed: left out rather than guessed.
  return upper === 'BTCUSD' ? { symbol: 'BTC-USD', market: 'perp', contractSize: 1 } : { symbol: splitConcatenated(upper), market: 'perp' };
}

/**
 * BitMEX realtime API (`{"table", "action", "data": [...]}`): `trade` (side = the taker's),
 * `quote` (best bid/ask), `orderBookL2` / `orderBookL2_25` (levels keyed by `id`: `partial` is
 * the snapshot, `insert`/`update`/`delete` deltas; an update or delete may carry only the id, so
 * each id's price is kept from the partial and the inserts) and `liquidation` (`side` is the
 * liquidation order's: Sell closes a long). Sizes are contracts, as BitMEX sends them.
 */
export class BitmexNormalizer implements Normalizer {
  readonly venue = 'bitmex';
  private readonly instruments = new Instruments(bitmexInstrument);
  /** Per symbol: level id → price (orderBookL2). */
  private readonly levelPrices = new Map<string, Map<number, number>>();

  connected(): void {
    this.levelPrices.clear();
  }

  normalize(raw: unknown, recvTsUs: number, out: MarketEvent[]): Disposition {
    if (!isObject(raw)) return unrecognized(NOT_AN_OBJECT);
    if (raw.error !== undefined) return unrecognized(`venue error: ${text(raw.error)}`);
    if (typeof raw.info === 'string') return ignored('welcome');
    if (raw.success !== undefined) return raw.success === true ? ignored('subscription') : unrecognized(`venue refused: ${text(raw.request)}`);
    if (typeof raw.table !== 'string') return unrecognized('no table');
    if (!Array.isArray(raw.data)) return unrecognized(`${raw.table} without a data array`);
    const before = out.length;
    switch (raw.table) {
      case 'trade':
        for (const t of raw.data) {
          if (!isObject(t)) continue;
          const i = this.instruments.get(t.symbol);
          out.push({
            v: 1, type: 'trade', venue: this.venue, symbol: i.symbol, ts: isoToUs(text(t.timestamp)), recvTs: recvTsUs, ...instrumentFields(i),
            id: text(t.trdMatchID), price: num(t.price), size: num(t.size), side: t.side === 'Sell' ? 'sell' : t.side === 'Buy' ? 'buy' : '',
          });
        }
        break;
      case 'quote':
        for (const q of raw.data) {
          if (!isObject(q)) continue;
          const i = this.instruments.get(q.symbol);
          out.push({
            v: 1, type: 'quote', venue: this.venue, symbol: i.symbol, ts: isoToUs(text(q.timestamp)), recvTs: recvTsUs, ...instrumentFields(i),
            bid: num(q.bidPrice), bidSize: num(q.bidSize), ask: num(q.askPrice), askSize: num(q.askSize),
          });
        }
        break;
      case 'liquidation':
        if (raw.action !== 'insert' && raw.action !== 'partial') return ignored(`liquidation ${text(raw.action)}`);
        for (const l of raw.data) {
          if (!isObject(l)) continue;
          const i = this.instruments.get(l.symbol);
          out.push({
            v: 1, type: 'liquidation', venue: this.venue, symbol: i.symbol, ts: recvTsUs, recvTs: recvTsUs, ...instrumentFields(i),
            id: text(l.orderID), posSide: l.side === 'Sell' ? 'long' : 'short', price: num(l.price), size: num(l.leavesQty),
          });
        }
        break;
      case 'orderBookL2':
      case 'orderBookL2_25':
        return this.book(raw.action, raw.data, recvTsUs, out);
      default:
        return unrecognized(`table ${raw.table}`);
    }
    return out.length > before ? EVENTS : ignored(`${raw.table} without data`);
  }

  /** One book event per symbol in the message. */
  private book(action: unknown, rows: unknown[], recvTsUs: number, out: MarketEvent[]): Disposition {
    if (action !== 'partial' && action !== 'insert' && action !== 'update' && action !== 'delete') return unrecognized(`orderBookL2 action ${text(action)}`);
    const bySymbol = new Map<string, { bids: Level[]; asks: Level[]; ts: number }>();
    for (const r of rows) {
      if (!isObject(r)) continue;
      const symbol = text(r.symbol);
      let book = bySymbol.get(symbol);
      if (book === undefined) {
        // A partial starts the symbol's book over: its ids are the only ones that count.
        if (action === 'partial') this.levelPrices.set(symbol, new Map());
        else if (!this.levelPrices.has(symbol)) return unrecognized(`orderBookL2 ${action} for ${symbol} before its partial`);
        book = { bids: [], asks: [], ts: 0 };
        bySymbol.set(symbol, book);
      }
      const prices = this.levelPrices.get(symbol)!;
      const id = num(r.id);
      const price = r.price === undefined ? prices.get(id) : num(r.price);
      if (price === undefined) return unrecognized(`orderBookL2 ${action} of level ${id} whose price is unknown`);
      if (action === 'delete') prices.delete(id);
      else prices.set(id, price);
      const size = action === 'delete' ? 0 : num(r.size);
      (r.side === 'Buy' ? book.bids : book.asks).push([price, size]);
      if (typeof r.timestamp === 'string') book.ts = Math.max(book.ts, isoToUs(r.timestamp));
    }
    for (const [raw, b] of bySymbol) {
      const i = this.instruments.get(raw);
      out.push({
        v: 1, type: 'book', venue: this.venue, symbol: i.symbol, ts: b.ts > 0 ? b.ts : recvTsUs, recvTs: recvTsUs, ...instrumentFields(i),
        action: action === 'partial' ? 'snapshot' : 'delta', seq: 0, bids: b.bids, asks: b.asks,
      });
    }
    return bySymbol.size > 0 ? EVENTS : ignored('orderBookL2 without data');
  }
}
