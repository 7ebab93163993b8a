import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import type { BookEvent, MarketEvent } from '../../src/codec/event.js';
import { Verdict } from '../../src/codec/event.js';
import { CheckEngine } from '../../src/checks/engine.js';
import { ALL_CHECKS } from '../../src/checks/registry.js';
import { normalizeRecording } from '../../src/replay/recording.js';
import { recordingFiles } from '../helpers/recordings.js';

/** Failed check ids per event, and the rejected count, over events in receive order. */
function run(events: MarketEvent[]): { failed: string[][]; rejected: number } {
  const engine = new CheckEngine(ALL_CHECKS);
  let rejected = 0;
  const failed = events.map((e) => {
    const o = engine.evaluate(e, 0);
    if (o.verdict === Verdict.REJECTED) rejected++;
    return ALL_CHECKS.filter((c) => (c.bit < 32 ? (o.failedLo >>> c.bit) & 1 : (o.failedHi >>> (c.bit - 32)) & 1)).map((c) => c.id);
  });
  return { failed, rejected };
}

function venueEvents(prefix: string): MarketEvent[] {
  const files = recordingFiles().filter((f) => basename(f).split('.')[0] === prefix);
  return files.flatMap((f) => normalizeRecording(f)).sort((a, b) => a.recvTs - b.recvTs);
}

/** Indexes where `id` fires in `after` but not at the same event in `before` (aligned by identity). */
function newFirings(id: string, before: MarketEvent[], beforeFailed: string[][], after: MarketEvent[], afterFailed: string[][]): number[] {
  const was = new Set(before.filter((_, i) => beforeFailed[i]!.includes(id)));
  return after.map((e, i) => (afterFailed[i]!.includes(id) && !was.has(e) ? i : -1)).filter((i) => i >= 0);
}

const clone = <T>(e: T): T => structuredClone(e);

describe('checks on the real recordings', () => {
  const available = recordingFiles().length > 0;

  // Negative controls: the recordings hold no invalid data. What they do raise is expected:
  // Q8 = Binance depth deltas that arrive before the REST snapshot (the documented procedure
  // buffers them); T3/T6 = Coinbase and OKX replaying trades up to 107 s old at subscribe;
  // no M2: trades print up to 5 bp beyond a 100-300 ms old OKX ticker in a fast market, inside
  // M2's 10 bp floor (40 of 74 trades flagged with one spread alone); no T5: the pauses of illiquid streams (Binance
  // BLZ-ETH books 7.4 s and 6.0 s, RUNE-EUR 19 s; Coinbase SKL-USD trades 5.9 s) are within 10x
  // the 90th-percentile gap of their type, or come before it is learned; A4 = real volume bursts
  // (CTK-USDT seconds of $3-5k against a median second of $10; OKX BTC-USDT on 2022-05-13,
  // 200x its median second). No book checksum fails (Q5 verifies every Kraken and OKX update).
  const expected: Record<string, Record<string, number>> = {
    BINANCE: { Q8: 4 },
    BINANCE_FUTURES: { Q8: 4, A4: 9 },
    BYBIT: {},
    COINBASE: { T3: 14, T6: 7 },
    KRAKEN: {},
    OKX: { T3: 4, T6: 2, A4: 7 },
  };
  for (const [venue, flags] of Object.entries(expected)) {
    it(`${venue}: rejects nothing; raises only the expected flags`, (t) => {
      if (!available) { t.skip('shared/data/cryptofeed not found'); return; }
      const { failed, rejected } = run(venueEvents(venue));
      assert.equal(rejected, 0);
      const counts: Record<string, number> = {};
      for (const ids of failed) for (const id of ids) counts[id] = (counts[id] ?? 0) + 1;
      assert.deepEqual(counts, flags);
    });
  }

  describe('mutations fire the matching check on exactly the mutated event', () => {
    const futures = available ? venueEvents('BINANCE_FUTURES') : [];
    const base = available ? run(futures) : { failed: [], rejected: 0 };
    const deltas = futures.map((e, i) => [e, i] as const).filter(([e, i]) => e.type === 'book' && e.action === 'delta' && e.symbol === 'SUSHI-USDT' && base.failed[i]!.length === 0);

    it('a dropped depth update: Q1 on the next update of that symbol', (t) => {
      if (!available) { t.skip('no recordings'); return; }
      const [, drop] = deltas[20]!;
      const mutated = futures.filter((_, i) => i !== drop);
      const next = mutated.indexOf(deltas[21]![0]);
      const r = run(mutated);
      assert.deepEqual(newFirings('Q1', futures, base.failed, mutated, r.failed), [next]);
    });

    it('two depth updates swapped: Q1 on the first of them', (t) => {
      if (!available) { t.skip('no recordings'); return; }
      const [, a] = deltas[30]!;
      const [, b] = deltas[31]!;
      const mutated = futures.slice();
      [mutated[a], mutated[b]] = [mutated[b]!, mutated[a]!];
      const r = run(mutated);
      assert.deepEqual(newFirings('Q1', futures, base.failed, mutated, r.failed), [a]);
    });

    it('a duplicated trade: Q6 rejects the copy only', (t) => {
      if (!available) { t.skip('no recordings'); return; }
      const i = futures.findIndex((e) => e.type === 'trade');
      const mutated = [...futures.slice(0, i + 1), clone(futures[i]!), ...futures.slice(i + 1)];
      const r = run(mutated);
      assert.deepEqual(r.failed.map((ids, j) => (ids.includes('Q6') ? j : -1)).filter((j) => j >= 0), [i + 1]);
      assert.equal(r.rejected, 1);
    });

    it('a bid put above the ask: M1 rejects that quote only', (t) => {
      if (!available) { t.skip('no recordings'); return; }
      const i = futures.findIndex((e, j) => e.type === 'quote' && j > 200);
      const mutated = futures.map((e) => e);
      const q = clone(futures[i]!) as MarketEvent & { bid: number; ask: number };
      q.bid = q.ask * 1.001;
      mutated[i] = q;
      const r = run(mutated);
      assert.deepEqual(r.failed.map((ids, j) => (ids.includes('M1') ? j : -1)).filter((j) => j >= 0), [i]);
      assert.equal(r.rejected, 1);
    });

    it('a corrupted book level (negative size): V2 rejects that update only', (t) => {
      if (!available) { t.skip('no recordings'); return; }
      const [, i] = deltas[40]!;
      const mutated = futures.map((e) => e);
      const b = clone(futures[i]!) as BookEvent;
      b.bids = [[b.bids[0]?.[0] ?? 1, -5], ...b.bids.slice(1)];
      mutated[i] = b;
      const r = run(mutated);
      assert.deepEqual(r.failed.map((ids, j) => (ids.includes('V2') ? j : -1)).filter((j) => j >= 0), [i]);
    });

    it('a timestamp shifted 10 s ahead: T2 (clock skew) on that event only', (t) => {
      if (!available) { t.skip('no recordings'); return; }
      const i = futures.findIndex((e, j) => e.type === 'trade' && j > 300);
      const mutated = futures.map((e) => e);
      const shifted = clone(futures[i]!);
      shifted.ts += 10_000_000;
      mutated[i] = shifted;
      const r = run(mutated);
      assert.deepEqual(newFirings('T2', futures, base.failed, mutated, r.failed), [i]);
    });

    it('a timestamp shifted 30 s back: T3 (late data) on that event only', (t) => {
      if (!available) { t.skip('no recordings'); return; }
      const i = futures.findIndex((e, j) => e.type === 'quote' && j > 400);
      const mutated = futures.map((e) => e);
      const shifted = clone(futures[i]!);
      shifted.ts -= 30_000_000;
      mutated[i] = shifted;
      const r = run(mutated);
      assert.deepEqual(newFirings('T3', futures, base.failed, mutated, r.failed), [i]);
    });
  });
  describe('book checksums: a corrupted level fails Q5 on exactly that update', () => {
    for (const venue of ['KRAKEN', 'OKX']) {
      it(`${venue}: a level inside the checksummed top of the book, its size changed`, (t) => {
        if (!available) { t.skip('no recordings'); return; }
        const events = venueEvents(venue);
        const base = run(events);
        const top = venue === 'KRAKEN' ? 10 : 25;
        // The first clean delta (after the first 50 events) whose first bid is inside the top of
        // the book the checks rebuilt: changing its size must change the checksum.
        const engine = new CheckEngine(ALL_CHECKS);
        let target = -1;
        for (let i = 0; i < events.length && target < 0; i++) {
          const e = events[i]!;
          if (i > 50 && e.type === 'book' && e.action === 'delta' && e.checksum !== undefined && e.bids.length > 0 && e.bids[0]![1] > 0 && base.failed[i]!.length === 0) {
            const book = engine.state(e.venue, e.symbol).book!;
            const prices = Array.from(book.bids.prices.subarray(0, Math.min(top - 1, book.bids.length)));
            if (prices.length > 0 && e.bids[0]![0] >= prices[prices.length - 1]!) target = i;
          }
          engine.evaluate(e, 0);
        }
        assert.ok(target > 0, 'a delta to corrupt');
        const mutated = events.map((e) => e);
        const b = clone(events[target]!) as BookEvent;
        b.bids = [[b.bids[0]![0], b.bids[0]![1] * 2], ...b.bids.slice(1)];
        mutated[target] = b;
        const r = run(mutated);
        assert.deepEqual(r.failed.map((ids, j) => (ids.includes('Q5') ? j : -1)).filter((j) => j >= 0), [target]);
        assert.equal(r.rejected, 0, 'a checksum failure unsyncs the book; it rejects nothing');
      });
    }
  });

  it('a best bid/ask replayed later: Q2 on the copy only', (t) => {
    if (!available) { t.skip('no recordings'); return; }
    const events = venueEvents('BINANCE_FUTURES');
    const i = events.findIndex((e, j) => e.type === 'quote' && j > 100);
    const copyAt = i + 40;
    const mutated = [...events.slice(0, copyAt), clone(events[i]!), ...events.slice(copyAt)];
    const r = run(mutated);
    assert.deepEqual(r.failed.map((ids, j) => (ids.includes('Q2') ? j : -1)).filter((j) => j >= 0), [copyAt]);
  });
});

