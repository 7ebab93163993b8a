import type { MarketEvent } from './event.js';

export const DEFAULT_VENUES = ['binance', 'coinbase', 'okx', 'bybit', 'kraken'] as const;

/** Names of the first `n` synthetic symbols: a few real majors, then `SYMnnn-USDT`. */
export function symbolNames(n: number): string[] {
  const majors = ['BTC-USDT', 'ETH-USDT', 'SOL-USDT', 'XRP-USDT', 'DOGE-USDT', 'ADA-USDT', 'AVAX-USDT', 'LINK-USDT'];
  return Array.from({ length: n }, (_, i) => majors[i] ?? `SYM${String(i).padStart(3, '0')}-USDT`);
}

/**
 * Synthetic but plausible ticks: per venue and symbol a random-walk mid price with a spread of a
 * few basis points; 60 % trades, 37 % quotes, 3 % liquidations. Deterministic for a seed.
 */
export class SyntheticMarket {
  private readonly mids: Float64Array;
  private readonly tradeIds: Float64Array;
  private readonly lastTs: Float64Array;
  private seed: number;

  constructor(readonly venues: readonly string[], readonly symbols: readonly string[], seed = 42) {
    this.seed = seed >>> 0 || 1;
    this.mids = new Float64Array(venues.length * symbols.length);
    this.tradeIds = new Float64Array(venues.length * symbols.length);
    this.lastTs = new Float64Array(venues.length * symbols.length);
    for (let s = 0; s < symbols.length; s++) {
      for (let v = 0; v < venues.length; v++) this.mids[s * venues.length + v] = 100 * (1 + s);
    }
  }

  /** xorshift32: cheap and reproducible. */
  private random(): number {
    let x = this.seed;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.seed = x;
    return x / 4294967296;
  }

  /** The next event for a random venue and symbol; `nowUs` is the receive time to stamp. */
  next(nowUs: number): MarketEvent {
    const s = Math.floor(this.random() * this.symbols.length);
    const v = Math.floor(this.random() * this.venues.length);
    return this.nextFor(s, v, nowUs);
  }

  nextFor(s: number, v: number, nowUs: number): MarketEvent {
    const k = s * this.venues.length + v;
    // Steps of at most ±0.5 bp: trades stay within a spread of the last quote (no M2 flags).
    const mid = (this.mids[k] = this.mids[k]! * (1 + (this.random() - 0.5) * 0.0001));
    const venue = this.venues[v]!;
    const symbol = this.symbols[s]!;
    // Exchange time 1-5 ms before receipt, never going backwards per venue and symbol.
    const ts = Math.max(this.lastTs[k]! + 1, nowUs - 1000 - Math.floor(this.random() * 4000));
    this.lastTs[k] = ts;
    const r = this.random();
    const half = mid * 0.0001;
    const round = (x: number) => Math.round(x * 1e4) / 1e4;
    if (r < 0.6) {
      const id = ++this.tradeIds[k]!;
      const buy = this.random() < 0.5;
      return { v: 1, type: 'trade', venue, symbol, ts, recvTs: nowUs, id: String(id), price: round(buy ? mid + half : mid - half), size: round(0.001 + this.random() * 2), side: buy ? 'buy' : 'sell' };
    }
    if (r < 0.97) {
      return { v: 1, type: 'quote', venue, symbol, ts, recvTs: nowUs, bid: round(mid - half), bidSize: round(this.random() * 10 + 0.1), ask: round(mid + half), askSize: round(this.random() * 10 + 0.1) };
    }
    return { v: 1, type: 'liquidation', venue, symbol, ts, recvTs: nowUs, posSide: this.random() < 0.5 ? 'long' : 'short', price: round(mid), size: round(0.01 + this.random() * 5) };
  }
}

/** Messages that must be dead-lettered: not msgpack, not JSON, or not a schema-v1 event. */
export function poisonMessage(i: number): Buffer {
  switch (i % 3) {
    case 0: return Buffer.from([0xc1, 0x00, 0xff, 0x13]); // 0xc1 is never used in msgpack
    case 1: return Buffer.from('{"v":1,"type":"trade","venue":"binance"'); // truncated JSON
    default: return Buffer.from(JSON.stringify({ v: 99, type: 'trade', venue: 'binance', symbol: 'BTC-USDT' })); // unknown version
  }
}
