import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { describe, it } from 'node:test';
import type { BookEvent, Level, LiquidationEvent, MarketEvent, QuoteEvent, TradeEvent } from '../../src/codec/event.js';
import { CheckEngine } from '../../src/checks/engine.js';
import { ALL_CHECKS } from '../../src/checks/registry.js';
import { DEFAULT_CHECK_CONFIG, type CheckConfig } from '../../src/checks/thresholds.js';

// Checks added with the book, the shared cross-venue reference and the cascade indicators.
// Every event is built with explicit times: these checks are about time.

const T0 = 1_700_000_000_000_000;
const SEC = 1_000_000;
let ids = 1;
type At = { venue?: string; symbol?: string; ts?: number; recvTs?: number };
const head = (a: At) => ({ v: 1 as const, venue: a.venue ?? 'okx', symbol: a.symbol ?? 'BTC-USDT', ts: a.ts ?? T0, recvTs: a.recvTs ?? a.ts ?? T0 });
const trade = (price: number, a: At = {}, o: Partial<TradeEvent> = {}): TradeEvent => ({ ...head(a), type: 'trade', id: String(ids++), price, size: 1, side: 'buy', ...o });
const quote = (bid: number, ask: number, a: At = {}, o: Partial<QuoteEvent> = {}): QuoteEvent => ({ ...head(a), type: 'quote', bid, bidSize: 1, ask, askSize: 1, ...o });
const book = (action: 'snapshot' | 'delta', bids: Level[], asks: Level[], a: At = {}, o: Partial<BookEvent> = {}): BookEvent => ({ ...head(a), type: 'book', action, seq: 0, bids, asks, ...o });
const liq = (posSide: 'long' | 'short', price: number, a: At = {}): LiquidationEvent => ({ ...head(a), type: 'liquidation', posSide, price, size: 1 });

function idsOf(o: { failedLo: number; failedHi: number }): string[] {
  return ALL_CHECKS.filter((c) => (c.bit < 32 ? (o.failedLo >>> c.bit) & 1 : (o.failedHi >>> (c.bit - 32)) & 1)).map((c) => c.id);
}
/** Check ids failed on the last event, with an engine of its own. */
function lastFailed(events: MarketEvent[], config: CheckConfig = DEFAULT_CHECK_CONFIG): string[] {
  const engine = new CheckEngine(ALL_CHECKS, config);
  let failed: string[] = [];
  for (const e of events) failed = idsOf(engine.evaluate(e, 0));
  return failed;
}
const fires = (id: string, events: MarketEvent[], config?: CheckConfig) => assert.ok(lastFailed(events, config).includes(id), `${id} should fire: ${lastFailed(events, config).join(',')}`);
/** `why` says which edge a silent case sits on. */
const silent = (id: string, events: MarketEvent[], why?: string | CheckConfig, config?: CheckConfig) => {
  const c = typeof why === 'object' ? why : config;
  assert.ok(!lastFailed(events, c).includes(id), `${id} should not fire${typeof why === 'string' ? ` (${why})` : ''}`);
};
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('check catalog, part 2: book, cross-venue, rates and cascade indicators', () => {
  it('V6 liquidation past the touch on the wrong side, beyond 50 bp', () => {
    const q = quote(99.9, 100.1);
    fires('V6', [q, liq('long', 100.1 * 1.0051)]);
    silent('V6', [q, liq('long', 100.1 * 1.0049)]);
    fires('V6', [q, liq('short', 99.9 * 0.9949)]);
    silent('V6', [q, liq('short', 99.9 * 0.9951)]);
    silent('V6', [q, liq('long', 101, { ts: T0 + 11 * SEC })], 'the quote is too old to judge');
  });

  it('T5 flags the event that ends a silence longer than max(5 s, 10 x the p90 gap of its type), learned after 8 gaps', () => {
    const steady = range(40).map((i) => trade(100, { ts: T0 + i * 1000 }));
    const last = T0 + 39 * 1000;
    fires('T5', [...steady, trade(100, { ts: last + 5_001_000 })]);
    silent('T5', [...steady, trade(100, { ts: last + 4_999_000 })]);
    // A stream with 1 s gaps: the limit is 10 s.
    const slow = range(40).map((i) => trade(100, { ts: T0 + i * SEC }));
    silent('T5', [...slow, trade(100, { ts: T0 + 39 * SEC + 9_900_000 })]);
    fires('T5', [...slow, trade(100, { ts: T0 + 39 * SEC + 10_100_000 })]);
    // Eight events (seven gaps): nothing learned yet.
    silent('T5', [...slow.slice(0, 8), trade(100, { ts: T0 + 7 * SEC + 60 * SEC })], 'not learned before 8 gaps');
    fires('T5', [...slow.slice(0, 9), trade(100, { ts: T0 + 8 * SEC + 60 * SEC })]);
  });

  it('Q2 a quote update id that does not increase', () => {
    silent('Q2', [quote(99, 101, {}, { updateId: 5 }), quote(99, 101, {}, { updateId: 6 })]);
    fires('Q2', [quote(99, 101, {}, { updateId: 6 }), quote(99, 101, {}, { updateId: 6 })]);
    fires('Q2', [quote(99, 101, {}, { updateId: 6 }), quote(99, 101, {}, { updateId: 5 })]);
  });

  it('Q5 Kraken checksum: top 10 asks then bids, printed digits without "." and leading zeros', () => {
    const kraken = { venue: 'kraken', symbol: 'XMR-USD' };
    const dp = { priceDp: 2, sizeDp: 8 };
    const bids: Level[] = range(12).map((i) => [250 - i * 0.05, 1 + i]);
    const asks: Level[] = range(12).map((i) => [250.05 + i * 0.05, 0.5 + i]);
    const expected = (b: Level[], a: Level[]) => {
      const digits = (x: number, d: number) => x.toFixed(d).replace('.', '').replace(/^0+/, '');
      const part = (side: Level[]) => side.slice(0, 10).map(([p, s]) => digits(p, 2) + digits(s, 8)).join('');
      return crc32(part([...a].sort((x, y) => x[0] - y[0])) + part([...b].sort((x, y) => y[0] - x[0])));
    };
    const snapshot = book('snapshot', bids, asks, kraken, dp);
    const newBids: Level[] = [...bids.slice(1), [249.99, 3]];
    const good = book('delta', [[250, 0], [249.99, 3]], [], { ...kraken, ts: T0 + 1000 }, { ...dp, checksum: expected(newBids, asks) });
    silent('Q5', [snapshot, good]);
    fires('Q5', [snapshot, { ...good, checksum: expected(newBids, asks) ^ 1 }]);
    // A level beyond the top 10 changes nothing the checksum covers.
    silent('Q5', [snapshot, book('delta', [[249.3, 7]], [], kraken, { ...dp, checksum: expected(bids, asks) })]);
  });

  it('Q5 OKX checksum: top 25 bid:size:ask:size interleaved, signed', () => {
    const bids: Level[] = range(30).map((i) => [8476.98 - i * 0.01, 256 + i]);
    const asks: Level[] = range(3).map((i) => [8477 + i * 0.5, 0.0123 * (i + 1)]);
    const expected = (b: Level[], a: Level[]) => {
      const parts: string[] = [];
      for (let i = 0; i < 25; i++) {
        if (i < b.length) parts.push(`${b[i]![0]}:${b[i]![1]}`);
        if (i < a.length) parts.push(`${a[i]![0]}:${a[i]![1]}`);
      }
      return crc32(parts.join(':')) | 0;
    };
    silent('Q5', [book('snapshot', bids, asks, {}, { checksum: expected(bids, asks) })]);
    const moved: Level[] = [[8477, 1], ...asks.slice(1)];
    const delta = book('delta', [], [[8477, 1]], { ts: T0 + 1000 }, { checksum: expected(bids, moved) });
    silent('Q5', [book('snapshot', bids, asks, {}, { checksum: expected(bids, asks) }), delta]);
    fires('Q5', [book('snapshot', bids, asks, {}, { checksum: expected(bids, asks) }), { ...delta, checksum: expected(bids, asks) }]);
  });

  it('A3 a jump of at least 100 bp that the next trade takes back (within a quarter)', () => {
    const calm = range(5).map((i) => trade(100, { ts: T0 + i * 1000 }));
    const at = (k: number) => ({ ts: T0 + (10 + k) * 1000 });
    fires('A3', [...calm, trade(101, at(0)), trade(100.2, at(1))]);
    silent('A3', [...calm, trade(101, at(0)), trade(100.3, at(1))], 'not back within a quarter');
    silent('A3', [...calm, trade(100.99, at(0)), trade(100, at(1))], 'jump below 100 bp');
    fires('A3', [...calm, trade(99, at(0)), trade(99.8, at(1))]);
  });

  it('A4 notional of the current second above 20x the median second', () => {
    const seconds = range(12).map((i) => trade(100, { ts: T0 + i * SEC }));
    const now = { ts: T0 + 12 * SEC };
    fires('A4', [...seconds, trade(100, now, { size: 20.01 })]);
    silent('A4', [...seconds, trade(100, now, { size: 20 })]);
    silent('A4', [...seconds.slice(0, 9), trade(100, { ts: T0 + 9 * SEC }, { size: 50 })], 'fewer than 10 seconds of history');
  });

  it('A5 message rate above 10x or below 0.1x its baseline', () => {
    // 70 s at 2 messages per second: the baseline is 2/s.
    const warm = range(140).map((i) => trade(100, { ts: T0 + Math.floor(i / 2) * SEC + (i % 2) * 1000 }));
    const burst = (n: number) => range(n).map((j) => trade(100, { ts: T0 + 70 * SEC + j * 100 }));
    fires('A5', [...warm, ...burst(21)]);
    silent('A5', [...warm, ...burst(20)]);
    // The last busy second had 2 messages: 2 / 11 s is below 0.2/s, 2 / 9 s is not.
    fires('A5', [...warm, trade(100, { ts: T0 + 80 * SEC })]);
    silent('A5', [...warm, trade(100, { ts: T0 + 78 * SEC })]);
  });

  it('A6 a mid frozen for 30 quotes and 60 s while the reference moves 20 bp', () => {
    const run = (refStep: number, n: number) => range(n).flatMap((k) => [
      quote(100 + k * refStep - 0.05, 100 + k * refStep + 0.05, { venue: 'binance', ts: T0 + k * 2 * SEC }),
      quote(99.95, 100.05, { ts: T0 + k * 2 * SEC + 1000 }),
    ]);
    fires('A6', run(0.0075, 32)); // reference +23 bp over 62 s
    silent('A6', run(0.005, 32)); // +15.5 bp
    silent('A6', run(0.0075, 29)); // 29 quotes
  });

  it('X1 a venue 30 bp away from the others\' median, excluded from the reference at 100 bp', () => {
    const others = ['binance', 'coinbase', 'kraken'].map((venue, i) => quote(99.95, 100.05, { venue, ts: T0 + i * 1000 }));
    const okx = (mid: number) => quote(mid - 0.01, mid + 0.01, { ts: T0 + 5000 });
    fires('X1', [...others, okx(100.301)]);
    silent('X1', [...others, okx(100.299)]);
    silent('X1', [...others.slice(0, 1), okx(101)], 'one other venue is no median');
    silent('X1', [...others.map((q) => ({ ...q, ts: T0 - 3 * SEC })), okx(101)], 'stale reference');

    const engine = new CheckEngine(ALL_CHECKS);
    for (const e of others) engine.evaluate(e, 0);
    const entry = engine.state('okx', 'BTC-USDT').refEntry;
    engine.evaluate(okx(101.5), 0);
    assert.ok(engine.reference.isExcluded(entry), 'excluded at 150 bp');
    engine.evaluate(okx(100.2), 0);
    assert.ok(engine.reference.isExcluded(entry), 'still out at 20 bp (re-included below 15 bp)');
    engine.evaluate(okx(100.1), 0);
    assert.ok(!engine.reference.isExcluded(entry), 'back in at 10 bp');
  });

  it('X2 quorum: three venues quote the pair but fewer than three are fresh', () => {
    const others = ['binance', 'coinbase', 'kraken'].map((venue) => quote(99.95, 100.05, { venue, ts: T0 }));
    fires('X2', [...others, trade(100, { ts: T0 + 2_001_000 })]);
    silent('X2', [...others, trade(100, { ts: T0 + 1_999_000 })]);
    silent('X2', [...others.slice(0, 2), trade(100, { ts: T0 + 5 * SEC })], 'never had a quorum');
  });

  it('X3 a trade more than 50 bp from the other venues\' median', () => {
    const others = ['binance', 'coinbase'].map((venue) => quote(99.95, 100.05, { venue, ts: T0 }));
    fires('X3', [...others, trade(100.501, { ts: T0 + 1000 })]);
    silent('X3', [...others, trade(100.499, { ts: T0 + 1000 })]);
  });

  it('X4 a perpetual more than 100 bp from the spot venues\' median (its index)', () => {
    const spot = ['binance', 'coinbase'].map((venue) => quote(99.95, 100.05, { venue, ts: T0 }));
    const perp = (price: number) => trade(price, { venue: 'binance-futures', ts: T0 + 1000 });
    fires('X4', [...spot, perp(101.01)]);
    silent('X4', [...spot, perp(100.99)]);
    silent('X4', [...spot, trade(102, { venue: 'okx', ts: T0 + 1000 })], 'spot is not a perpetual');
    fires('X4', [...spot, trade(98.9, { venue: 'okx', symbol: 'BTC-USDT-SWAP', ts: T0 + 1000 })]);
  });

  it('M4 a synced book with an empty side', () => {
    const cb = { venue: 'coinbase' };
    fires('M4', [book('snapshot', [], [[100.1, 1]], cb)]);
    silent('M4', [book('snapshot', [[99.9, 1]], [[100.1, 1]], cb)]);
    fires('M4', [book('snapshot', [[99.9, 1]], [[100.1, 1]], cb), book('delta', [[99.9, 0]], [], cb)]);
  });

  it('M5 depth within 1 % of the mid below a fifth of its median', () => {
    const cb = { venue: 'coinbase' };
    const normal = [book('snapshot', [[99.9, 10], [97, 1]], [[100.1, 10], [102, 1]], cb), ...range(25).map((i) => book('delta', [[99.9, 10]], [], { ...cb, ts: T0 + (i + 1) * SEC }))];
    const now = { ...cb, ts: T0 + 30 * SEC };
    fires('M5', [...normal, book('delta', [[99.9, 1.99]], [[100.1, 1.99]], now)]);
    silent('M5', [...normal, book('delta', [[99.9, 2.01]], [[100.1, 2.01]], now)]);
    silent('M5', [...normal, book('delta', [[99.9, 1]], [[100.1, 1], [100.9, 20]], now)], 'depth further out still counts within 1 %');
  });

  it('C3 taker flow: one-sided and 5x the normal minute', () => {
    const warm = range(150).flatMap((i) => [trade(100, { ts: T0 + i * SEC }, { side: 'buy' }), trade(100, { ts: T0 + i * SEC + 1000 }, { side: 'sell' })]);
    const now = T0 + 150 * SEC;
    fires('C3', [...warm, trade(100, { ts: now }, { side: 'buy', size: 1200 })]);
    silent('C3', [...warm, trade(100, { ts: now }, { side: 'buy', size: 600 }), trade(100, { ts: now + 1 }, { side: 'sell', size: 600 })], 'balanced');
    silent('C3', [...warm, trade(100, { ts: now }, { side: 'buy', size: 10 })], 'one-sided but small');
  });

  it('C5 volatility of the last minute above 4x that of the last hour', () => {
    const config = { ...DEFAULT_CHECK_CONFIG, disabled: ['A1', 'A2', 'A3', 'V5', 'X3'] };
    const calm = range(700).map((i) => trade(i % 2 === 0 ? 100 : 100.01, { ts: T0 + i * SEC }));
    const burst = (step: number) => range(6).map((k) => trade(k % 2 === 0 ? 100 + step : 100, { ts: T0 + (700 + k) * SEC }));
    fires('C5', [...calm, ...burst(0.5)], config);
    silent('C5', [...calm, ...burst(0.03)], config);
    silent('C5', [...calm.slice(0, 500), ...burst(0.5).map((e, k) => ({ ...e, ts: T0 + (500 + k) * SEC }))], config);
  });

  it('C6 breadth: a share of instruments moving together, computed by the sweep', () => {
    const symbols = range(6).map((i) => `S${i}-USDT`);
    const dropAll = (engine: CheckEngine, movers: number) => {
      for (const [i, symbol] of symbols.entries()) {
        engine.evaluate(trade(100, { symbol, ts: T0 + i }), 0);
        engine.evaluate(trade(i < movers ? 98 : 100, { symbol, ts: T0 + 30 * SEC + i }), 0);
      }
      engine.reference.sweep(0, 100, 120 * SEC);
    };
    const probe = (movers: number) => {
      const engine = new CheckEngine(ALL_CHECKS);
      dropAll(engine, movers);
      return idsOf(engine.evaluate(trade(97.9, { symbol: symbols[0], ts: T0 + 31 * SEC }), 0));
    };
    assert.ok(probe(2).includes('C6'), '2 of 6 down = 33 %');
    assert.ok(!probe(1).includes('C6'), '1 of 6 down = 17 %');
  });
});
