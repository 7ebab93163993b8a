import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import { validateEvent } from '../../src/codec/decode.js';
import type { LiquidationEvent, MarketEvent, QuoteEvent, TradeEvent } from '../../src/codec/event.js';
import { isoToUs, krakenPair, splitConcatenated } from '../../src/normalize/common.js';
import { createNormalizer, venueOfRecording, type Venue } from '../../src/normalize/index.js';
import { normalizeRecording } from '../../src/replay/recording.js';
import { recordingFiles } from '../helpers/recordings.js';

const RECV = 1_700_000_000_000_000;

function one(venue: Venue, raw: unknown): MarketEvent[] {
  const out: MarketEvent[] = [];
  createNormalizer(venue).normalize(raw, RECV, out);
  for (const e of out) assert.ok(validateEvent(JSON.parse(JSON.stringify(e))).ok, JSON.stringify(e));
  return out;
}

// Verbatim messages from ../shared/FORMATS.md (venue docs and recordings).
describe('venue normalizers: side conventions and fields', () => {
  it('Binance aggTrade: m=false means the buyer took liquidity (taker buy); m=true a taker sell', () => {
    const [t] = one('binance', { stream: 'nknusdt@aggTrade', data: { e: 'aggTrade', E: 1633998523963, s: 'NKNUSDT', a: 15683430, p: '0.35280000', q: '58.00000000', f: 19862790, l: 19862790, T: 1633998523963, m: false, M: true } }) as TradeEvent[];
    assert.deepEqual({ symbol: t!.symbol, id: t!.id, price: t!.price, size: t!.size, side: t!.side, ts: t!.ts }, { symbol: 'NKN-USDT', id: '15683430', price: 0.3528, size: 58, side: 'buy', ts: 1633998523963000 });
    const [s] = one('binance-futures', { stream: 'btcusdt@trade', data: { e: 'trade', E: 1596240000596, T: 1596240000519, s: 'BTCUSDT', t: 173525189, p: '11343.67', q: '0.467', X: 'MARKET', m: true } }) as TradeEvent[];
    assert.equal(s!.side, 'sell');
    assert.equal(s!.offBook, undefined);
  });

  it('Binance futures insurance-fund fills are marked off-book', () => {
    const [t] = one('binance-futures', { stream: 'ethusdt@trade', data: { e: 'trade', E: 1596034530241, T: 1596034530235, s: 'ETHUSDT', t: 73701056, p: '2366.55', q: '0.070', X: 'INSURANCE_FUND', m: true } }) as TradeEvent[];
    assert.equal(t!.offBook, true);
  });

  it('Binance forceOrder: S=SELL liquidates a long; filled quantity and average price', () => {
    const [l] = one('binance-futures', { stream: '!forceOrder@arr', data: { e: 'forceOrder', E: 1634653599186, o: { s: 'IOTXUSDT', S: 'SELL', o: 'LIMIT', f: 'IOC', q: '3661', p: '0.06606', ap: '0.06669', X: 'FILLED', l: '962', z: '3661', T: 1634653599180 } } }) as LiquidationEvent[];
    assert.deepEqual({ posSide: l!.posSide, price: l!.price, size: l!.size, symbol: l!.symbol }, { posSide: 'long', price: 0.06669, size: 3661, symbol: 'IOTX-USDT' });
  });

  it('Binance spot bookTicker has no event time: the receive time stands in', () => {
    const [q] = one('binance', { stream: 'nknusdt@bookTicker', data: { u: 499869768, s: 'NKNUSDT', b: '0.35210000', B: '672.00000000', a: '0.35260000', A: '3199.00000000' } }) as QuoteEvent[];
    assert.deepEqual({ bid: q!.bid, ask: q!.ask, updateId: q!.updateId, ts: q!.ts }, { bid: 0.3521, ask: 0.3526, updateId: 499869768, ts: RECV });
  });

  it('Binance futures depthUpdate keeps U, u and pu', () => {
    const [b] = one('binance-futures', { stream: 'sushiusdt@depth@100ms', data: { e: 'depthUpdate', E: 1626992741037, T: 1626992741024, s: 'SUSHIUSDT', U: 600859599090, u: 600859600917, pu: 600859598061, b: [['7.5040', '813'], ['7.6090', '0']], a: [['7.6150', '1563']] } });
    assert.deepEqual(b, { v: 1, type: 'book', venue: 'binance-futures', symbol: 'SUSHI-USDT', ts: 1626992741024000, recvTs: RECV, market: 'perp', action: 'delta', seq: 600859600917, firstSeq: 600859599090, prevSeq: 600859598061, bids: [[7.504, 813], [7.609, 0]], asks: [[7.615, 1563]] });
  });

  it('Coinbase match.side is the maker side: sell maker = taker buy', () => {
    const [t] = one('coinbase', { type: 'match', trade_id: 280232, maker_order_id: 'x', taker_order_id: 'y', side: 'sell', size: '985', price: '0.00001305', product_id: 'SKL-BTC', sequence: 177100030, time: '2021-04-17T16:43:37.089723Z' }) as TradeEvent[];
    assert.deepEqual({ side: t!.side, ts: t!.ts, id: t!.id, symbol: t!.symbol }, { side: 'buy', ts: 1618677817089723, id: '280232', symbol: 'SKL-BTC' });
  });

  it('Kraken v1 trade side is the taker side; book updates carry their checksum', () => {
    const [t] = one('kraken', [993, [['354.11000000', '0.89594024', '1618678142.557535', 's', 'l', '']], 'trade', 'XMR/USD']) as TradeEvent[];
    assert.deepEqual({ side: t!.side, price: t!.price, symbol: t!.symbol, ts: t!.ts }, { side: 'sell', price: 354.11, symbol: 'XMR-USD', ts: 1618678142557535 });
    const [b] = one('kraken', [992, { b: [['354.12000000', '0.00000000', '1618678133.366461']], c: '1822697057' }, 'book-1000', 'XMR/USD']);
    assert.deepEqual(b, { v: 1, type: 'book', venue: 'kraken', symbol: 'XMR-USD', ts: 1618678133366461, recvTs: RECV, action: 'delta', seq: 0, checksum: 1822697057, priceDp: 8, sizeDp: 8, bids: [[354.12, 0]], asks: [] });
  });

  it('OKX: trade side is the taker side; liquidation posSide is the liquidated position; books keep checksum and seq ids', () => {
    const [t] = one('okx', { arg: { channel: 'trades', instId: 'BTC-USDT' }, data: [{ instId: 'BTC-USDT', tradeId: '130639474', px: '42219.9', sz: '0.12060306', side: 'buy', ts: '1630048897897', count: '3' }] }) as TradeEvent[];
    assert.equal(t!.side, 'buy');
    const [l] = one('okx', { arg: { channel: 'liquidation-orders', instType: 'FUTURES' }, data: [{ details: [{ bkLoss: '0', bkPx: '0.55205', ccy: '', posSide: 'short', side: 'buy', sz: '39', ts: '1680173247614' }], instFamily: 'XRP-USD', instId: 'XRP-USD-230929', instType: 'FUTURES', uly: 'XRP-USD' }] }) as LiquidationEvent[];
    assert.deepEqual({ posSide: l!.posSide, price: l!.price, symbol: l!.symbol }, { posSide: 'short', price: 0.55205, symbol: 'XRP-USD-230929' });
    const [b] = one('okx', { arg: { channel: 'books', instId: 'BTC-USDT' }, action: 'update', data: [{ asks: [['8476.98', '415', '0', '13']], bids: [['8476.97', '256', '0', '12']], ts: '1597026383085', checksum: -855196043, prevSeqId: 123456, seqId: 123457 }] });
    assert.deepEqual(b, { v: 1, type: 'book', venue: 'okx', symbol: 'BTC-USDT', ts: 1597026383085000, recvTs: RECV, action: 'delta', seq: 123457, prevSeq: 123456, checksum: -855196043, bids: [[8476.97, 256]], asks: [[8476.98, 415]] });
  });

  it('Bybit: liquidation S=Buy means a long was liquidated; trade S is the taker side', () => {
    const ls = one('bybit', { topic: 'allLiquidation.BTCUSDT', type: 'snapshot', ts: 1739502303204, data: [{ T: 1739502302929, s: 'BTCUSDT', S: 'Buy', v: '0.015', p: '96250.5' }, { T: 1739502303011, s: 'BTCUSDT', S: 'Sell', v: '1.250', p: '97410.0' }] }) as LiquidationEvent[];
    assert.deepEqual(ls.map((l) => l.posSide), ['long', 'short']);
    const [legacy] = one('bybit', { topic: 'liquidation.XRPUSD', type: 'snapshot', ts: 1680673944093, data: { updatedTime: 1680673944093, symbol: 'XRPUSD', side: 'Sell', size: '6949', price: '0.5149' } }) as LiquidationEvent[];
    assert.deepEqual({ posSide: legacy!.posSide, symbol: legacy!.symbol }, { posSide: 'short', symbol: 'XRP-USD' });
    const [t] = one('bybit', { topic: 'publicTrade.BTCUSDT', type: 'snapshot', ts: 1786310819681, data: [{ T: 1786310819680, s: 'BTCUSDT', S: 'Sell', v: '0.004', p: '65114.20', L: 'MinusTick', i: 'a9188a0a-82bc-50de-be60-03eedbe3cdd7', BT: false, RPI: false, seq: 753843954913 }] }) as TradeEvent[];
    assert.deepEqual({ side: t!.side, id: t!.id, symbol: t!.symbol }, { side: 'sell', id: 'a9188a0a-82bc-50de-be60-03eedbe3cdd7', symbol: 'BTC-USDT' });
  });

  it('Bybit tickers deltas merge into the last known ticker (missing fields are not null)', () => {
    const n = createNormalizer('bybit');
    const out: MarketEvent[] = [];
    n.normalize({ topic: 'tickers.BTCUSDT', type: 'snapshot', data: { symbol: 'BTCUSDT', bid1Price: '65114.20', bid1Size: '6.054', ask1Price: '65114.30', ask1Size: '10.486' }, cs: 1, ts: 1786310817883 }, RECV, out);
    n.normalize({ topic: 'tickers.BTCUSDT', type: 'delta', data: { symbol: 'BTCUSDT', ask1Price: '65114.50' }, cs: 2, ts: 1786310817990 }, RECV, out);
    n.normalize({ topic: 'tickers.BTCUSDT', type: 'delta', data: { symbol: 'BTCUSDT', volume24h: '1' }, cs: 3, ts: 1786310818000 }, RECV, out);
    assert.equal(out.length, 2, 'a delta without a top-of-book change makes no quote');
    const q = out[1] as QuoteEvent;
    assert.deepEqual([q.bid, q.bidSize, q.ask, q.askSize], [65114.2, 6.054, 65114.5, 10.486]);
  });

  it('symbols and times normalize', () => {
    assert.equal(splitConcatenated('NKNUSDT'), 'NKN-USDT');
    assert.equal(splitConcatenated('BLZETH'), 'BLZ-ETH');
    assert.equal(splitConcatenated('EOSUSD'), 'EOS-USD');
    assert.equal(krakenPair('XBT/CHF'), 'BTC-CHF');
    assert.equal(isoToUs('2021-04-17T16:43:37.089723Z'), 1618677817089723);
    assert.equal(isoToUs('2026-08-09T21:05:48.251397169Z'), 1786309548251397);
    assert.equal(isoToUs('2021-04-17T16:43:37Z'), 1618677817000000);
  });
});

describe('normalizer regressions (fuzzing counterexamples)', () => {
  // String() of these threw out of normalize(): the first has a `toString` key that is not a
  // function, the second is 100,000 nested arrays (Array#join recursed past the stack).
  const objects: Array<[string, unknown]> = [['{"toString":1}', JSON.parse('{"toString":1}')], ['100,000 nested arrays', JSON.parse('['.repeat(100_000) + ']'.repeat(100_000))]];
  const messages: Array<[Venue, string, (x: unknown) => unknown]> = [
    ['binance', 'aggTrade symbol', (x) => ({ stream: 'nknusdt@aggTrade', data: { e: 'aggTrade', E: 1633998523963, s: x, a: 15683430, p: '0.3528', q: '58', T: 1633998523963, m: false } })],
    ['binance-futures', 'forceOrder symbol', (x) => ({ data: { e: 'forceOrder', E: 1634653599186, o: { s: x, S: 'SELL', q: '3661', p: '0.06606', ap: '0.06669', z: '3661', T: 1634653599180 } } })],
    ['bybit', 'publicTrade symbol', (x) => ({ topic: 'publicTrade.BTCUSDT', data: [{ T: 1786310819680, s: x, S: 'Sell', v: '0.004', p: '65114.20', i: 'a9188a0a' }] })],
    ['coinbase', 'match product_id', (x) => ({ type: 'match', trade_id: 280232, side: 'sell', size: '985', price: '0.00001305', product_id: x, time: '2021-04-17T16:43:37.089723Z' })],
    ['kraken', 'v2 trade symbol', (x) => ({ channel: 'trade', type: 'update', data: [{ symbol: x, side: 'buy', price: 1, qty: 1, trade_id: 1, timestamp: '2023-09-25T07:49:37.708706Z' }] })],
    ['okx', 'trades instId', (x) => ({ arg: { channel: 'trades', instId: 'BTC-USDT' }, data: [{ instId: x, tradeId: '130639474', px: '42219.9', sz: '0.12', side: 'buy', ts: '1630048897897' }] })],
  ];
  for (const [venue, field, message] of messages) {
    for (const [what, x] of objects) {
      it(`${venue} ${field} = ${what}: an event with an empty symbol, which the decoder refuses`, () => {
        const out: MarketEvent[] = [];
        createNormalizer(venue).normalize(message(x), RECV, out);
        assert.equal(out.length, 1);
        assert.equal(out[0]!.symbol, '');
        assert.deepEqual(validateEvent(JSON.parse(JSON.stringify(out[0]))), { ok: false, failure: { code: 'SCHEMA_INVALID', message: 'symbol missing' } });
      });
    }
  }

  it('kraken v1 trade with an object as its time: an id without it, refused for its time', () => {
    const out: MarketEvent[] = [];
    createNormalizer('kraken').normalize([993, [['354.11', '0.89', JSON.parse('{"toString":1}'), 's', 'l', '']], 'trade', 'XMR/USD'], RECV, out);
    assert.equal((out[0] as TradeEvent).id, '-354.11-0.89');
    assert.equal(validateEvent(JSON.parse(JSON.stringify(out[0]))).ok, false);
  });
});

describe('real recordings (../shared/data)', () => {
  const files = recordingFiles();
  it('are present', (t) => {
    if (files.length === 0) t.skip('shared/data/cryptofeed not found beside the repository');
    else assert.equal(files.length, 8);
  });

  // Exchange-data messages per file and type (everything else is a subscription, ack, status or
  // candle), checked against grep counts of the raw lines (e.g. 4,289 "book-1000" lines in the
  // Kraken file minus 10 subscriptionStatus acks; 764 depthUpdate lines in Binance futures).
  const expected: Record<string, { events: number; types: Record<string, number> }> = {
    'BINANCE.http.0.0': { events: 4, types: { book: 4 } },
    'BINANCE.ws.1.0': { events: 263, types: { book: 177, quote: 84, trade: 2 } },
    'BINANCE_FUTURES.http.0.0': { events: 4, types: { book: 4 } },
    'BINANCE_FUTURES.ws.1.0': { events: 1468, types: { book: 764, quote: 613, trade: 91 } },
    'BYBIT.ws.26.0': { events: 1168, types: { book: 1018, trade: 150 } },
    'COINBASE.ws.28.0': { events: 9943, types: { book: 9729, quote: 107, trade: 107 } },
    'KRAKEN.ws.50.0': { events: 4279, types: { book: 4279 } },
    'OKX.ws.1.0': { events: 392, types: { book: 290, quote: 28, trade: 74 } },
  };

  for (const file of files) {
    const name = basename(file);
    it(`${name}: every market message normalizes to a valid schema-v1 event`, () => {
      assert.ok(venueOfRecording(name) !== null);
      const events = normalizeRecording(file);
      const types: Record<string, number> = {};
      for (const e of events) {
        types[e.type] = (types[e.type] ?? 0) + 1;
        const r = validateEvent(JSON.parse(JSON.stringify(e)));
        assert.ok(r.ok, `${name}: ${JSON.stringify(e).slice(0, 200)}: ${r.ok ? '' : r.failure.message}`);
        assert.ok(e.ts > 1_600_000_000_000_000 && e.ts < 1_700_000_000_000_000, `${name}: implausible ts ${e.ts}`);
      }
      assert.deepEqual({ events: events.length, types }, expected[name]);
    });
  }
});
