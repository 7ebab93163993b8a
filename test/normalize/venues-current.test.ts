import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateEvent } from '../../src/codec/decode.js';
import type { BookEvent, LiquidationEvent, MarketEvent, QuoteEvent, TradeEvent } from '../../src/codec/event.js';
import { CheckEngine } from '../../src/checks/engine.js';
import { ALL_CHECKS } from '../../src/checks/registry.js';
import { createNormalizer, type Venue } from '../../src/normalize/index.js';
import { readRecordingEvents } from '../../src/replay/recording.js';

const RECV = 1_786_310_820_000_000;

/** Events of a sequence of messages through one normalizer, each checked against the schema. */
function events(venue: Venue, ...messages: unknown[]): MarketEvent[] {
  const n = createNormalizer(venue);
  const out: MarketEvent[] = [];
  for (const m of messages) assert.equal(n.normalize(m, RECV, out).kind, 'events', JSON.stringify(m));
  for (const e of out) assert.ok(validateEvent(JSON.parse(JSON.stringify(e))).ok, JSON.stringify(e));
  return out;
}

function failed(es: readonly MarketEvent[]): string[][] {
  const engine = new CheckEngine(ALL_CHECKS);
  return es.map((e) => {
    const o = engine.evaluate(e, 0);
    return ALL_CHECKS.filter((c) => (c.bit < 32 ? (o.failedLo >>> c.bit) & 1 : (o.failedHi >>> (c.bit - 32)) & 1)).map((c) => c.id);
  });
}

// Issue #14, item 7: today's venue APIs, from the venues' documented or recorded examples
// (../shared/FORMATS.md, the venues' API docs).
describe('Bybit v5: the connection\'s category keeps spot and linear apart', () => {
  const trade = '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1786310819681,"data":[{"T":1786310819680,"s":"BTCUSDT","S":"Sell","v":"0.004","p":"65114.20","L":"MinusTick","i":"a9188a0a-82bc-50de-be60-03eedbe3cdd7","BT":false,"RPI":false,"seq":753843954913}]}';

  it('the same BTCUSDT trade is bybit-spot on /v5/public/spot and bybit (perp) on /v5/public/linear', () => {
    const dir = mkdtempSync(join(tmpdir(), 'himari-bybit-'));
    try {
      const spot = join(dir, 'BYBIT.ws.1.0');
      writeFileSync(spot, `wss://stream.bybit.com/v5/public/spot <-> 1786310819.1\n1786310819.7: ${trade}\n`);
      const linear = join(dir, 'BYBIT.ws.2.0');
      writeFileSync(linear, `wss://stream.bybit.com/v5/public/linear <-> 1786310819.1\n1786310819.7: ${trade}\n`);
      const [s] = readRecordingEvents(spot).events as TradeEvent[];
      const [l] = readRecordingEvents(linear).events as TradeEvent[];
      assert.deepEqual([s!.venue, s!.symbol, s!.market, s!.side, s!.price], ['bybit-spot', 'BTC-USDT', 'spot', 'sell', 65114.2]);
      assert.deepEqual([l!.venue, l!.symbol, l!.market], ['bybit', 'BTC-USDT', 'perp']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('orderbook, tickers and allLiquidation on linear; dated contracts are futures', () => {
    const [book, quote, liqA, liqB] = events('bybit',
      { topic: 'orderbook.200.BTCUSDT', type: 'delta', ts: 1786310818130, data: { s: 'BTCUSDT', b: [['65095.30', '0.005'], ['65093.10', '0']], a: [['65116.60', '0']], u: 15076953, seq: 753843913870 }, cts: 1786310818129 },
      { topic: 'tickers.BTCUSDT', type: 'snapshot', data: { symbol: 'BTCUSDT', bid1Price: '65114.20', bid1Size: '6.054', ask1Price: '65114.30', ask1Size: '10.486' }, cs: 753843907770, ts: 1786310817883 },
      { topic: 'allLiquidation.BTCUSDT', type: 'snapshot', ts: 1739502303204, data: [{ T: 1739502302929, s: 'BTCUSDT', S: 'Buy', v: '0.015', p: '96250.5' }, { T: 1739502303011, s: 'BTCUSDT', S: 'Sell', v: '1.250', p: '97410.0' }] },
    ) as [BookEvent, QuoteEvent, LiquidationEvent, LiquidationEvent];
    assert.deepEqual([book.action, book.seq, book.market, book.bids], ['delta', 15076953, 'perp', [[65095.3, 0.005], [65093.1, 0]]]);
    assert.deepEqual([quote.bid, quote.ask, quote.updateId, quote.market], [65114.2, 65114.3, 753843907770, 'perp']);
    assert.deepEqual([liqA.posSide, liqB.posSide, liqB.size], ['long', 'short', 1.25]);
    const [dated] = events('bybit', { topic: 'publicTrade.BTCUSDH25', type: 'snapshot', ts: 1, data: [{ T: 1736000000000, s: 'BTCUSDH25', S: 'Buy', v: '100', p: '99000', i: '1' }] });
    assert.deepEqual([dated!.symbol, dated!.market], ['BTC-USD-H25', 'future']);
  });
});

describe('Coinbase Advanced Trade', () => {
  const trades = (list: Array<[string, string]>) => ({
    channel: 'market_trades', client_id: '', timestamp: '2026-08-09T21:05:48.251397169Z', sequence_num: 9,
    events: [{ type: 'update', trades: list.map(([id, time]) => ({ product_id: 'BTC-USD', trade_id: id, price: '65083.67', size: '0.01034361', time, side: 'SELL' })) }],
  });

  it('market_trades: a batch listed newest first comes out in trade-id order, and passes the trade checks', () => {
    const es = events('coinbase', trades([['1068572093', '2026-08-09T21:05:48.207634Z'], ['1068572092', '2026-08-09T21:05:48.187634Z'], ['1068572091', '2026-08-09T21:05:48.167634Z']])) as TradeEvent[];
    assert.deepEqual(es.map((t) => t.id), ['1068572091', '1068572092', '1068572093']);
    assert.deepEqual([es[0]!.side, es[0]!.ts, es[0]!.market], ['sell', 1786309548167634, 'spot']);
    assert.deepEqual(failed(es).flat().filter((id) => id === 'T4' || id === 'Q6' || id === 'Q7'), []);
  });

  it('ticker gives a quote with sizes; l2_data a snapshot (1970 event times) and updates', () => {
    const [q] = events('coinbase', { channel: 'ticker', timestamp: '2026-08-09T21:05:48.298032046Z', sequence_num: 10, events: [{ type: 'update', tickers: [{ type: 'ticker', product_id: 'ETH-USD', price: '1919.41', volume_24_h: '19975.95927439', best_bid: '1919.44', best_ask: '1919.49', best_bid_quantity: '0.02858092', best_ask_quantity: '0.07814824' }] }] }) as QuoteEvent[];
    assert.deepEqual([q!.bid, q!.bidSize, q!.ask, q!.askSize, q!.ts], [1919.44, 0.02858092, 1919.49, 0.07814824, 1786309548298032]);
    const [snap, update] = events('coinbase',
      { channel: 'l2_data', client_id: '', timestamp: '2023-02-09T20:32:50.714964855Z', sequence_num: 0, events: [{ type: 'snapshot', product_id: 'BTC-USD', updates: [
        { side: 'bid', event_time: '1970-01-01T00:00:00Z', price_level: '21921.73', new_quantity: '0.06317902' },
        { side: 'offer', event_time: '1970-01-01T00:00:00Z', price_level: '21921.74', new_quantity: '0.5' }] }] },
      { channel: 'l2_data', client_id: '', timestamp: '2023-02-09T20:32:51.714964855Z', sequence_num: 1, events: [{ type: 'update', product_id: 'BTC-USD', updates: [
        { side: 'offer', event_time: '2023-02-09T20:32:51.614964Z', price_level: '21921.74', new_quantity: '0' }] }] },
    ) as BookEvent[];
    assert.deepEqual([snap!.action, snap!.ts, snap!.bids, snap!.asks], ['snapshot', 1675974770714964, [[21921.73, 0.06317902]], [[21921.74, 0.5]]]);
    assert.deepEqual([update!.action, update!.ts, update!.asks], ['delta', 1675974771614964, [[21921.74, 0]]]);
  });
});

describe('Binance COIN-M and Binance.US', () => {
  it('COIN-M: BASE-QUOTE plus the contract, quantities in contracts with the contract size carried', () => {
    const [t, b, l] = events('binance-coinm',
      { e: 'aggTrade', E: 1591261134288, a: 424951, s: 'BTCUSD_200626', p: '9643.5', q: '2', f: 606073, l: 606073, T: 1591261134199, m: false },
      { e: 'depthUpdate', E: 1591270260907, T: 1591270260891, s: 'BTCUSD_200626', ps: 'BTCUSD', U: 17285681, u: 17285702, pu: 17285675, b: [['9517.6', '10']], a: [['9518.5', '45']] },
      { e: 'forceOrder', E: 1591154240950, o: { s: 'ETHUSD_PERP', ps: 'ETHUSD', S: 'SELL', o: 'LIMIT', f: 'IOC', q: '1', p: '425.5', ap: '426.5', X: 'FILLED', l: '1', z: '1', T: 1591154240949 } },
    ) as [TradeEvent, BookEvent, LiquidationEvent];
    assert.deepEqual([t.venue, t.symbol, t.market, t.contractSize, t.size, t.side], ['binance-coinm', 'BTC-USD-200626', 'future', 100, 2, 'buy']);
    assert.deepEqual([b.symbol, b.seq, b.firstSeq, b.prevSeq, b.contractSize], ['BTC-USD-200626', 17285702, 17285681, 17285675, 100]);
    assert.deepEqual([l.symbol, l.market, l.contractSize, l.posSide, l.price], ['ETH-USD-PERP', 'perp', 10, 'long', 426.5]);
  });

  it('COIN-M depth follows the futures rules (pu == previous u); Binance.US the spot rules (U == previous u + 1)', () => {
    const snap = (venue: string, seq: number): BookEvent => ({ v: 1, type: 'book', venue, symbol: 'BTC-USD-PERP', ts: RECV, recvTs: RECV, action: 'snapshot', seq, bids: [[9500, 1]], asks: [[9501, 1]] });
    const delta = (venue: string, first: number, seq: number, prev?: number): BookEvent =>
      ({ v: 1, type: 'book', venue, symbol: 'BTC-USD-PERP', ts: RECV, recvTs: RECV, action: 'delta', firstSeq: first, seq, ...(prev === undefined ? {} : { prevSeq: prev }), bids: [[9500, 2]], asks: [] });
    assert.deepEqual(failed([snap('binance-coinm', 100), delta('binance-coinm', 95, 102, 94), delta('binance-coinm', 103, 105, 102)]).flat(), []);
    assert.deepEqual(failed([snap('binance-coinm', 100), delta('binance-coinm', 95, 102, 94), delta('binance-coinm', 106, 108, 104)])[2], ['Q1']);
    assert.deepEqual(failed([snap('binance-us', 100), delta('binance-us', 101, 103), delta('binance-us', 104, 106)]).flat(), []);
    assert.deepEqual(failed([snap('binance-us', 100), delta('binance-us', 101, 103), delta('binance-us', 105, 106)])[2], ['Q1']);
  });

  it('Binance.US speaks Binance spot\'s protocol', () => {
    const [t] = events('binance-us', { stream: 'btcusd@trade', data: { e: 'trade', E: 1672515782136, s: 'BTCUSD', t: 12345, p: '16500.01', q: '0.001', b: 88, a: 50, T: 1672515782136, m: true, M: true } }) as TradeEvent[];
    assert.deepEqual([t!.venue, t!.symbol, t!.market, t!.side], ['binance-us', 'BTC-USD', 'spot', 'sell']);
  });
});

describe('BitMEX', () => {
  const ts = '2026-08-09T21:26:59.950Z'; // 50 ms before the receive time
  it('trade (taker side), quote, liquidation; XBT is BTC, XBTUSD contracts are 1 USD', () => {
    const [t, q, l] = events('bitmex',
      { table: 'trade', action: 'insert', data: [{ timestamp: ts, symbol: 'XBTUSD', side: 'Buy', size: 100, price: 64000.5, tickDirection: 'PlusTick', trdMatchID: '00000000-006d-1000-0000-000d3e1f3a8c', grossValue: 156249, homeNotional: 0.00156249, foreignNotional: 100 }] },
      { table: 'quote', action: 'insert', data: [{ timestamp: ts, symbol: 'XBTUSD', bidSize: 1000, bidPrice: 64000, askPrice: 64000.5, askSize: 2000 }] },
      { table: 'liquidation', action: 'insert', data: [{ orderID: 'e7a8f1b2-0000-0000-0000-000000000001', symbol: 'XBTUSD', side: 'Sell', price: 63000, leavesQty: 1000 }] },
    ) as [TradeEvent, QuoteEvent, LiquidationEvent];
    assert.deepEqual([t.venue, t.symbol, t.market, t.contractSize, t.side, t.size, t.ts], ['bitmex', 'BTC-USD', 'perp', 1, 'buy', 100, RECV - 50_000]);
    assert.deepEqual([q.bid, q.ask, q.bidSize], [64000, 64000.5, 1000]);
    assert.deepEqual([l.posSide, l.size, l.id], ['long', 1000, 'e7a8f1b2-0000-0000-0000-000000000001']);
  });

  it('orderBookL2: levels keyed by id; updates and deletes without a price resolve it; the book stays consistent', () => {
    const n = createNormalizer('bitmex');
    const out: MarketEvent[] = [];
    const msgs = [
      { info: 'Welcome to the BitMEX Realtime API.', version: '2.0.0', timestamp: ts },
      { success: true, subscribe: 'orderBookL2:XBTUSD', request: { op: 'subscribe', args: ['orderBookL2:XBTUSD'] } },
      { table: 'orderBookL2', action: 'partial', keys: ['symbol', 'id', 'side'], data: [
        { symbol: 'XBTUSD', id: 8799359000, side: 'Sell', size: 700, price: 64010, timestamp: ts },
        { symbol: 'XBTUSD', id: 8799360000, side: 'Sell', size: 5000, price: 64000.5, timestamp: ts },
        { symbol: 'XBTUSD', id: 8799360500, side: 'Buy', size: 3000, price: 63995, timestamp: ts },
        { symbol: 'XBTUSD', id: 8799361000, side: 'Buy', size: 900, price: 63990, timestamp: ts }] },
      { table: 'orderBookL2', action: 'update', data: [{ symbol: 'XBTUSD', id: 8799360000, side: 'Sell', size: 4000, timestamp: ts }] },
      { table: 'orderBookL2', action: 'insert', data: [{ symbol: 'XBTUSD', id: 8799360600, side: 'Buy', size: 10, price: 63994, timestamp: ts }] },
      { table: 'orderBookL2', action: 'delete', data: [{ symbol: 'XBTUSD', id: 8799360500, side: 'Buy' }] },
    ];
    assert.deepEqual(msgs.map((m) => n.normalize(m, RECV, out).kind), ['ignored', 'ignored', 'events', 'events', 'events', 'events']);
    const books = out as BookEvent[];
    assert.deepEqual(books.map((b) => [b.action, b.bids, b.asks]), [
      ['snapshot', [[63995, 3000], [63990, 900]], [[64010, 700], [64000.5, 5000]]],
      ['delta', [], [[64000.5, 4000]]],
      ['delta', [[63994, 10]], []],
      ['delta', [[63995, 0]], []],
    ]);
    assert.deepEqual(failed(books).flat(), []);
    // An update for a level it never saw: reported, not guessed.
    const fresh = createNormalizer('bitmex');
    const d = fresh.normalize({ table: 'orderBookL2', action: 'update', data: [{ symbol: 'XBTUSD', id: 1, side: 'Sell', size: 4 }] }, RECV, []);
    assert.deepEqual(d, { kind: 'unrecognized', reason: 'orderBookL2 update for XBTUSD before its partial' });
  });

  it('dated contracts are futures named by the base', () => {
    const [t] = events('bitmex', { table: 'trade', action: 'insert', data: [{ timestamp: ts, symbol: 'XBTZ24', side: 'Sell', size: 10, price: 66000, trdMatchID: 'x' }] });
    assert.deepEqual([t!.symbol, t!.market], ['BTC-USD-Z24', 'future']);
  });
});

describe('what the venues changed in 2026', () => {
  it('OKX books: a checksum of 0 (OKX stopped computing them in June 2026) is no checksum; the sequence still guards, and the checks pass', () => {
    const ts = String((RECV - 50_000) / 1000);
    const [snap, update] = events('okx',
      { arg: { channel: 'books', instId: 'BTC-USDT' }, action: 'snapshot', data: [{ asks: [['64001', '1', '0', '1']], bids: [['64000', '2', '0', '1']], ts, checksum: 0, seqId: 100, prevSeqId: -1 }] },
      { arg: { channel: 'books', instId: 'BTC-USDT' }, action: 'update', data: [{ asks: [['64001', '0.5', '0', '1']], bids: [], ts, checksum: 0, seqId: 101, prevSeqId: 100 }] },
    ) as [BookEvent, BookEvent];
    assert.equal(snap.checksum, undefined);
    assert.equal(update.checksum, undefined);
    assert.deepEqual([update.seq, update.prevSeq], [101, 100]);
    assert.deepEqual(failed([snap, update]).flat(), [], 'no checksum flag on every update');
    // A real checksum is still checked.
    const [withSum] = events('okx', { arg: { channel: 'books', instId: 'BTC-USDT' }, action: 'update', data: [{ asks: [], bids: [], ts, checksum: -855196043, seqId: 102, prevSeqId: 101 }] }) as [BookEvent];
    assert.equal(withSum.checksum, -855196043);
  });

  it('the notices that a connection\'s server goes down soon (OKX 64008, Binance serverShutdown in both forms) are told apart from other messages', () => {
    const okx = createNormalizer('okx');
    assert.deepEqual(okx.normalize({ event: 'notice', code: '64008', msg: 'The connection will soon be closed for a service upgrade. Please reconnect.', connId: 'a4d3ae55' }, RECV, []), { kind: 'ignored', channel: 'serverShutdown' });
    assert.deepEqual(okx.normalize({ event: 'subscribe', arg: { channel: 'books', instId: 'BTC-USDT' }, connId: 'a4d3ae55' }, RECV, []), { kind: 'ignored', channel: 'subscription' });
    const binance = createNormalizer('binance');
    assert.deepEqual(binance.normalize({ e: 'serverShutdown', E: 1_770_123_456_789 }, RECV, []), { kind: 'ignored', channel: 'serverShutdown' });
    assert.deepEqual(binance.normalize({ event: { e: 'serverShutdown', E: 1_770_123_456_789 } }, RECV, []), { kind: 'ignored', channel: 'serverShutdown' });
  });
});

describe('the schema carries market type and contract size without breaking v1', () => {
  const v1 = { v: 1, type: 'trade', venue: 'binance', symbol: 'BTC-USDT', ts: 1, recvTs: 2, id: '1', price: 1, size: 1, side: 'buy' };
  it('v1 messages without them stay valid; bad values are refused with the field named', () => {
    assert.ok(validateEvent({ ...v1 }).ok);
    assert.ok(validateEvent({ ...v1, market: 'perp', contractSize: '100' }).ok);
    const bad = (extra: object) => { const r = validateEvent({ ...v1, ...extra }); return r.ok ? 'ok' : r.failure.message; };
    assert.equal(bad({ market: 'swap' }), 'market "swap" is not spot|perp|future');
    assert.equal(bad({ contractSize: 0 }), 'contractSize must be a finite number above 0');
    assert.equal(bad({ contractSize: 'NaN' }), 'contractSize must be a finite number above 0');
  });
});
