import type { Level, MarketEvent } from '../codec/event.js';
import { EVENTS, ignored, isObject, isoToUs, krakenPair, NOT_AN_OBJECT, num, secondsToUs, text, unrecognized, type Disposition, type Normalizer } from './common.js';

/**
 * Kraken WebSocket v1 (arrays: `[channelID, payload..., channelName, pair]`) and v2 (objects
 * with `channel`). Book payloads: `as`/`bs` = snapshot, `a`/`b` = update with checksum `c`
 * (CRC32 of the top 10 levels). A message may carry two payloads (asks and bids). Trade side
 * is the taker's (`b`/`s`). Exchange time of a book update: the newest level time in it.
 */
export class KrakenNormalizer implements Normalizer {
  readonly venue = 'kraken';

  normalize(raw: unknown, recvTsUs: number, out: MarketEvent[]): Disposition {
    if (Array.isArray(raw)) return this.v1(raw, recvTsUs, out);
    if (!isObject(raw)) return unrecognized(NOT_AN_OBJECT);
    if (typeof raw.channel === 'string') return this.v2(raw, recvTsUs, out);
    if (typeof raw.event === 'string') return v1Event(raw);
    if (typeof raw.method === 'string') {
      // v2 answers to requests: {"method":"subscribe","success":true,...}.
      if (raw.success === false) return unrecognized(`venue refused ${raw.method}: ${text(raw.error)}`);
      return ignored(raw.method === 'pong' ? 'pong' : 'subscription');
    }
    return unrecognized('neither a channel message nor an event');
  }

  private v1(raw: unknown[], recvTsUs: number, out: MarketEvent[]): Disposition {
    if (raw.length < 4) return unrecognized('channel message shorter than [id, payload, channel, pair]');
    const pair = raw[raw.length - 1];
    const channel = raw[raw.length - 2];
    if (typeof pair !== 'string' || typeof channel !== 'string') return unrecognized('channel message without a channel name and pair');
    const symbol = krakenPair(pair);
    const payloads = raw.slice(1, raw.length - 2);
    const before = out.length;
    if (channel === 'ticker') {
      // {"a": [price, wholeLotVolume, lotVolume], "b": [...], ...}; v1 tickers carry no time.
      const t = payloads[0];
      if (!isObject(t) || !Array.isArray(t.a) || !Array.isArray(t.b)) return unrecognized('ticker without a and b');
      out.push({ v: 1, type: 'quote', venue: this.venue, symbol, ts: recvTsUs, recvTs: recvTsUs, bid: num(t.b[0]), bidSize: num(t.b[2]), ask: num(t.a[0]), askSize: num(t.a[2]) });
      return EVENTS;
    }
    if (channel === 'spread') {
      // [bid, ask, time, bidVolume, askVolume]
      const p = payloads[0];
      if (!Array.isArray(p) || p.length < 5) return unrecognized('spread without [bid, ask, time, bidVolume, askVolume]');
      out.push({ v: 1, type: 'quote', venue: this.venue, symbol, ts: secondsToUs(p[2]), recvTs: recvTsUs, bid: num(p[0]), bidSize: num(p[3]), ask: num(p[1]), askSize: num(p[4]) });
      return EVENTS;
    }
    if (channel === 'ohlc' || channel.startsWith('ohlc-')) return ignored('ohlc');
    if (channel === 'trade') {
      for (const p of payloads) {
        if (!Array.isArray(p)) continue;
        for (const t of p) {
          if (!Array.isArray(t)) continue;
          const ts = secondsToUs(t[2]);
          // v1 trades carry no id: the exchange time in µs and the price identify one.
          out.push({ v: 1, type: 'trade', venue: this.venue, symbol, ts, recvTs: recvTsUs, id: `${text(t[2])}-${text(t[0])}-${text(t[1])}`, price: num(t[0]), size: num(t[1]), side: t[3] === 's' ? 'sell' : 'buy' });
        }
      }
      return out.length > before ? EVENTS : ignored('trade without data');
    }
    if (!channel.startsWith('book')) return unrecognized(`channel ${channel}`);
    let snapshot = false;
    let checksum: number | undefined;
    let newest = 0;
    let priceDp = -1;
    let sizeDp = -1;
    const bids: Level[] = [];
    const asks: Level[] = [];
    const take = (levelsRaw: unknown, into: Level[]) => {
      if (!Array.isArray(levelsRaw)) return;
      for (const l of levelsRaw) {
        if (!Array.isArray(l)) continue;
        into.push([num(l[0]), num(l[1])]);
        if (priceDp < 0) { priceDp = decimals(l[0]); sizeDp = decimals(l[1]); }
        const t = secondsToUs(l[2]);
        if (t > newest) newest = t;
      }
    };
    for (const p of payloads) {
      if (!isObject(p)) continue;
      if (p.as !== undefined || p.bs !== undefined) { snapshot = true; take(p.as, asks); take(p.bs, bids); }
      take(p.a, asks);
      take(p.b, bids);
      if (p.c !== undefined) checksum = num(p.c);
    }
    // A snapshot is the book as of now (its newest level may be minutes old); an update's time is
    // its newest level's.
    out.push({
      v: 1, type: 'book', venue: this.venue, symbol, ts: !snapshot && newest > 0 ? newest : recvTsUs, recvTs: recvTsUs,
      action: snapshot ? 'snapshot' : 'delta', seq: 0, ...(checksum === undefined ? {} : { checksum }),
      ...(priceDp < 0 ? {} : { priceDp, sizeDp }), bids, asks,
    });
    return EVENTS;
  }

  private v2(raw: Record<string, unknown>, recvTsUs: number, out: MarketEvent[]): Disposition {
    if (raw.channel === 'heartbeat') return ignored('heartbeat');
    if (raw.channel === 'status') return ignored('status');
    if (raw.channel === 'ohlc') return ignored('ohlc');
    if (raw.channel !== 'trade' && raw.channel !== 'book' && raw.channel !== 'ticker') return unrecognized(`channel ${text(raw.channel)}`);
    if (!Array.isArray(raw.data)) return unrecognized(`${text(raw.channel)} without a data array`);
    const before = out.length;
    for (const d of raw.data) {
      if (!isObject(d)) continue;
      const symbol = krakenPair(text(d.symbol));
      if (raw.channel === 'trade') {
        out.push({ v: 1, type: 'trade', venue: this.venue, symbol, ts: isoUs(d.timestamp, recvTsUs), recvTs: recvTsUs, id: text(d.trade_id), price: num(d.price), size: num(d.qty), side: d.side === 'sell' ? 'sell' : 'buy' });
      } else if (raw.channel === 'book') {
        const lv = (x: unknown): Level[] => (Array.isArray(x) ? x.filter(isObject).map((l) => [num(l.price), num(l.qty)] as Level) : []);
        out.push({
          v: 1, type: 'book', venue: this.venue, symbol, ts: isoUs(d.timestamp, recvTsUs), recvTs: recvTsUs,
          action: raw.type === 'snapshot' ? 'snapshot' : 'delta', seq: 0, ...(d.checksum === undefined ? {} : { checksum: num(d.checksum) }), bids: lv(d.bids), asks: lv(d.asks),
        });
      } else {
        out.push({ v: 1, type: 'quote', venue: this.venue, symbol, ts: isoUs(d.timestamp, recvTsUs), recvTs: recvTsUs, bid: num(d.bid), bidSize: num(d.bid_qty), ask: num(d.ask), askSize: num(d.ask_qty) });
      }
    }
    return out.length > before ? EVENTS : ignored(`${text(raw.channel)} without data`);
  }
}

/** v1 events: heartbeats, the system status, subscription answers, pongs. */
function v1Event(raw: Record<string, unknown>): Disposition {
  switch (raw.event) {
    case 'heartbeat': return ignored('heartbeat');
    case 'systemStatus': return ignored('status');
    case 'pong': return ignored('pong');
    case 'subscriptionStatus':
      return raw.status === 'error' ? unrecognized(`venue refused a subscription: ${text(raw.errorMessage)}`) : ignored('subscription');
    default: return unrecognized(`event ${text(raw.event)}`);
  }
}

/** Decimal places of a number as the venue printed it ("5541.30000" -> 5). */
function decimals(v: unknown): number {
  if (typeof v !== 'string') return -1;
  const dot = v.indexOf('.');
  return dot < 0 ? 0 : Math.min(12, v.length - dot - 1);
}

function isoUs(v: unknown, fallback: number): number {
  return typeof v === 'string' ? isoToUs(v) : fallback;
}
