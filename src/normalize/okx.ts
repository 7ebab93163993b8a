import type { MarketEvent } from '../codec/event.js';
import { isObject, levels, msToUs, num, text, type Normalizer } from './common.js';

/**
 * OKX v5 public channels: trades (side = taker side), tickers (best bid/ask), books
 * (snapshot/update, `checksum` = signed CRC32 of the top 25, `seqId`/`prevSeqId` when the
 * venue sends them) and liquidation-orders (`posSide` names the liquidated position).
 * Symbols are OKX instrument ids (`BTC-USDT`, `BTC-USD-220527`, `UNI-USD-SWAP`).
 */
export class OkxNormalizer implements Normalizer {
  readonly venue = 'okx';

  normalize(raw: unknown, recvTsUs: number, out: MarketEvent[]): void {
    if (!isObject(raw) || !isObject(raw.arg) || !Array.isArray(raw.data)) return;
    const channel = raw.arg.channel;
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
            ...(d.checksum === undefined ? {} : { checksum: num(d.checksum) }),
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
  }
}
