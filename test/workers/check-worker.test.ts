import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packValues } from '../../src/batch/pack.js';
import { SharedReference } from '../../src/checks/reference.js';
import { DEFAULT_CHECK_CONFIG, DEFAULT_KNOWN_VENUES } from '../../src/checks/thresholds.js';
import { encodeEvent } from '../../src/codec/encode.js';
import { DEFAULT_VENUES, SyntheticMarket, symbolNames } from '../../src/codec/synthetic.js';
import { Verdict, type MarketEvent } from '../../src/codec/event.js';
import type { CheckResult } from '../../src/pool/task.js';
import { checkBatch, configureChecks, warmUp } from '../../workers/check-worker.js';

const START_US = Date.now() * 1000 - 3_000_000;

/** The same synthetic ticks every call: 3,000 events of 4 symbols over the last 3 s. */
function realBatch(): ArrayBuffer {
  const market = new SyntheticMarket(DEFAULT_VENUES, symbolNames(4), 11);
  return packValues(Array.from({ length: 3000 }, (_, i) => encodeEvent(market.next(START_US + i * 1000))));
}

function run(reference: SharedReference, warmupEvents: number): CheckResult {
  configureChecks(DEFAULT_CHECK_CONFIG, reference);
  if (warmupEvents > 0) warmUp(warmupEvents);
  return checkBatch({ batch: realBatch(), topic: 't', partition: 0 });
}

describe('check worker warm-up', () => {
  it('leaves no trace: the real events get the same verdicts, rows and records as without it', () => {
    const cold = run(SharedReference.create(64), 0);
    const warm = run(SharedReference.create(64), 5000);
    assert.equal(warm.count, 3000);
    assert.deepEqual(warm.verdicts, cold.verdicts);
    assert.deepEqual(warm.checkFailures, cold.checkFailures);
    assert.deepEqual(Buffer.from(warm.redisRecords), Buffer.from(cold.redisRecords));
    assert.deepEqual(Buffer.from(warm.copyRows), Buffer.from(cold.copyRows));
  });

  it('publishes nothing to the shared cross-venue reference', () => {
    const sweep = (r: SharedReference) => { r.sweep(Date.now() * 1000, 50, 120_000_000); return r.activeInstruments; };
    const cold = SharedReference.create(64);
    run(cold, 0);
    const reference = SharedReference.create(64);
    configureChecks(DEFAULT_CHECK_CONFIG, reference);
    warmUp(5000);
    assert.equal(sweep(reference), 0);
    checkBatch({ batch: realBatch(), topic: 't', partition: 0 });
    assert.equal(sweep(reference), sweep(cold));
    assert.ok(sweep(cold) > 0);
  });
});

describe('check worker: known venues', () => {
  const nowUs = Date.now() * 1000;
  const trade = (venue: string): MarketEvent => ({ v: 1, type: 'trade', venue, symbol: 'BTC-USDT', ts: nowUs - 2000, recvTs: nowUs - 1000, id: '1', price: 100, size: 1, side: 'buy' });
  const check = (...venues: string[]) => checkBatch({ batch: packValues(venues.map((v) => encodeEvent(trade(v)))), topic: 't', partition: 0 });

  it('dead-letters an event of a venue outside checks.knownVenues (default: the normalizers\' venues)', () => {
    configureChecks(DEFAULT_CHECK_CONFIG, SharedReference.create(64));
    assert.ok(!DEFAULT_KNOWN_VENUES.includes('ftx'));
    const r = check('binance', 'ftx');
    assert.notEqual(r.verdicts[0], Verdict.DEAD_LETTER);
    assert.equal(r.verdicts[1], Verdict.DEAD_LETTER);
    assert.deepEqual(r.deadLetters, [{ index: 1, code: 'SCHEMA_INVALID', message: 'unknown venue "ftx" (not in checks.knownVenues)' }]);
    assert.equal(r.redisEnds[1], r.redisEnds[0], 'no Redis record for it');
    assert.equal(r.copyEnds[1], r.copyEnds[0], 'no COPY row for it');
  });

  it('takes the configured list instead', () => {
    configureChecks({ ...DEFAULT_CHECK_CONFIG, knownVenues: ['ftx'] }, SharedReference.create(64));
    const r = check('binance', 'ftx');
    assert.deepEqual(r.deadLetters.map((d) => [d.index, d.message]), [[0, 'unknown venue "binance" (not in checks.knownVenues)']]);
    assert.notEqual(r.verdicts[1], Verdict.DEAD_LETTER);
    configureChecks(DEFAULT_CHECK_CONFIG);
  });
});

describe('check worker: the result\'s buffer', () => {
  it('holds every array of a result but the batch in one buffer of its own, which the next batch does not touch', () => {
    configureChecks(DEFAULT_CHECK_CONFIG, SharedReference.create(64));
    const first = checkBatch({ batch: realBatch(), topic: 't', partition: 0 });
    const buffer = first.verdicts.buffer;
    for (const a of [first.copyEnds, first.redisEnds, first.checkFailures, first.copyRows, first.redisRecords]) assert.equal(a.buffer, buffer);
    assert.notEqual(first.batch, buffer);
    assert.equal(first.verdicts.length, 3000);
    assert.equal(first.copyEnds.length, 3000);
    assert.equal(first.copyEnds[2999], first.copyRows.length);
    assert.equal(first.redisEnds[2999], first.redisRecords.length);
    const kept = { verdicts: Uint8Array.from(first.verdicts), copyRows: Buffer.from(first.copyRows), redisRecords: Buffer.from(first.redisRecords), failures: Uint32Array.from(first.checkFailures) };
    assert.ok(kept.failures.some((c) => c > 0), 'the synthetic ticks fail some checks');
    // A smaller batch next: its tables are the worker's reused ones, its result a buffer of its own.
    const market = new SyntheticMarket(DEFAULT_VENUES, symbolNames(2), 5);
    const second = checkBatch({ batch: packValues(Array.from({ length: 10 }, (_, i) => encodeEvent(market.next(START_US + i * 1000)))), topic: 't', partition: 1 });
    assert.equal(second.count, 10);
    assert.notEqual(second.verdicts.buffer, buffer);
    assert.equal(second.copyEnds[9], second.copyRows.length);
    assert.deepEqual(Uint8Array.from(first.verdicts), kept.verdicts);
    assert.deepEqual(Buffer.from(first.copyRows), kept.copyRows);
    assert.deepEqual(Buffer.from(first.redisRecords), kept.redisRecords);
    assert.deepEqual(Uint32Array.from(first.checkFailures), kept.failures);
  });
});
