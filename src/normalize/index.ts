import { BinanceNormalizer } from './binance.js';
import { BybitNormalizer } from './bybit.js';
import { CoinbaseNormalizer } from './coinbase.js';
import type { Normalizer } from './common.js';
import { KrakenNormalizer } from './kraken.js';
import { OkxNormalizer } from './okx.js';

export type { Normalizer } from './common.js';
export { BinanceNormalizer } from './binance.js';

export const VENUES = ['binance', 'binance-futures', 'coinbase', 'kraken', 'okx', 'bybit'] as const;
export type Venue = (typeof VENUES)[number];

export function createNormalizer(venue: Venue): Normalizer {
  switch (venue) {
    case 'binance': return new BinanceNormalizer('binance');
    case 'binance-futures': return new BinanceNormalizer('binance-futures');
    case 'coinbase': return new CoinbaseNormalizer();
    case 'kraken': return new KrakenNormalizer();
    case 'okx': return new OkxNormalizer();
    case 'bybit': return new BybitNormalizer();
  }
}

/** The venue of a cryptofeed recording, from its file name (`BINANCE_FUTURES.ws.1.0`). */
export function venueOfRecording(fileName: string): Venue | null {
  const base = fileName.split('/').pop()!.split('.')[0]!.toUpperCase();
  const map: Record<string, Venue> = {
    BINANCE: 'binance', BINANCE_FUTURES: 'binance-futures', COINBASE: 'coinbase', KRAKEN: 'kraken', OKX: 'okx', BYBIT: 'bybit',
  };
  return map[base] ?? null;
}
