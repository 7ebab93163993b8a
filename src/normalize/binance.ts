import type { MarketEvent } from '../codec/event.js';
import { EVENTS, ignored, isObject, levels, msToUs, NOT_AN_OBJECT, num, splitConcatenated, text, unrecognized, type Disposition, type Normalizer } from './common.js';

/**
 * Binance spot and USD-M futures (combined-stream envelope `{stream, data}` or bare payloads):
 * aggTrade, trade, bookTicker, depthUpdate, forceOrder, and REST depth snapshots. Sides:
 * `m` = buyer is the maker, so the taker sold; forceOrder `S=SELL` liquidates a long.
 */
export class BinanceNormalizer implements Normalizer {
  constructor(readonly venue: 'binance' | 'binance-futures') {}

  normalize(raw: unknown, recvTsUs: number, out: MarketEvent[]): Disposition {
    if (!isObject(raw)) return unrecognized(NOT_AN_OBJECT);
    // The answer to a SUBSCRIBE / LIST_SUBSCRIPTIONS request: {"result": null, "id": 1}.
    if ('result' in raw && 'id' in raw) return ignored('subscription');
    if (isObject(raw.error)) return unrecognized(`venue error ${text(raw.error.code)}: ${text(raw.error.msg)}`);
    const d = isObject(raw.data) ? raw.data : raw;
    const venue = this.venue;
    switch (d.e) {
      case 'aggTrade':
      case 'trade': {
        const id = d.e === 'aggTrade' ? d.a : d.t;
        const x = d.X;
        const offBook = x === 'INSURANCE_FUND' || x === 'ADL';
        out.push({
          v: 1, type: 'trade', venue, symbol: splitConcatenated(text(d.s)), ts: msToUs(d.T ?? d.E), recvTs: recvTsUs,
          id: text(id), price: num(d.p), size: num(d.q), side: d.m === true ? 'sell' : 'buy', ...(offBook ? { offBook } : {}),
        });
        return EVENTS;
      }
      case 'depthUpdate':
        out.push({
          v: 1, type: 'book', venue, symbol: splitConcatenated(text(d.s)), ts: msToUs(d.T ?? d.E), recvTs: recvTsUs,
          action: 'delta', seq: num(d.u), firstSeq: num(d.U), ...(d.pu === undefined ? {} : { prevSeq: num(d.pu) }),
          bids: levels(d.b), asks: levels(d.a),
        });
        return EVENTS;
      case 'forceOrder': {
        const o = isObject(d.o) ? d.o : {};
        const filled = num(o.z);
        out.push({
          v: 1, type: 'liquidation', venue, symbol: splitConcatenated(text(o.s)), ts: msToUs(o.T ?? d.E), recvTs: recvTsUs,
          posSide: o.S === 'SELL' ? 'long' : 'short', price: num(o.ap ?? o.p), size: filled > 0 ? filled : num(o.q),
        });
        return EVENTS;
      }
      case 'kline':
        return ignored('kline'); // candles are derived data, not ticks
      case '24hrTicker':
      case '24hrMiniTicker':
        return ignored('24hrTicker');
      case 'markPriceUpdate':
        return ignored('markPrice');
      default:
        break;
    }
    // Spot bookTicker has no event type and no event time: the receive time stands in.
    if (d.e === 'bookTicker' || (d.e === undefined && d.u !== undefined && d.b !== undefined && d.a !== undefined && typeof d.b === 'string')) {
      out.push({
        v: 1, type: 'quote', venue, symbol: splitConcatenated(text(d.s)), ts: d.T !== undefined || d.E !== undefined ? msToUs(d.T ?? d.E) : recvTsUs,
        recvTs: recvTsUs, bid: num(d.b), bidSize: num(d.B), ask: num(d.a), askSize: num(d.A), updateId: num(d.u),
      });
      return EVENTS;
    }
    return unrecognized(d.e === undefined ? 'no event type (e)' : `event type ${text(d.e)}`);
  }

  /** A REST depth snapshot (`GET /api/v3/depth`, `/fapi/v1/depth`) for `symbol`. */
  snapshot(symbol: string, raw: unknown, recvTsUs: number, out: MarketEvent[]): Disposition {
    if (!isObject(raw)) return unrecognized(NOT_AN_OBJECT);
    if (raw.lastUpdateId === undefined) return unrecognized(raw.code !== undefined ? `venue error ${text(raw.code)}: ${text(raw.msg)}` : 'depth snapshot without lastUpdateId');
    out.push({
      v: 1, type: 'book', venue: this.venue, symbol: splitConcatenated(symbol), ts: raw.T !== undefined ? msToUs(raw.T) : recvTsUs, recvTs: recvTsUs,
      action: 'snapshot', seq: num(raw.lastUpdateId), bids: levels(raw.bids), asks: levels(raw.asks),
    });
    return EVENTS;
  }
}
