import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Verdict, type BookEvent, type LiquidationEvent, type MarketEvent, type QuoteEvent, type TradeEvent } from '../../src/codec/event.js';
import { CheckEngine } from '../../src/checks/engine.js';
import { ALL_CHECKS, checkById } from '../../src/checks/registry.js';
import { checkConfigProblems, DEFAULT_CHECK_CONFIG, type CheckConfig } from '../../src/checks/thresholds.js';

const T0 = 1_700_000_000_000_000;
let clock = 0;
function base(venue = 'okx', symbol = 'BTC-USDT', dtUs = 1000) {
  clock += dtUs;
  return { v: 1 as const, venue, symbol, ts: T0 + clock, recvTs: T0 + clock + 100 };
}
let tradeId = 1000;
const trade = (o: Partial<TradeEvent> = {}, venue?: string): TradeEvent => ({ ...base(venue), type: 'trade', id: String(tradeId++), price: 100, size: 1, side: 'buy', ...o });
const quote = (o: Partial<QuoteEvent> = {}, venue?: string): QuoteEvent => ({ ...base(venue), type: 'quote', bid: 99.9, bidSize: 1, ask: 100.1, askSize: 1, ...o });
const book = (o: Partial<BookEvent> = {}, venue?: string): BookEvent => ({ ...base(venue), type: 'book', action: 'delta', seq: 1, bids: [[99.9, 1]], asks: [[100.1, 1]], ...o });
const liq = (o: Partial<LiquidationEvent> = {}): LiquidationEvent => ({ ...base(), type: 'liquidation', posSide: 'long', price: 100, size: 1, ...o });

/** Runs events through a fresh engine; returns the ids of the checks that failed on the last one. */
function failedOn(events: MarketEvent[], config: CheckConfig = DEFAULT_CHECK_CONFIG): string[] {
  const engine = new CheckEngine(ALL_CHECKS, config);
  let ids: string[] = [];
  for (const e of events) {
    const o = engine.evaluate(e, 0);
    ids = ALL_CHECKS.filter((c) => (c.bit < 32 ? (o.failedLo >>> c.bit) & 1 : (o.failedHi >>> (c.bit - 32)) & 1)).map((c) => c.id);
  }
  return ids;
}
const fires = (id: string, events: MarketEvent[], config?: CheckConfig) => assert.ok(failedOn(events, config).includes(id), `${id} should fire: ${failedOn(events, config).join(',')}`);
const silent = (id: string, events: MarketEvent[], config?: CheckConfig) => assert.ok(!failedOn(events, config).includes(id), `${id} should not fire`);
const times = (n: number, f: () => MarketEvent) => Array.from({ length: n }, f);

describe('check catalog: each check fires at its threshold and not below', () => {
  it('has unique ids and bits, thresholds with descriptions, every group of the catalog', () => {
    assert.equal(new Set(ALL_CHECKS.map((c) => c.id)).size, ALL_CHECKS.length);
    assert.equal(new Set(ALL_CHECKS.map((c) => c.bit)).size, ALL_CHECKS.length);
    for (const c of ALL_CHECKS) for (const [name, t] of Object.entries(c.thresholds)) assert.ok(t.description.length > 5 && t.min <= t.default && t.default <= t.max, `${c.id}.${name}`);
    assert.deepEqual([...new Set(ALL_CHECKS.map((c) => c.group))].sort(), ['cascade', 'cross-venue', 'microstructure', 'sequence', 'statistics', 'time', 'value']);
  });

  it('V1 price > 0', () => {
    fires('V1', [trade({ price: 0 })]);
    silent('V1', [trade({ price: 1e-12 })]);
    fires('V1', [quote({ bid: -1 })]);
    fires('V1', [book({ asks: [[0, 1]] })]);
  });

  it('V2 size > 0 (book size 0 deletes a level)', () => {
    fires('V2', [trade({ size: 0 })]);
    silent('V2', [trade({ size: 1e-12 })]);
    silent('V2', [book({ bids: [[99, 0]] })]);
    fires('V2', [book({ bids: [[99, -1]] })]);
  });

  it('V4 notional limit', () => {
    silent('V4', [trade({ price: 1e5, size: 1e4 })]);
    fires('V4', [trade({ price: 1e5, size: 1e4 + 1 })]);
  });

  it('V5 price band x5 / x0.2 around the last trade', () => {
    silent('V5', [trade({ price: 100 }), trade({ price: 500 })]);
    fires('V5', [trade({ price: 100 }), trade({ price: 500.01 })]);
    silent('V5', [trade({ price: 100 }), trade({ price: 20 })]);
    fires('V5', [trade({ price: 100 }), trade({ price: 19.99 })]);
  });

  it('V7 off-book prints are flagged', () => {
    fires('V7', [trade({ offBook: true })]);
    silent('V7', [trade()]);
  });

  it('T1 timestamp within a day before and a minute after receipt, in µs', () => {
    const b = base();
    silent('T1', [trade({ ts: b.recvTs - 86_400_000_000, recvTs: b.recvTs })]);
    silent('T1', [trade({ ts: b.recvTs + 60_000_000, recvTs: b.recvTs })]);
    fires('T1', [trade({ ts: b.recvTs - 86_400_000_001, recvTs: b.recvTs })]);
    fires('T1', [trade({ ts: b.recvTs + 60_000_001, recvTs: b.recvTs })]);
    fires('T1', [trade({ ts: Math.floor(b.recvTs / 1000), recvTs: b.recvTs })], undefined); // milliseconds by mistake
  });

  it('T2 negative latency above 50 ms', () => {
    const b = base();
    silent('T2', [trade({ ts: b.recvTs + 50_000, recvTs: b.recvTs })]);
    fires('T2', [trade({ ts: b.recvTs + 50_001, recvTs: b.recvTs })]);
  });

  it('T3 late data above 2 s', () => {
    const b = base();
    silent('T3', [quote({ ts: b.recvTs - 2_000_000, recvTs: b.recvTs })]);
    fires('T3', [quote({ ts: b.recvTs - 2_000_001, recvTs: b.recvTs })]);
  });

  it('T4 out of order within a stream type', () => {
    const a = trade();
    fires('T4', [a, trade({ ts: a.ts - 1 })]);
    silent('T4', [a, trade({ ts: a.ts })]);
    silent('T4', [a, quote({ ts: a.ts - 10 })]); // another stream type
  });

  it('T6 stale trade in the first 30 s of a stream', () => {
    const b = base();
    fires('T6', [trade({ ts: b.recvTs - 5_000_001, recvTs: b.recvTs })]);
    silent('T6', [trade({ ts: b.recvTs - 5_000_000, recvTs: b.recvTs })]);
    const first = trade();
    silent('T6', [first, trade({ recvTs: first.recvTs + 31_000_000, ts: first.recvTs + 31_000_000 - 6_000_000 })]);
  });

  it('T7 gap longer than 60 s (once the type\'s pace is learned), and baselines restart before the checks judge it', () => {
    // Thirty trades 1 s apart around 100: the trade type's silence limit is learned (10 s, under
    // T7's 60 s), and A1's and A2's baselines are warm.
    const steady = (): TradeEvent[] => {
      const a = trade();
      return Array.from({ length: 30 }, (_, i) => trade({ recvTs: a.recvTs + i * 1_000_000, ts: a.ts + i * 1_000_000, price: i % 2 === 0 ? 100 : 100.01 }));
    };
    const after = (s: TradeEvent[], gapUs: number, o: Partial<TradeEvent> = {}) => trade({ recvTs: s.at(-1)!.recvTs + gapUs, ts: s.at(-1)!.ts + gapUs, ...o });
    let s = steady();
    silent('T7', [...s, after(s, 60_000_000)]);
    s = steady();
    fires('T7', [...s, after(s, 60_000_001)]);
    // A type's second event: no pace to tell a gap from.
    const a = trade();
    silent('T7', [a, trade({ recvTs: a.recvTs + 120_000_000, ts: a.ts + 120_000_000 })]);
    // After the gap a 10x jump is not a price-band violation: the baseline restarted...
    s = steady();
    silent('V5', [...s, after(s, 120_000_000, { price: 1000 }), after(s, 120_000_100, { price: 1001 })]);
    // ...and the first event after the gap is judged against the fresh baseline already: a normal
    // price a day later is no outlier, whatever the price did before the gap.
    s = steady();
    const day = 86_400_000_000;
    const shifted = after(s, day, { price: 103 });
    const judged = failedOn([...s, shifted]);
    assert.ok(judged.includes('T7'), judged.join(','));
    for (const id of ['A1', 'A2', 'C5', 'V5']) assert.ok(!judged.includes(id), `${id} on the first event after the gap: ${judged.join(',')}`);
    // Without the reset the same trade is an outlier against the day-old baseline.
    const stale = failedOn([...s, shifted], { ...DEFAULT_CHECK_CONFIG, disabled: ['T7'] });
    assert.ok(stale.includes('A1') && stale.includes('A2'), stale.join(','));
  });

  it('Q1 Binance depth: bridge, then U == u + 1 (spot) / pu == u (futures)', () => {
    const snap = (venue: string) => book({ action: 'snapshot', seq: 100 }, venue);
    silent('Q1', [snap('binance'), book({ firstSeq: 99, seq: 105 }, 'binance'), book({ firstSeq: 106, seq: 110 }, 'binance')]);
    fires('Q1', [snap('binance'), book({ firstSeq: 99, seq: 105 }, 'binance'), book({ firstSeq: 107, seq: 110 }, 'binance')]);
    fires('Q1', [snap('binance'), book({ firstSeq: 102, seq: 105 }, 'binance')]); // does not bridge lastUpdateId + 1
    silent('Q1', [snap('binance'), book({ firstSeq: 90, seq: 100 }, 'binance')]); // stale: dropped
    silent('Q1', [snap('binance-futures'), book({ firstSeq: 95, seq: 100, prevSeq: 94 }, 'binance-futures'), book({ firstSeq: 101, seq: 103, prevSeq: 100 }, 'binance-futures')]);
    fires('Q1', [snap('binance-futures'), book({ firstSeq: 95, seq: 100, prevSeq: 94 }, 'binance-futures'), book({ firstSeq: 102, seq: 103, prevSeq: 101 }, 'binance-futures')]);
  });

  it('Q3 prevSeq continuity (OKX)', () => {
    silent('Q3', [book({ action: 'snapshot', seq: 10 }), book({ seq: 11, prevSeq: 10 })]);
    fires('Q3', [book({ action: 'snapshot', seq: 10 }), book({ seq: 12, prevSeq: 11 })]);
  });

  it('Q4 sequence going backwards', () => {
    silent('Q4', [book({ action: 'snapshot', seq: 10 }, 'bybit'), book({ seq: 10 }, 'bybit')]);
    fires('Q4', [book({ action: 'snapshot', seq: 10 }, 'bybit'), book({ seq: 9 }, 'bybit')]);
  });

  it('Q6 duplicate trade id (by id, not by payload)', () => {
    fires('Q6', [trade({ id: 'x1' }), trade({ id: 'x1', price: 101 })]);
    silent('Q6', [trade({ id: 'x1' }), trade({ id: 'x2', price: 100 })]);
  });

  it('Q7 trade id gap on contiguous venues only', () => {
    silent('Q7', [trade({ id: '10' }, 'binance'), trade({ id: '11' }, 'binance')]);
    fires('Q7', [trade({ id: '10' }, 'binance'), trade({ id: '12' }, 'binance')]);
    silent('Q7', [trade({ id: '10' }, 'okx'), trade({ id: '12' }, 'okx')]);
  });

  it('Q8 delta before any snapshot; a resync unsyncs the book until the next snapshot', () => {
    fires('Q8', [book({ seq: 5 })]);
    silent('Q8', [book({ action: 'snapshot', seq: 5 }), book({ seq: 6 })]);
    fires('Q8', [book({ action: 'snapshot', seq: 10 }), book({ seq: 12, prevSeq: 11 }), book({ seq: 13, prevSeq: 12 })]);
  });

  it('M1 crossed quote or snapshot rejects; locked is allowed', () => {
    fires('M1', [quote({ bid: 100.2, ask: 100.1 })]);
    silent('M1', [quote({ bid: 100.1, ask: 100.1 })]);
    fires('M1', [book({ action: 'snapshot', bids: [[101, 1]], asks: [[100, 1]] })]);
    const engine = new CheckEngine(ALL_CHECKS);
    assert.equal(engine.evaluate(quote({ bid: 100.2, ask: 100.1 }), 0).verdict, Verdict.REJECTED);
  });

  it('M2 trade beyond one spread outside a recent quote', () => {
    const q = quote({ bid: 99, ask: 100 });
    silent('M2', [q, trade({ price: 101, ts: q.ts + 1 })]);
    fires('M2', [q, trade({ price: 101.01, ts: q.ts + 1 })]);
    silent('M2', [q, trade({ price: 105, ts: q.ts + 500_001 })]); // quote too old to judge
    // A one-tick spread: the margin is 10 bp of the price, not one tick.
    const tight = quote({ bid: 29_999.9, ask: 30_000 });
    silent('M2', [tight, trade({ price: 30_030, ts: tight.ts + 1 })]);
    fires('M2', [tight, trade({ price: 30_030.1, ts: tight.ts + 1 })]);
  });

  it('M3 spread blowout vs the median spread', () => {
    const normal = times(25, () => quote({ bid: 99.75, ask: 100 }));
    silent('M3', [...normal, quote({ bid: 97.5, ask: 100 })]); // exactly 10x
    fires('M3', [...normal, quote({ bid: 97.49, ask: 100 })]);
    silent('M3', [...times(10, () => quote({ bid: 99.75, ask: 100 })), quote({ bid: 90, ask: 100 })]); // too few samples
  });

  it('A1 robust outlier beyond 10 MADs', () => {
    let i = 0;
    // Median 100, MAD 0.25: ten MADs is 2.5.
    const calm = times(30, () => trade({ price: 100 + ((i++ % 5) - 2) * 0.25 }));
    silent('A1', [...calm, trade({ price: 102.5 })]);
    fires('A1', [...calm, trade({ price: 102.51 })]);
  });

  it('A2 return z-score against EWMA volatility (floored at 2 bp)', () => {
    const calm = times(30, () => trade({ price: 100 }));
    silent('A2', [...calm, trade({ price: 100 * Math.exp(0.0012) - 1e-9 })]);
    fires('A2', [...calm, trade({ price: 100 * Math.exp(0.00121) })]);
  });

  it('C1 liquidation burst: $100k in 60 s', () => {
    silent('C1', [liq({ price: 100, size: 500 }), liq({ price: 100, size: 499 })]);
    fires('C1', [liq({ price: 100, size: 500 }), liq({ price: 100, size: 500 })]);
    const first = liq({ price: 100, size: 500 });
    silent('C1', [first, liq({ price: 100, size: 500, ts: first.ts + 60_000_001, recvTs: first.recvTs + 60_000_001 })]);
  });

  it('C2 one-sided liquidation run of 20', () => {
    silent('C2', [...times(19, () => liq({ posSide: 'long', size: 0.01 }))]);
    fires('C2', [...times(20, () => liq({ posSide: 'long', size: 0.01 }))]);
    silent('C2', [...times(19, () => liq({ posSide: 'long', size: 0.01 })), liq({ posSide: 'short', size: 0.01 })]);
  });

  it('C4 fast move: 100 bp below the 60 s high', () => {
    silent('C4', [trade({ price: 100 }), trade({ price: 99.01 })]);
    fires('C4', [trade({ price: 100 }), trade({ price: 99 })]);
    const top = trade({ price: 100 });
    silent('C4', [top, trade({ price: 99.5, ts: top.ts + 30_000_000 }), trade({ price: 98.6, ts: top.ts + 61_000_000 })]);
  });
});

describe('check configuration', () => {
  it('thresholds resolve default < global < venue < symbol', () => {
    const engine = new CheckEngine(ALL_CHECKS, {
      disabled: [], thresholds: { T2: { maxSkewMs: 100 } }, venues: { kraken: { T2: { maxSkewMs: 300 } } }, symbols: { 'kraken:XMR-USD': { T2: { maxSkewMs: 400 } } },
    });
    const idx = ALL_CHECKS.indexOf(checkById('T2')!);
    assert.equal(engine.state('okx', 'BTC-USDT').thresholds[idx]!.maxSkewMs, 100);
    assert.equal(engine.state('kraken', 'BTC-USD').thresholds[idx]!.maxSkewMs, 300);
    assert.equal(engine.state('kraken', 'XMR-USD').thresholds[idx]!.maxSkewMs, 400);
    assert.equal(engine.state('binance', 'BTC-USDT').thresholds[ALL_CHECKS.indexOf(checkById('Q7')!)]!.contiguous, 1, 'venue default');
  });

  it('a disabled check does not run', () => {
    silent('M1', [quote({ bid: 101, ask: 100 })], { ...DEFAULT_CHECK_CONFIG, disabled: ['M1'] });
  });

  it('names every bad key: unknown check, unknown threshold, out of range, bad symbol key', () => {
    const problems = checkConfigProblems({
      disabled: ['Z9'], thresholds: { T2: { maxSkew: 1 }, T3: { maxLatencyMs: -5 } }, venues: { okx: { Q42: {} } }, symbols: { 'BTC-USDT': {} },
    }, ALL_CHECKS);
    assert.deepEqual(problems.map((p) => p.split(':')[0]), ['checks.disabled', 'checks.thresholds.T2.maxSkew', 'checks.thresholds.T3.maxLatencyMs', 'checks.venues.okx.Q42', 'checks.symbols.BTC-USDT']);
  });

  it('keeps memory bounded: idle symbols are evicted', () => {
    const engine = new CheckEngine(ALL_CHECKS);
    for (let i = 0; i < 100; i++) engine.evaluate(trade({ symbol: `S${i}` } as Partial<TradeEvent>), 0);
    assert.equal(engine.symbols, 100);
    assert.equal(engine.evictIdle(T0 + clock + 10_000_000_000, 3_600_000_000), 100);
    assert.equal(engine.symbols, 0);
  });
});
