import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BookEvent, MarketEvent, QuoteEvent } from '../../src/codec/event.js';
import type { Disposition } from '../../src/normalize/common.js';
import { BinanceNormalizer, createNormalizer, type Venue } from '../../src/normalize/index.js';

const RECV = 1_700_000_000_000_000;

function run(venue: Venue, raw: unknown): { d: Disposition; out: MarketEvent[] } {
  const out: MarketEvent[] = [];
  return { d: createNormalizer(venue).normalize(raw, RECV, out), out };
}
const ignoredAs = (venue: Venue, raw: unknown) => {
  const { d, out } = run(venue, raw);
  assert.equal(out.length, 0);
  return d.kind === 'ignored' ? d.channel : `not ignored: ${JSON.stringify(d)}`;
};
const reason = (venue: Venue, raw: unknown) => {
  const { d, out } = run(venue, raw);
  assert.equal(out.length, 0);
  return d.kind === 'unrecognized' ? d.reason : `recognized: ${JSON.stringify(d)}`;
};

// Issue #14: every message that does not become an event is either deliberately ignored (counted
// by channel) or reported as not understood. Messages as the venues send them (docs, recordings).
describe('what each normalizer does with messages that are not ticks', () => {
  it('heartbeats, subscription answers and candles are ignored by channel', () => {
    assert.equal(ignoredAs('binance', { result: null, id: 1 }), 'subscription');
    assert.equal(ignoredAs('binance-futures', { stream: 'btcusdt@kline_1m', data: { e: 'kline', E: 1, s: 'BTCUSDT', k: {} } }), 'kline');
    assert.equal(ignoredAs('coinbase', { type: 'subscriptions', channels: [{ name: 'ticker', product_ids: ['BTC-USD'] }] }), 'subscriptions');
    assert.equal(ignoredAs('coinbase', { type: 'heartbeat', sequence: 90, last_trade_id: 20, product_id: 'BTC-USD', time: '2014-11-07T08:19:28.464459Z' }), 'heartbeat');
    assert.equal(ignoredAs('kraken', { event: 'heartbeat' }), 'heartbeat');
    assert.equal(ignoredAs('kraken', { connectionID: 1, event: 'systemStatus', status: 'online', version: '1.8.1' }), 'status');
    assert.equal(ignoredAs('kraken', { channelID: 10001, channelName: 'book-1000', event: 'subscriptionStatus', pair: 'XBT/USD', status: 'subscribed', subscription: { name: 'book', depth: 1000 } }), 'subscription');
    assert.equal(ignoredAs('kraken', { channel: 'heartbeat' }), 'heartbeat');
    assert.equal(ignoredAs('kraken', { method: 'subscribe', result: { channel: 'ticker', symbol: 'BTC/USD' }, success: true, time_in: 'x', time_out: 'y' }), 'subscription');
    assert.equal(ignoredAs('okx', { event: 'subscribe', arg: { channel: 'books', instId: 'BTC-USDT' }, connId: 'a4d3ae55' }), 'subscription');
    assert.equal(ignoredAs('bybit', { success: true, ret_msg: '', conn_id: '95a3336b', request: { op: 'subscribe', args: ['trade.EOSUSD'] } }), 'subscription');
    assert.equal(ignoredAs('bybit', { success: true, ret_msg: 'pong', conn_id: 'x', op: 'ping' }), 'pong');
    assert.equal(ignoredAs('bybit', { topic: 'tickers.BTCUSDT', type: 'delta', data: { symbol: 'BTCUSDT', volume24h: '1' }, cs: 2, ts: 1 }), 'tickers without a best bid/ask change');
  });

  it('errors and unknown kinds are not understood, with the reason', () => {
    assert.equal(reason('binance', { error: { code: 2, msg: 'Invalid request' }, id: 1 }), 'venue error 2: Invalid request');
    assert.equal(reason('binance', { stream: 'btcusdt@depth', data: { e: 'somethingNew', s: 'BTCUSDT' } }), 'event type somethingNew');
    assert.equal(reason('coinbase', { type: 'error', message: 'Failed to subscribe', reason: 'BTC-XYZ is not a valid product' }), 'venue error: Failed to subscribe (BTC-XYZ is not a valid product)');
    assert.equal(reason('kraken', { event: 'subscriptionStatus', status: 'error', errorMessage: 'Currency pair not supported XBT/ABC' }), 'venue refused a subscription: Currency pair not supported XBT/ABC');
    assert.equal(reason('kraken', [1234, { x: 1 }, 'openOrders', 'XBT/USD']), 'channel openOrders');
    assert.equal(reason('okx', { event: 'error', code: '60012', msg: 'Invalid request' }), 'venue error 60012: Invalid request');
    assert.equal(reason('okx', { arg: { channel: 'mark-price', instId: 'BTC-USDT' }, data: [{ markPx: '1' }] }), 'channel mark-price');
    assert.equal(reason('bybit', { topic: 'kline.1.BTCUSDT', data: [] }), 'topic kline.1.BTCUSDT');
    assert.equal(reason('bybit', { success: false, ret_msg: 'error:handler not found', op: 'subscribe' }), 'venue refused subscribe: error:handler not found');
    for (const v of ['binance', 'coinbase', 'kraken', 'okx', 'bybit'] as const) assert.ok(reason(v, 'pong').length > 0);
  });
});

describe('formats that lost data without a word', () => {
  it('Bybit USDT-linear (v2 public) book snapshots carry {"order_book": [...]}: read, not an empty book', () => {
    // The v2 public linear snapshot (docs): data.order_book holds the levels.
    const { d, out } = run('bybit', {
      topic: 'orderBookL2_25.BTCUSDT', type: 'snapshot', cross_seq: 9267002, timestamp_e6: 1585538386181447,
      data: { order_book: [
        { price: '2999.00', symbol: 'BTCUSDT', id: 29990000, side: 'Buy', size: 9 },
        { price: '3001.00', symbol: 'BTCUSDT', id: 30010000, side: 'Sell', size: 10 },
      ] },
    });
    assert.equal(d.kind, 'events');
    const b = out[0] as BookEvent;
    assert.deepEqual([b.action, b.seq, b.bids, b.asks], ['snapshot', 9267002, [[2999, 9]], [[3001, 10]]]);
    assert.equal(reason('bybit', { topic: 'orderBookL2_25.BTCUSDT', type: 'snapshot', cross_seq: 1, data: { levels: [] } }),
      'order book snapshot without levels (data neither an array nor {order_book})');
  });

  it('Kraken ticker and spread channels give quotes', () => {
    const t = run('kraken', [340, { a: ['5525.40000', 1, '1.000'], b: ['5525.10000', 1, '2.500'], c: ['5525.10000', '0.00398963'], v: ['2634.11501494', '3591.17907851'] }, 'ticker', 'XBT/USD']);
    assert.equal(t.d.kind, 'events');
    const q = t.out[0] as QuoteEvent;
    assert.deepEqual([q.type, q.symbol, q.bid, q.bidSize, q.ask, q.askSize, q.ts], ['quote', 'BTC-USD', 5525.1, 2.5, 5525.4, 1, RECV]);
    const s = run('kraken', [0, ['5698.40000', '5700.00000', '1542057299.545897', '1.01234567', '0.98765432'], 'spread', 'XBT/USD']);
    const sq = s.out[0] as QuoteEvent;
    assert.deepEqual([sq.bid, sq.ask, sq.bidSize, sq.askSize, sq.ts], [5698.4, 5700, 1.01234567, 0.98765432, 1542057299545897]);
    const v2 = run('kraken', { channel: 'ticker', type: 'update', data: [{ symbol: 'BTC/USD', bid: 63000.1, bid_qty: 1.5, ask: 63000.2, ask_qty: 0.4, last: 63000.2 }] });
    assert.deepEqual((v2.out[0] as QuoteEvent).bid, 63000.1);
  });

  it('a REST depth snapshot keeps the contract of its symbol (perpetuals and dated contracts)', () => {
    const n = createNormalizer('binance-futures') as BinanceNormalizer;
    const out: MarketEvent[] = [];
    for (const symbol of ['BCHUSD_PERP', 'BTCUSDT_240927']) n.snapshot(symbol, { lastUpdateId: 5, bids: [['1', '1']], asks: [['2', '1']] }, RECV, out);
    assert.deepEqual(out.map((e) => [e.symbol, e.market]), [['BCH-USD-PERP', 'perp'], ['BTC-USDT-240927', 'future']]);
  });
});
