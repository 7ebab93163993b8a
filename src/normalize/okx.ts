import type { MarketEvent } from '../codec/event.js';
import { EVENTS, ignored, isObject, levels, msToUs, NOT_AN_OBJECT, num, text, unrecognized, type Disposition, type Normalizer } from './common.js';

/**
 * OKX v5 public channels: trades (side = taker side), tickers (best bid/ask), books
 * (snapshot/update, `checksum` = signed CRC32 of the top 25 until June 2026, `seqId`/`prevSeqId`
 * when the venue sends them) and liquidation-orders (`posSide` names the liquidated position).
 * Symbols are OKX instrument ids (`BTC-USDT`, `BTC-USD-220527`, `UNI-USD-SWAP`).
 */
export class OkxNormalizer implements Normalizer {
  readonly venue = 'okx';

  normalize(raw: unknown, recvTsUs: number, out: MarketEvent[]): Disposition {
    if (!isObject(raw)) return unrecognized(NOT_AN_OBJECT);
    // Answers to requests: {"event":"subscribe","arg":{...}}, {"event":"error","code":...}.
    if (raw.event === 'error') return unrecognized(`venue error ${text(raw.code)}: ${text(raw.msg)}`);
    // "The connection will soon be closed for a service upgrade" (30 to 60 s ahead): a live
    // collector moves to a new connection now (src/ingest/gateway.ts).
    if (raw.event === 'notice' && text(raw.code) === '64008') return ignored('serverShutdown');
    if (typeof raw.event === 'string') return ignored(raw.event === 'subscribe' || raw.event === 'unsubscribe' ? 'subscription' : raw.event === 'login' ? 'login' : 'event');
    if (!isObject(raw.arg) || !Array.isArray(raw.data)) return unrecognized('no arg and data');
    const channel = raw.arg.channel;
    if (!KNOWN_CHANNELS.has(text(channel))) return unrecognized(`channel ${text(channel)}`);
    const before = out.length;
    for (const d of raw.data) {
      if (!isObject(d)) continue;
      const symbol = text(d.instId ?? raw.arg.instId ?? '');
      switch (channel) {
        case 'trades':
          out.push({ v: 1, type: 'trade', venue: this.venue, symbol, ts: msToUs(d.ts), recvTs: recvTsUs, id: text(d.tradeId), price: num(d.px), size: num(d.sz), side: d.side === 'sell' ? 'sell' : 'buy' });
          break;
        case 'tickers':
          out.push({ v: 1, type: 'quote', venue: this.venue, symbol, ts: msToUs(d.ts), recvTs: recvTsUs, bid: num(d.bidPx), bidSize: num(d.bidSz), ask: num(d.askPx), askSize: num(d.askSz) });
          break;
        case 'books':
        case 'books5':
        case 'books50-l2-tbt':
        case 'books-l2-tbt':
          out.push({
            v: 1, type: 'book', venue: this.venue, symbol, ts: msToUs(d.ts), recvTs: recvTsUs,
            action: raw.action === 'snapshot' || channel === 'books5' ? 'snapshot' : 'delta',
            seq: d.seqId === undefined ? 0 : num(d.seqId),
            ...(d.prevSeqId === undefined ? {} : { prevSeq: num(d.prevSeqId) }),
            // OKX stopped computing book checksums on 2026-06-23: the field stays, always 0. A 0 is
            // no checksum (one real CRC32 in 2^32 is 0): the sequence (seqId/prevSeqId) guards.
            ...(d.checksum === undefined || num(d.checksum) === 0 ? {} : { checksum: num(d.checksum) }),
            bids: levels(d.bids), asks: levels(d.asks),
          });
          break;
        case 'liquidation-orders':
          if (!Array.isArray(d.details)) break;
          for (const x of d.details) {
            if (!isObject(x)) continue;
            out.push({ v: 1, type: 'liquidation', venue: this.venue, symbol, ts: msToUs(x.ts), recvTs: recvTsUs, posSide: x.posSide === 'short' ? 'short' : 'long', price: num(x.bkPx), size: num(x.sz) });
          }
          break;
        default:
          break;
      }
    }
    return out.length > before ? EVENTS : ignored(`${text(channel)} without data`);
  }
}

const KNOWN_CHANNELS = new Set(['trades', 'tickers', 'books', 'books5', 'books50-l2-tbt', 'books-l2-tbt', 'liquidation-orders']);
