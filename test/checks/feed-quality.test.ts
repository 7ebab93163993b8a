import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BookEvent, LiquidationEvent, MarketEvent, QuoteEvent, TradeEvent } from '../../src/codec/event.js';
import { CheckEngine } from '../../src/checks/engine.js';
import { ALL_CHECKS } from '../../src/checks/registry.js';
import { DEFAULT_CHECK_CONFIG, type CheckConfig } from '../../src/checks/thresholds.js';

// Issue #14: what real feeds do to the statistical and time checks. Each case is a realistic
// sequence with the verdicts it must get, event by event.

const T0 = 1_700_000_000_000_000;
const SEC = 1_000_000;
let ids = 1;
type At = { venue?: string; symbol?: string; ts: number; recvTs?: number };
const head = (a: At) => ({ v: 1 as const, venue: a.venue ?? 'binance-futures', symbol: a.symbol ?? 'BTC-USDT', ts: a.ts, recvTs: a.recvTs ?? a.ts + 2_000 });
const trade = (price: number, a: At): TradeEvent => ({ ...head(a), type: 'trade', id: String(ids++), price, size: 0.01, side: ids % 2 === 0 ? 'buy' : 'sell' });
const quote = (bid: number, ask: number, a: At): QuoteEvent => ({ ...head(a), type: 'quote', bid, bidSize: 1, ask, askSize: 1 });
const liq = (price: number, a: At): LiquidationEvent => ({ ...head(a), type: 'liquidation', posSide: 'long', price, size: 0.05 });
const delta = (seq: number, prevSeq: number, a: At, bids: BookEvent['bids'] = [[99.9, 1]]): BookEvent =>
  ({ ...head({ venue: 'okx', ...a }), type: 'book', action: 'delta', seq, prevSeq, bids, asks: [[100.1, 1]] });

/** xorshift32: the sequences are random-looking but the same on every run. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 4294967296; };
}

/** Check ids failed on each event, through one engine. */
function verdicts(events: readonly MarketEvent[], config: CheckConfig = DEFAULT_CHECK_CONFIG): string[][] {
  const engine = new CheckEngine(ALL_CHECKS, config);
  return events.map((e) => {
    const o = engine.evaluate(e, 0);
    return ALL_CHECKS.filter((c) => (c.bit < 32 ? (o.failedLo >>> c.bit) & 1 : (o.failedHi >>> (c.bit - 32)) & 1)).map((c) => c.id);
  });
}
/** Indexes (from `from`) of the events `id` failed on. */
const flagged = (v: string[][], id: string, from = 0) => v.map((ids, i) => (i >= from && ids.includes(id) ? i : -1)).filter((i) => i >= 0);

describe('baselines keep learning: a genuine level shift is flagged at its start, then the stream is clean again', () => {
  // Trades every 200 ms around 100 with ±1 bp noise; at trade 300 the level moves 0.7 % for good.
  const rnd = random(7);
  const SHIFT_AT = 300;
  const trades = Array.from({ length: 900 }, (_, i) => trade((i < SHIFT_AT ? 100 : 100.7) * (1 + (rnd() - 0.5) * 2e-4), { ts: T0 + i * 200_000 }));
  const v = verdicts(trades);

  it('A1 (median/MAD outlier): flags the shift for less than half its window (50), then nothing', () => {
    const hits = flagged(v, 'A1');
    assert.ok(hits.length > 0 && hits[0] === SHIFT_AT, `first A1 at the shift: ${hits.slice(0, 5).join(',')}`);
    assert.ok(hits.length <= 25, `A1 on ${hits.length} trades`);
    assert.deepEqual(flagged(v, 'A1', SHIFT_AT + 50), []);
  });

  it('A2 (return z-score): flags the jump once; the returns after it are measured from the new level', () => {
    assert.deepEqual(flagged(v, 'A2'), [SHIFT_AT]);
  });

  it('nothing else fires on the shifted stream once the shift is absorbed', () => {
    const late = v.slice(SHIFT_AT + 50).flat();
    assert.deepEqual(late, []);
  });

  it('C5 (volatility burst): a lasting 10x volatility regime is flagged while it is new, then becomes the baseline', () => {
    // One trade a second: 20 minutes at 1 bp, then 60 minutes at 10 bp per trade.
    const r = random(11);
    let price = 100;
    const events = Array.from({ length: 80 * 60 }, (_, i) => {
      price *= 1 + (r() - 0.5) * 2 * (i < 1200 ? 1e-4 : 1e-3);
      return trade(price, { ts: T0 + i * SEC });
    });
    const c5 = verdicts(events).map((ids, i) => (ids.includes('C5') ? i : -1)).filter((i) => i >= 0);
    assert.ok(c5.length > 0 && c5[0]! >= 1200 && c5[0]! < 1200 + 120, `C5 starts with the regime: ${c5.slice(0, 3).join(',')}`);
    // The slow (1 h) horizon takes the new regime in: quiet long before the hour is over.
    assert.ok(c5.at(-1)! < 1200 + 30 * 60, `C5 still firing at ${c5.at(-1)! - 1200} s into the regime`);
  });

  it('M3 (spread blowout): a venue whose spread widens 18x for good is flagged for less than half the window, then not', () => {
    const quotes = Array.from({ length: 300 }, (_, i) => (i < 100 ? quote(99.99, 100.01, { ts: T0 + i * 100_000 }) : quote(99.82, 100.18, { ts: T0 + i * 100_000 })));
    const m3 = flagged(verdicts(quotes), 'M3');
    assert.equal(m3[0], 100);
    assert.ok(m3.length <= 25, `M3 on ${m3.length} quotes`);
    assert.ok(m3.at(-1)! < 150, `M3 at ${m3.at(-1)}`);
  });

  it('a single bad print is still flagged, and the stream after it is not', () => {
    const r = random(3);
    const events = Array.from({ length: 200 }, (_, i) => trade((i === 120 ? 103 : 100) * (1 + (r() - 0.5) * 2e-4), { ts: T0 + i * 200_000 }));
    const w = verdicts(events);
    assert.ok(w[120]!.includes('A1') && w[120]!.includes('A2'), w[120]!.join(','));
    // The print back to 100 is a return as large (A2), and A3 sees the spike revert; then clean.
    assert.deepEqual(w.slice(122).flat(), []);
  });
});

describe('sparse event types learn their own pace (T5, T7)', () => {
  /** Liquidations as they come: cascades of 2-8 within a second, 1-10 minutes apart. */
  function cascades(seed: number, hours: number, symbol: string, from = T0): LiquidationEvent[] {
    const r = random(seed);
    const out: LiquidationEvent[] = [];
    for (let t = from; t < from + hours * 3_600 * SEC; t += (60 + r() * 540) * SEC) {
      const n = 2 + Math.floor(r() * 7);
      for (let k = 0; k < n; k++) out.push(liq(100, { symbol, ts: t + k * 120_000 }));
    }
    return out;
  }

  it('liquidations on a stream whose trades flow: no T5 or T7 on them', () => {
    const trades = Array.from({ length: 2 * 3_600 * 2 }, (_, i) => trade(100, { ts: T0 + i * 500_000 }));
    const liqs = cascades(5, 2, 'BTC-USDT');
    const events = [...trades, ...liqs].sort((a, b) => a.recvTs - b.recvTs);
    const v = verdicts(events);
    const onLiqs = events.map((e, i) => (e.type === 'liquidation' ? v[i]! : [])).flat();
    assert.ok(liqs.length > 100, `${liqs.length} liquidations`);
    assert.equal(onLiqs.filter((id) => id === 'T5' || id === 'T7').length, 0);
    assert.equal(v.flat().filter((id) => id === 'T5' || id === 'T7').length, 0, 'nor on the trades');
  });

  it('a liquidation-only stream: T5 at most on the first pause after it starts learning (under 1 %), T7 never', () => {
    const liqs = cascades(9, 6, 'ETH-USDT');
    const v = verdicts(liqs);
    const t5 = flagged(v, 'T5');
    assert.ok(t5.length <= Math.ceil(liqs.length / 100), `T5 on ${t5.length} of ${liqs.length}`);
    assert.deepEqual(flagged(v, 'T7'), []);
  });

  it('a dense stream that stops for two minutes is still caught: T5 and T7 on the event that resumes it', () => {
    const before = Array.from({ length: 600 }, (_, i) => trade(100, { ts: T0 + i * 100_000 }));
    const resumed = trade(100, { ts: T0 + 599 * 100_000 + 120 * SEC });
    const v = verdicts([...before, resumed]);
    assert.deepEqual(v.at(-1)!.filter((id) => id === 'T5' || id === 'T7'), ['T7', 'T5']);
  });
});

describe('negative latency is a clock fault (T2), per stream', () => {
  it('a stream 70 ms in the future is flagged on every message; 18 ms (a real clock offset) is not', () => {
    const ahead = Array.from({ length: 50 }, (_, i) => trade(100, { symbol: 'SOL-USDT', ts: T0 + i * SEC, recvTs: T0 + i * SEC - 70_000 }));
    assert.equal(flagged(verdicts(ahead), 'T2').length, 50);
    const offset = Array.from({ length: 50 }, (_, i) => trade(100, { symbol: 'SOL-USDT', ts: T0 + i * SEC, recvTs: T0 + i * SEC - 18_000 }));
    assert.equal(flagged(verdicts(offset), 'T2').length, 0);
  });

  it('the bound is set per venue and per symbol', () => {
    const ahead = Array.from({ length: 10 }, (_, i) => trade(100, { symbol: 'SOL-USDT', ts: T0 + i * SEC, recvTs: T0 + i * SEC - 70_000 }));
    const venue: CheckConfig = { ...DEFAULT_CHECK_CONFIG, venues: { 'binance-futures': { T2: { maxSkewMs: 100 } } } };
    assert.equal(flagged(verdicts(ahead, venue), 'T2').length, 0);
    const symbol: CheckConfig = { ...venue, symbols: { 'binance-futures:SOL-USDT': { T2: { maxSkewMs: 20 } } } };
    assert.equal(flagged(verdicts(ahead, symbol), 'T2').length, 10);
  });
});

describe('identical repeats are not sequence faults', () => {
  const snapshot = (venue: string, seq: number): BookEvent => ({ ...head({ venue, ts: T0 }), type: 'book', action: 'snapshot', seq, bids: [[99.9, 1]], asks: [[100.1, 1]] });

  it('OKX: the same delta twice in a row passes Q3/Q4; a different one with the same seq does not', () => {
    const d = delta(11, 10, { ts: T0 + 1000 });
    const v = verdicts([snapshot('okx', 10), d, { ...d }, delta(12, 11, { ts: T0 + 3000 })]);
    assert.deepEqual(v, [[], [], [], []]);
    const w = verdicts([snapshot('okx', 10), d, delta(11, 9, { ts: T0 + 2000 })]);
    assert.deepEqual(w[2], ['Q3']);
  });

  it('Binance futures: the same depth update twice passes Q1; the next one still has to follow it', () => {
    const bf = (first: number, seq: number, prev: number, ts: number): BookEvent =>
      ({ ...head({ ts }), type: 'book', action: 'delta', firstSeq: first, seq, prevSeq: prev, bids: [[99.9, 1]], asks: [[100.1, 1]] });
    const bridge = bf(95, 100, 94, T0 + 1000);
    const next = bf(101, 103, 100, T0 + 2000);
    assert.deepEqual(verdicts([snapshot('binance-futures', 99), bridge, next, { ...next }, bf(104, 106, 103, T0 + 4000)]), [[], [], [], [], []]);
    assert.deepEqual(verdicts([snapshot('binance-futures', 99), bridge, next, bf(105, 106, 104, T0 + 4000)])[3], ['Q1']);
  });
});

describe('C1 sees the market: C7 sums liquidations over every symbol, per venue and market-wide', () => {
  /** Each liquidation through the engine, with the main thread's sweep after it (as its timer would run). */
  function cascade(events: readonly LiquidationEvent[]): string[][] {
    const engine = new CheckEngine(ALL_CHECKS);
    return events.map((e) => {
      const o = engine.evaluate(e, 0);
      engine.reference.sweep(0, 100, 120 * SEC, 60 * SEC);
      return ALL_CHECKS.filter((c) => (c.bit < 32 ? (o.failedLo >>> c.bit) & 1 : (o.failedHi >>> (c.bit - 32)) & 1)).map((c) => c.id);
    });
  }
  // $60k each (0.6 x $100,000 at C1's default): no symbol reaches C1's per-symbol burst.
  const sixty = (venue: string, symbol: string, ts: number): LiquidationEvent => ({ ...liq(100_000, { venue, symbol, ts }), size: 0.6 });

  it('one venue: 25 symbols of $60k within 25 s fire C7 once the venue passes $1M, C1 never', () => {
    const events = Array.from({ length: 25 }, (_, i) => sixty('binance-futures', `S${i}-USDT`, T0 + i * SEC));
    const v = cascade(events);
    assert.deepEqual(flagged(v, 'C1'), []);
    // The sweep after the 17th ($1.02M) makes the 18th the first one judged against it.
    assert.deepEqual(flagged(v, 'C7'), range(17, 25));
  });

  it('market-wide: three venues of $720k each (none at $1M) fire C7 once the market passes $2M', () => {
    const venues = ['binance-futures', 'bybit', 'okx'];
    const events = Array.from({ length: 36 }, (_, i) => sixty(venues[i % 3]!, `S${Math.floor(i / 3)}-USDT`, T0 + i * 500_000));
    const v = cascade(events);
    assert.deepEqual(flagged(v, 'C1'), []);
    assert.deepEqual(flagged(v, 'C7'), range(34, 36));
  });

  it('the sums cover C1\'s window: liquidations a window apart do not add up', () => {
    const events = Array.from({ length: 25 }, (_, i) => sixty('binance-futures', `S${i}-USDT`, T0 + i * 61 * SEC));
    assert.deepEqual(flagged(cascade(events), 'C7'), []);
  });
});

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
