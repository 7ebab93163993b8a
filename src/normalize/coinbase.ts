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
}
