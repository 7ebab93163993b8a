import type { Level, MarketEvent } from '../codec/event.js';
import { EVENTS, ignored, isObject, isoToUs, levels, NOT_AN_OBJECT, num, text, unrecognized, type Disposition, type Normalizer } from './common.js';

/**
 * Coinbase Exchange feed: match / last_match (trades), ticker (best bid/ask), snapshot and
 * l2update (book). `match.side` is the MAKER's side, so the taker side is the opposite. The
 * level2 channel carries no sequence numbers: book events get `seq` 0.
 */
export class CoinbaseNormalizer implements Normalizer {
  readonly venue = 'coinbase';

  normalize(raw: unknown, recvTsUs: number, out: MarketEvent[]): Disposition {
    if (!isObject(raw)) return unrecognized(NOT_AN_OBJECT);
    if (typeof raw.channel === 'string' && Array.isArray(raw.events)) return this.advanced(raw.channel, raw, recvTsUs, out);
    const symbol = text(raw.product_id ?? '');
    const ts = typeof raw.time === 'string' ? isoToUs(raw.time) : recvTsUs;
    switch (raw.type) {
      case 'match':
      case 'last_match':
        out.push({
          v: 1, type: 'trade', venue: this.venue, symbol, ts, recvTs: recvTsUs, id: text(raw.trade_id),
          price: num(raw.price), size: num(raw.size), side: raw.side === 'sell' ? 'buy' : 'sell',
        });
        return EVENTS;
      case 'ticker':
        // The trade it reports arrives as a match too; without a best bid/ask there is no quote.
        if (raw.best_bid === undefined || raw.best_ask === undefined) return ignored('ticker without best bid/ask');
        out.push({
          v: 1, type: 'quote', venue: this.venue, symbol, ts, recvTs: recvTsUs,
          // The 2021 feed has no sizes on the ticker; 0 means "not given".
          bid: num(raw.best_bid), bidSize: raw.best_bid_size === undefined ? 0 : num(raw.best_bid_size),
          ask: num(raw.best_ask), askSize: raw.best_ask_size === undefined ? 0 : num(raw.best_ask_size),
          ...(raw.sequence === undefined ? {} : { updateId: num(raw.sequence) }),
        });
        return EVENTS;
      case 'snapshot':
        out.push({ v: 1, type: 'book', venue: this.venue, symbol, ts, recvTs: recvTsUs, action: 'snapshot', seq: 0, bids: levels(raw.bids), asks: levels(raw.asks) });
        return EVENTS;
      case 'l2update': {
        const bids: Level[] = [];
        const asks: Level[] = [];
        if (Array.isArray(raw.changes)) {
          for (const c of raw.changes) {
            if (!Array.isArray(c)) continue;
            (c[0] === 'buy' ? bids : asks).push([num(c[1]), num(c[2])]);
          }
        }
        out.push({ v: 1, type: 'book', venue: this.venue, symbol, ts, recvTs: recvTsUs, action: 'delta', seq: 0, bids, asks });
        return EVENTS;
      }
      case 'subscriptions':
        return ignored('subscriptions');
      case 'heartbeat':
        return ignored('heartbeat');
      case 'status':
        return ignored('status');
      case 'received':
      case 'open':
      case 'done':
      case 'change':
      case 'activate':
        return ignored('full'); // the full (level 3) channel: orders, not ticks
      case 'error':
        return unrecognized(`venue error: ${text(raw.message)}${raw.reason === undefined ? '' : ` (${text(raw.reason)})`}`);
      default:
        return unrecognized(raw.type === undefined ? 'no message type' : `message type ${text(raw.type)}`);
    }
  }

  /**
   * Coinbase Advanced Trade (`advanced-trade-ws.coinbase.com`): `{channel, timestamp,
   * sequence_num, events: [...]}`. market_trades (a batch of the last 250 ms, which may list the
   * newest first: put in trade-id order here, so Q6/Q7/T4 see the venue's order), ticker and
   * ticker_batch (best bid/ask with sizes), l2_data (snapshot/update, `side` bid|offer,
   * `new_quantity` absolute). The trade `side` is read as cryptofeed reads it (the taker's).
   */
  private advanced(channel: string, raw: Record<string, unknown>, recvTsUs: number, out: MarketEvent[]): Disposition {
    const envelopeTs = typeof raw.timestamp === 'string' ? isoToUs(raw.timestamp) : recvTsUs;
    const events = raw.events as unknown[];
    const before = out.length;
    switch (channel) {
      case 'market_trades': {
        const trades: Array<Record<string, unknown>> = [];
        for (const ev of events) if (isObject(ev) && Array.isArray(ev.trades)) for (const t of ev.trades) if (isObject(t)) trades.push(t);
        trades.sort(byTradeId);
        for (const t of trades) {
          out.push({
            v: 1, type: 'trade', venue: this.venue, symbol: text(t.product_id), ts: typeof t.time === 'string' ? isoToUs(t.time) : envelopeTs, recvTs: recvTsUs,
            market: 'spot', id: text(t.trade_id), price: num(t.price), size: num(t.size), side: t.side === 'SELL' ? 'sell' : t.side === 'BUY' ? 'buy' : '',
          });
        }
        break;
      }
      case 'ticker':
      case 'ticker_batch':
        for (const ev of events) {
          if (!isObject(ev) || !Array.isArray(ev.tickers)) continue;
          for (const t of ev.tickers) {
            if (!isObject(t) || t.best_bid === undefined || t.best_ask === undefined) continue;
            out.push({
              v: 1, type: 'quote', venue: this.venue, symbol: text(t.product_id), ts: envelopeTs, recvTs: recvTsUs, market: 'spot',
              bid: num(t.best_bid), bidSize: t.best_bid_quantity === undefined ? 0 : num(t.best_bid_quantity),
              ask: num(t.best_ask), askSize: t.best_ask_quantity === undefined ? 0 : num(t.best_ask_quantity),
            });
          }
        }
        break;
      case 'l2_data':
        for (const ev of events) {
          if (!isObject(ev) || !Array.isArray(ev.updates)) continue;
          const bids: Level[] = [];
          const asks: Level[] = [];
          let newest = 0;
          for (const u of ev.updates) {
            if (!isObject(u)) continue;
            (u.side === 'bid' ? bids : asks).push([num(u.price_level), num(u.new_quantity)]);
            if (typeof u.event_time === 'string') newest = Math.max(newest, isoToUs(u.event_time));
          }
          out.push({
            v: 1, type: 'book', venue: this.venue, symbol: text(ev.product_id), ts: newest > 0 ? newest : envelopeTs, recvTs: recvTsUs, market: 'spot',
            action: ev.type === 'snapshot' ? 'snapshot' : 'delta', seq: 0, bids, asks,
          });
        }
        break;
      case 'subscriptions':
        return ignored('subscriptions');
      case 'heartbeats':
        return ignored('heartbeat');
      case 'status':
        return ignored('status');
      case 'candles':
        return ignored('candles');
      default:
        return unrecognized(`channel ${channel}`);
    }
    return out.length > before ? EVENTS : ignored(`${channel} without data`);
  }
}

/** Trades in the venue's order: numeric trade ids as numbers, then by time. */
function byTradeId(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const x = Number(a.trade_id);
  const y = Number(b.trade_id);
  if (Number.isFinite(x) && Number.isFinite(y) && x !== y) return x - y;
  return text(a.time) < text(b.time) ? -1 : text(a.time) > text(b.time) ? 1 : 0;
}
