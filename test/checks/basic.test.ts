import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLOCK_SKEW_US, clockSkew, crossedQuote, positivePrice, positiveSize } from '../../src/checks/basic.js';
import { CheckEngine } from '../../src/checks/engine.js';
import { Verdict, type MarketEvent, type QuoteEvent, type TradeEvent } from '../../src/codec/event.js';

const base = { v: 1 as const, venue: 'binance', symbol: 'BTC-USDT', ts: 1_000_000, recvTs: 1_000_000 };
const trade = (o: Partial<TradeEvent> = {}): MarketEvent => ({ ...base, type: 'trade', id: '1', price: 10, size: 1, side: 'buy', ...o });
const quote = (o: Partial<QuoteEvent> = {}): MarketEvent => ({ ...base, type: 'quote', bid: 10, bidSize: 1, ask: 11, askSize: 1, ...o });

describe('basic checks', () => {
  it('V1 price > 0', () => {
    assert.equal(positivePrice.evaluate(trade({ price: 0 }), 0), true);
    assert.equal(positivePrice.evaluate(trade({ price: Number.MIN_VALUE }), 0), false);
    assert.equal(positivePrice.evaluate(quote({ bid: 0 }), 0), true);
    assert.equal(positivePrice.evaluate(quote(), 0), false);
  });

  it('V2 size > 0 for trades only (book size 0 deletes a level)', () => {
    assert.equal(positiveSize.evaluate(trade({ size: 0 }), 0), true);
    assert.equal(positiveSize.evaluate(trade({ size: 1e-12 }), 0), false);
    assert.equal(positiveSize.evaluate({ ...base, type: 'book', action: 'delta', seq: 1, bids: [[1, 0]], asks: [] }, 0), false);
  });

  it('M1 crossed quote rejects bid > ask and allows a locked quote', () => {
    assert.equal(crossedQuote.evaluate(quote({ bid: 11.0000001, ask: 11 }), 0), true);
    assert.equal(crossedQuote.evaluate(quote({ bid: 11, ask: 11 }), 0), false);
  });

  it('T2 clock skew fires strictly above the allowed skew', () => {
    assert.equal(clockSkew.evaluate(trade({ ts: base.recvTs + CLOCK_SKEW_US }), 0), false);
    assert.equal(clockSkew.evaluate(trade({ ts: base.recvTs + CLOCK_SKEW_US + 1 }), 0), true);
  });

  it('the engine combines failures into a verdict, a bit set and a score', () => {
    const engine = new CheckEngine([positivePrice, positiveSize, crossedQuote, clockSkew]);
    let o = engine.evaluate(trade(), 0);
    assert.deepEqual({ ...o }, { verdict: Verdict.ACCEPTED, failedLo: 0, failedHi: 0, score: 1 });
    o = engine.evaluate(trade({ ts: base.recvTs + 10 * CLOCK_SKEW_US }), 0);
    assert.deepEqual({ ...o }, { verdict: Verdict.FLAGGED, failedLo: 1 << clockSkew.bit, failedHi: 0, score: 0.75 });
    o = engine.evaluate(trade({ price: -1, size: 0 }), 0);
    assert.equal(o.verdict, Verdict.REJECTED);
    assert.equal(o.failedLo, (1 << positivePrice.bit) | (1 << positiveSize.bit));
    assert.equal(o.score, 0);
    assert.throws(() => new CheckEngine([positivePrice, positivePrice]), /bit 0/);
  });
});
