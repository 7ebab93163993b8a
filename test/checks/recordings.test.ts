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
    return ALL_CHECKS.filter((c) => (o.failedLo >>> c.bit) & 1).map((c) => c.id);
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
  // M2 = trades printing outside a lagging quote.
  const expected: Record<string, Record<string, number>> = {
    BINANCE: { Q8: 4 },
    BINANCE_FUTURES: { Q8: 4 },
    BYBIT: {},
    COINBASE: { T3: 14, T6: 7, M2: 1 },
    KRAKEN: {},
    OKX: { T3: 4, T6: 2, M2: 40 },
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
});
