import type { MarketEvent, MarketType } from '../codec/event.js';
import {
  EVENTS, ignored, instrumentFields, Instruments, isObject, levels, msToUs, NOT_AN_OBJECT, num, splitConcatenated, text, unrecognized,
  type Disposition, type Instrument, type Normalizer,
} from './common.js';

type BinanceVenue = 'binance' | 'binance-us' | 'binance-futures' | 'binance-coinm';

/**
 * Binance spot (and Binance.US, the same protocol on stream.binance.us), USD-M futures and COIN-M
 * delivery (combined-stream envelope `{stream, data}` or bare payloads): aggTrade, trade,
 * bookTicker, depthUpdate, forceOrder, and REST depth snapshots. Sides: `m` = buyer is the
 * maker, so the taker sold; forceOrder `S=SELL` liquidates a long. Symbols: `BTCUSDT` →
 * `BTC-USDT`; contracts keep their contract: `BTCUSD_PERP` → `BTC-USD-PERP`, `BTCUSD_240927` →
 * `BTC-USD-240927`. COIN-M quantities are contracts of 100 USD (BTC) or 10 USD (the others), as
 * Binance specifies them: sizes stay in contracts and `contractSize` says what one is worth.
 */
export class BinanceNormalizer implements Normalizer {
  private readonly instruments: Instruments;

  constructor(readonly venue: BinanceVenue) {
    this.instruments = new Instruments((symbol) => binanceInstrument(venue, symbol));
  }

  normalize(raw: unknown, recvTsUs: number, out: MarketEvent[]): Disposition {
    if (!isObject(raw)) return unrecognized(NOT_AN_OBJECT);
    // The answer to a SUBSCRIBE / LIST_SUBSCRIPTIONS request: {"result": null, "id": 1}.
    if ('result' in raw && 'id' in raw) return ignored('subscription');
    if (isObject(raw.error)) return unrecognized(`venue error ${text(raw.error.code)}: ${text(raw.error.msg)}`);
    // The WebSocket API's form of the shutdown notice: {"event": {"e": "serverShutdown", "E": ...}}.
    if (isObject(raw.event) && raw.event.e === 'serverShutdown') return ignored('serverShutdown');
    const d = isObject(raw.data) ? raw.data : raw;
    const venue = this.venue;
    switch (d.e) {
      // The server closes this connection soon (about 10 minutes later): a live collector opens a
      // new one at once (src/ingest/gateway.ts replaces the connection); a recording just notes it.
      case 'serverShutdown':
        return ignored('serverShutdown');
      case 'aggTrade':
      case 'trade': {
        const id = d.e === 'aggTrade' ? d.a : d.t;
        const x = d.X;
        const offBook = x === 'INSURANCE_FUND' || x === 'ADL';
        const i = this.instruments.get(d.s);
        out.push({
          v: 1, type: 'trade', venue, symbol: i.symbol, ts: msToUs(d.T ?? d.E), recvTs: recvTsUs, ...instrumentFields(i),
          id: text(id), price: num(d.p), size: num(d.q), side: d.m === true ? 'sell' : 'buy', ...(offBook ? { offBook } : {}),
        });
        return EVENTS;
      }
      case 'depthUpdate': {
        const i = this.instruments.get(d.s);
        out.push({
          v: 1, type: 'book', venue, symbol: i.symbol, ts: msToUs(d.T ?? d.E), recvTs: recvTsUs, ...instrumentFields(i),
          action: 'delta', seq: num(d.u), firstSeq: num(d.U), ...(d.pu === undefined ? {} : { prevSeq: num(d.pu) }),
          bids: levels(d.b), asks: levels(d.a),
        });
        return EVENTS;
      }
      case 'forceOrder': {
        const o = isObject(d.o) ? d.o : {};
        const filled = num(o.z);
        const i = this.instruments.get(o.s);
        out.push({
          v: 1, type: 'liquidation', venue, symbol: i.symbol, ts: msToUs(o.T ?? d.E), recvTs: recvTsUs, ...instrumentFields(i),
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
      const i = this.instruments.get(d.s);
      out.push({
        v: 1, type: 'quote', venue, symbol: i.symbol, ts: d.T !== undefined || d.E !== undefined ? msToUs(d.T ?? d.E) : recvTsUs,
        recvTs: recvTsUs, ...instrumentFields(i), bid: num(d.b), bidSize: num(d.B), ask: num(d.a), askSize: num(d.A), updateId: num(d.u),
      });
      return EVENTS;
    }
    return unrecognized(d.e === undefined ? 'no event type (e)' : `event type ${text(d.e)}`);
  }

  /** A REST depth snapshot (`GET /api/v3/depth`, `/fapi/v1/depth`) for `symbol`. */
  snapshot(symbol: string, raw: unknown, recvTsUs: number, out: MarketEvent[]): Disposition {
    if (!isObject(raw)) return unrecognized(NOT_AN_OBJECT);
    if (raw.lastUpdateId === undefined) return unrecognized(raw.code !== undefined ? `venue error ${text(raw.code)}: ${text(raw.msg)}` : 'depth snapshot without lastUpdateId');
    const i = this.instruments.get(symbol);
    out.push({
      v: 1, type: 'book', venue: this.venue, symbol: i.symbol, ts: raw.T !== undefined ? msToUs(raw.T) : recvTsUs, recvTs: recvTsUs, ...instrumentFields(i),
      action: 'snapshot', seq: num(raw.lastUpdateId), bids: levels(raw.bids), asks: levels(raw.asks),
    });
    return EVENTS;
  }
}

/** `BTCUSDT`, `BTCUSD_PERP`, `ETHUSD_240927` of a Binance venue as an instrument. */
export function binanceInstrument(venue: BinanceVenue, raw: string): Instrument {
  const upper = raw.toUpperCase();
  const cut = upper.indexOf('_');
  const pair = splitConcatenated(cut < 0 ? upper : upper.slice(0, cut));
  const contract = cut < 0 ? '' : upper.slice(cut + 1);
  const symbol = contract === '' ? pair : `${pair}-${contract}`;
  if (venue === 'binance' || venue === 'binance-us') return { symbol, market: 'spot' };
  const market: MarketType = contract === '' || contract === 'PERP' ? 'perp' : 'future';
  if (venue === 'binance-futures') return { symbol, market };
  // COIN-M: "BTCUSD contracts are 100 USD each, the others 10 USD" (Binance contract specifications).
  return { symbol, market, contractSize: pair.startsWith('BTC-') ? 100 : 10 };
}
