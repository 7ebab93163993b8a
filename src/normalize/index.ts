import { BinanceNormalizer } from './binance.js';
import { BybitNormalizer } from './bybit.js';
import { CoinbaseNormalizer } from './coinbase.js';
import type { Normalizer } from './common.js';
import { KrakenNormalizer } from './kraken.js';
import { BitmexNormalizer } from './bitmex.js';
import { OkxNormalizer } from './okx.js';

export type { Normalizer } from './common.js';
export { BinanceNormalizer } from './binance.js';

/**
 * Every venue id a normalizer writes. Spot and derivatives of one exchange are apart when their
 * symbols could clash or their rules differ: `binance` / `binance-us` (spot), `binance-futures`
 * (USD-M), `binance-coinm` (COIN-M delivery and perpetuals), `bybit` (linear and inverse) /
 * `bybit-spot`.
 */
export const VENUES = ['binance', 'binance-futures', 'binance-coinm', 'binance-us', 'coinbase', 'kraken', 'okx', 'bybit', 'bybit-spot', 'bitmex'] as const;
export type Venue = (typeof VENUES)[number];

export function createNormalizer(venue: Venue): Normalizer {
  switch (venue) {
    case 'binance': return new BinanceNormalizer('binance');
    case 'binance-futures': return new BinanceNormalizer('binance-futures');
    case 'binance-coinm': return new BinanceNormalizer('binance-coinm');
    case 'binance-us': return new BinanceNormalizer('binance-us');
    case 'coinbase': return new CoinbaseNormalizer();
    case 'kraken': return new KrakenNormalizer();
    case 'okx': return new OkxNormalizer();
    case 'bybit': return new BybitNormalizer('linear');
    case 'bybit-spot': return new BybitNormalizer('spot');
    case 'bitmex': return new BitmexNormalizer();
  }
}

/** The venue of a cryptofeed recording, from its file name (`BINANCE_FUTURES.ws.1.0`). */
export function venueOfRecording(fileName: string): Venue | null {
  const base = fileName.split('/').pop()!.split('.')[0]!.toUpperCase();
  const map: Record<string, Venue> = {
    BINANCE: 'binance', BINANCE_FUTURES: 'binance-futures', BINANCE_DELIVERY: 'binance-coinm', BINANCE_US: 'binance-us',
    COINBASE: 'coinbase', KRAKEN: 'kraken', OKX: 'okx', BYBIT: 'bybit', BITMEX: 'bitmex',
  };
  return map[base] ?? null;
}
