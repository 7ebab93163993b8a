import fc from 'fast-check';
import { MAX_TEXT_LENGTH } from '../../src/codec/decode.js';
import { MARKET_TYPES, type Level, type MarketEvent, type MarketType } from '../../src/codec/event.js';
import { VENUES } from '../../src/normalize/index.js';

/** What the decoder refuses in a stored string (see decode.ts's SUSPECT_CHAR). */
export const UNSTORABLE = /\u0000|\uFFFD|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// Any storable text: graphemes of every script, and the characters JSON must escape.
const text = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }),
  fc.string({ unit: fc.constantFrom('a', '"', '\\', '\n', '\t', '\u0001', '\u001f', '\u007f', '\u2028', 'é', '€', '😀'), minLength: 1, maxLength: 12 }),
).filter((s) => s.length <= MAX_TEXT_LENGTH && !UNSTORABLE.test(s));
const us = fc.maxSafeNat();
const printed = fc.tuple(fc.integer({ min: -1e12, max: 1e12 }), fc.integer({ min: 0, max: 10 })).map(([m, k]) => m / 10 ** k);
const float = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), printed, fc.constantFrom(-0, 1e21, 1e-7, 5e-324));
const level = fc.tuple(float, float) as fc.Arbitrary<Level>;
const levels = fc.array(level, { maxLength: 6 });
const optionalInt = fc.option(fc.maxSafeInteger(), { nil: undefined });
const market = fc.option(fc.constantFrom<MarketType>(...MARKET_TYPES), { nil: undefined });
const contractSize = fc.option(fc.double({ min: 1e-9, max: 1e6, noNaN: true }), { nil: undefined });
const base = { v: fc.constant(1 as const), venue: fc.constantFrom(...VENUES), symbol: text, ts: us, recvTs: us, market, contractSize };

export const tradeEvent: fc.Arbitrary<MarketEvent> = fc.record({
  ...base, type: fc.constant('trade' as const),
  id: text, price: float, size: float, side: fc.constantFrom('buy' as const, 'sell' as const, '' as const), offBook: fc.option(fc.boolean(), { nil: undefined }),
});

/** Every valid event of schema v1 (optional fields present or not). */
export const validEvent: fc.Arbitrary<MarketEvent> = fc.oneof(
  tradeEvent,
  fc.record({
    ...base, type: fc.constant('quote' as const),
    bid: float, bidSize: float, ask: float, askSize: float, updateId: optionalInt,
  }),
  fc.record({
    ...base, type: fc.constant('liquidation' as const),
    id: fc.option(text, { nil: undefined }), posSide: fc.constantFrom('long' as const, 'short' as const), price: float, size: float,
  }),
  fc.record({
    ...base, type: fc.constant('book' as const),
    action: fc.constantFrom('snapshot' as const, 'delta' as const), seq: fc.maxSafeInteger(), prevSeq: optionalInt, firstSeq: optionalInt,
    checksum: optionalInt, priceDp: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
    sizeDp: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }), bids: levels, asks: levels,
  }),
);

/** Drops the keys whose value is undefined, as a producer would not send them. */
export function wire(e: MarketEvent): Record<string, unknown> {
  return Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined));
}
