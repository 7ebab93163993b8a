import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Verdict, type MarketEvent } from '../../src/codec/event.js';
import { threshold, type Check, type Judge, type Severity } from '../../src/checks/check.js';
import { CheckEngine } from '../../src/checks/engine.js';
import { DEFAULT_CHECK_CONFIG, type CheckConfig } from '../../src/checks/thresholds.js';

const NOW_US = 1_790_000_000_000_000;

function trade(venue: string, symbol: string, price: number): MarketEvent {
  return { v: 1, type: 'trade', venue, symbol, ts: NOW_US, recvTs: NOW_US + 100, id: String(price), price, size: 1, side: 'buy' };
}

function quote(bid: number, ask: number): MarketEvent {
  return { v: 1, type: 'quote', venue: 'binance', symbol: 'BTC-USDT', ts: NOW_US, recvTs: NOW_US + 100, bid, bidSize: 1, ask, askSize: 1 };
}

/** A check of the given severity that fails trades priced above its `limit` (default 100), saying what it measured. */
function above(id: string, bit: number, severity: Severity, limit = 100): Check {
  const judge: Judge = (e, s, t) => {
    if (e.type !== 'trade' || e.price <= t.limit!) return false;
    s.lastValue = e.price;
    s.lastThreshold = t.limit!;
    return true;
  };
  return { id, bit, group: 'value', severity, description: `trade above ${limit}`, keeps: 'nothing', thresholds: { limit: threshold(limit, 'price limit') }, evaluate: { trade: judge } };
}

function config(overrides: Partial<CheckConfig>): CheckConfig {
  return { ...DEFAULT_CHECK_CONFIG, ...overrides };
}

/**
 * The engine on checks made for the test: how failures combine into the verdict, the bits and
 * the score; which checks run for which event type; disabled checks; thresholds resolved per
 * venue and symbol; what each failure measured.
 */
describe('CheckEngine', () => {
  it('combines failures: any reject rejects, otherwise a flag or a resync flags; bits, values and limits per check', () => {
    const engine = new CheckEngine([above('X1', 3, 'flag', 100), above('X2', 40, 'reject', 200), above('X3', 7, 'resync', 150)]);
    let o = engine.evaluate(trade('binance', 'BTC-USDT', 50), NOW_US);
    assert.equal(o.verdict, Verdict.ACCEPTED);
    assert.equal(o.failedLo, 0);
    assert.equal(o.score, 1);

    o = engine.evaluate(trade('binance', 'BTC-USDT', 120), NOW_US);
    assert.equal(o.verdict, Verdict.FLAGGED);
    assert.equal(o.failedLo, 1 << 3);
    assert.equal(o.failedHi, 0);
    assert.equal(o.resync, false);
    assert.ok(o.score < 1 && o.score > 0);
    assert.equal(o.values[3], 120);
    assert.equal(o.limits[3], 100);

    o = engine.evaluate(trade('binance', 'BTC-USDT', 160), NOW_US);
    assert.equal(o.verdict, Verdict.FLAGGED);
    assert.equal(o.resync, true);
    assert.equal(o.failedLo, (1 << 3) | (1 << 7));

    o = engine.evaluate(trade('binance', 'BTC-USDT', 250), NOW_US);
    assert.equal(o.verdict, Verdict.REJECTED);
    assert.equal(o.failedLo, (1 << 3) | (1 << 7));
    assert.equal(o.failedHi, 1 << (40 - 32));
    assert.equal(o.values[40], 250);
    assert.equal(o.limits[40], 200);
    assert.equal(o.score, 0);
  });

  it('runs a check only for the event types it judges', () => {
    const engine = new CheckEngine([above('X1', 1, 'reject', 0)]);
    assert.equal(engine.evaluate(quote(1, 2), NOW_US).verdict, Verdict.ACCEPTED);
    assert.equal(engine.evaluate(trade('binance', 'BTC-USDT', 1), NOW_US).verdict, Verdict.REJECTED);
  });

  it('leaves out disabled checks', () => {
    const engine = new CheckEngine([above('X1', 1, 'reject'), above('X2', 2, 'flag')], config({ disabled: ['X1'] }));
    const o = engine.evaluate(trade('binance', 'BTC-USDT', 500), NOW_US);
    assert.equal(o.verdict, Verdict.FLAGGED);
    assert.equal(o.failedLo, 1 << 2);
  });

  it('resolves thresholds globally, per venue and per venue and symbol, the most specific winning', () => {
    const engine = new CheckEngine([above('X1', 1, 'flag', 100)], config({
      thresholds: { X1: { limit: 1000 } },
      venues: { kraken: { X1: { limit: 10 } } },
      symbols: { 'kraken:ETH-USD': { X1: { limit: 5000 } } },
    }));
    assert.equal(engine.evaluate(trade('binance', 'BTC-USDT', 500), NOW_US).verdict, Verdict.ACCEPTED, 'global 1000');
    assert.equal(engine.evaluate(trade('kraken', 'BTC-USD', 50), NOW_US).verdict, Verdict.FLAGGED, 'kraken 10');
    assert.equal(engine.evaluate(trade('kraken', 'ETH-USD', 2000), NOW_US).verdict, Verdict.ACCEPTED, 'kraken:ETH-USD 5000');
  });

  it('keeps state per venue and symbol', () => {
    const engine = new CheckEngine([above('X1', 1, 'flag')]);
    assert.notEqual(engine.state('binance', 'BTC-USDT'), engine.state('okx', 'BTC-USDT'));
    assert.equal(engine.state('binance', 'BTC-USDT'), engine.state('binance', 'BTC-USDT'));
  });

  it('refuses two checks on one bit, and a bit out of range, naming the check', () => {
    assert.throws(() => new CheckEngine([above('X1', 5, 'flag'), above('X2', 5, 'flag')]), { code: 'INTERNAL', message: /check X2: bit 5/ });
    assert.throws(() => new CheckEngine([above('X1', 64, 'flag')]), { code: 'INTERNAL', message: /check X1: bit 64/ });
  });
});
