import type { Level, MarketEvent } from '../codec/event.js';
import { isObject, msToUs, num, splitConcatenated, text, type Normalizer } from './common.js';

interface TickerState { bid: number; bidSize: number; ask: number; askSize: number }

/**
 * Bybit v5 (publicTrade, orderbook.N, tickers, allLiquidation / liquidation) and the legacy
 * 2021 inverse feed (trade.X, orderBookL2_25.X with cross_seq). Trade `S`/`side` is the taker
 * side; liquidation `S`/`side` = Buy means a LONG was liquidated. v5 ticker deltas carry only
 * changed fields: they are merged into the last known ticker per symbol.
 */
export class BybitNormalizer implements Normalizer {
  readonly venue = 'bybit';
  private readonly tickers = new Map<string, TickerState>();

  normalize(raw: unknown, recvTsUs: number, out: MarketEvent[]): void {
    if (!isObject(raw) || typeof raw.topic !== 'string') return;
    const [kind] = raw.topic.split('.');
    const data = raw.data;
    switch (kind) {
      case 'publicTrade':
      case 'trade':
        if (!Array.isArray(data)) return;
        for (const t of data) {
          if (!isObject(t)) continue;
          const v5 = t.T !== undefined;
          out.push({
            v: 1, type: 'trade', venue: this.venue, symbol: splitConcatenated(text(v5 ? t.s : t.symbol)),
            ts: msToUs(v5 ? t.T : t.trade_time_ms), recvTs: recvTsUs, id: text(v5 ? t.i : t.trade_id),
            price: num(v5 ? t.p : t.price), size: num(v5 ? t.v : t.size), side: (v5 ? t.S : t.side) === 'Sell' ? 'sell' : 'buy',
            ...(t.BT === true ? { offBook: true } : {}),
          });
        }
        return;
      case 'orderbook':
        if (!isObject(data)) return;
        out.push({
          v: 1, type: 'book', venue: this.venue, symbol: splitConcatenated(text(data.s)), ts: msToUs(raw.cts ?? raw.ts), recvTs: recvTsUs,
          action: raw.type === 'snapshot' || data.u === 1 ? 'snapshot' : 'delta', seq: num(data.u),
          bids: levelsOf(data.b), asks: levelsOf(data.a),
        });
        return;
      case 'orderBookL2_25':
      case 'orderBookL2_200':
        this.legacyBook(raw, recvTsUs, out);
        return;
      case 'tickers': {
        if (!isObject(data)) return;
        const symbol = splitConcatenated(text(data.symbol));
        const prev = this.tickers.get(symbol);
        const next: TickerState = {
          bid: data.bid1Price !== undefined ? num(data.bid1Price) : prev?.bid ?? NaN,
          bidSize: data.bid1Size !== undefined ? num(data.bid1Size) : prev?.bidSize ?? NaN,
          ask: data.ask1Price !== undefined ? num(data.ask1Price) : prev?.ask ?? NaN,
          askSize: data.ask1Size !== undefined ? num(data.ask1Size) : prev?.askSize ?? NaN,
        };
        this.tickers.set(symbol, next);
        const changed = data.bid1Price !== undefined || data.ask1Price !== undefined || data.bid1Size !== undefined || data.ask1Size !== undefined;
        // Until both sides are known (a delta before the first snapshot) there is no quote.
        if (!changed || Number.isNaN(next.bid) || Number.isNaN(next.ask)) return;
        out.push({ v: 1, type: 'quote', venue: this.venue, symbol, ts: msToUs(raw.ts), recvTs: recvTsUs, bid: next.bid, bidSize: next.bidSize, ask: next.ask, askSize: next.askSize, ...(raw.cs === undefined ? {} : { updateId: num(raw.cs) }) });
        return;
      }
      case 'allLiquidation':
      case 'liquidation': {
        const items = Array.isArray(data) ? data : [data];
        for (const l of items) {
          if (!isObject(l)) continue;
          const v5 = l.T !== undefined;
          out.push({
            v: 1, type: 'liquidation', venue: this.venue, symbol: splitConcatenated(text(v5 ? l.s : l.symbol)),
            ts: msToUs(v5 ? l.T : l.updatedTime), recvTs: recvTsUs,
            posSide: (v5 ? l.S : l.side) === 'Buy' ? 'long' : 'short', price: num(v5 ? l.p : l.price), size: num(v5 ? l.v : l.size),
          });
        }
        return;
      }
      default:
        return;
    }
  }

  private legacyBook(raw: Record<string, unknown>, recvTsUs: number, out: MarketEvent[]): void {
    const symbol = splitConcatenated(String(raw.topic).split('.')[1] ?? '');
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
    if (snapshot) add(raw.data, false);
    else if (isObject(raw.data)) {
      add(raw.data.delete, true);
      add(raw.data.update, false);
      add(raw.data.insert, false);
    }
    out.push({
      v: 1, type: 'book', venue: this.venue, symbol, ts: raw.timestamp_e6 !== undefined ? num(raw.timestamp_e6) : recvTsUs, recvTs: recvTsUs,
      action: snapshot ? 'snapshot' : 'delta', seq: num(raw.cross_seq), bids, asks,
    });
  }
}

function levelsOf(raw: unknown): Level[] {
  return Array.isArray(raw) ? raw.filter(Array.isArray).map((l) => [num(l[0]), num(l[1])] as Level) : [];
}
