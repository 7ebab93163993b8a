import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { SinkPolicy } from '../../src/config/schema.js';
import { HimariError, ErrorCode } from '../../src/errors.js';
import { Metrics } from '../../src/obs/metrics.js';
import type { EventChunk } from '../../src/sinks/chunk.js';
import { SinkCore, type SinkDriver } from '../../src/sinks/core.js';
import { OffsetTracker } from '../../src/source/offset-tracker.js';
import { fakeChunk } from '../helpers/chunks.js';

/** In-memory driver: records the offsets of every batch; fails on demand. */
class RecordingDriver implements SinkDriver {
  readonly name = 'memory';
  batches: number[][] = [];
  failTimes = 0;
  poisonOffset = -1;
  connects = 0;
  async connect(): Promise<void> { this.connects++; }
  async writeBatch(chunks: readonly EventChunk[]): Promise<void> {
    const offsets: number[] = [];
    for (const c of chunks) for (let i = c.from; i < c.to; i++) offsets.push(c.offset(i));
    if (this.failTimes > 0) {
      this.failTimes--;
      throw new HimariError(ErrorCode.SINK_WRITE_FAILED, 'connection refused', { retriable: true });
    }
    if (offsets.includes(this.poisonOffset)) throw new HimariError(ErrorCode.SINK_WRITE_FAILED, 'value out of range', { retriable: false });
    this.batches.push(offsets);
  }
  isRetriable(err: unknown): boolean { return (err as HimariError).retriable; }
  async close(): Promise<void> {}
}

const policy = (o: Partial<SinkPolicy> = {}): SinkPolicy => ({
  batchMaxRows: 4, batchMaxBytes: 1 << 20, batchMaxMs: 20, flushWhenIdle: false, maxInFlightBatches: 2, retry: { initialMs: 1, maxMs: 5 }, ...o,
});

function core(driver: SinkDriver, p: SinkPolicy, failures: Array<[number, string]> = []) {
  return new SinkCore(driver, {
    policy: p, metrics: new Metrics({ defaultMetrics: false }), log: pino({ level: 'silent' }),
    onPermanentFailure: async (chunk, i, err) => { failures.push([chunk.offset(i), (err as Error).message]); },
  });
}

describe('sink core', () => {
  it('flushes at the row cap, splitting a chunk, and acks the batch once every piece landed', async () => {
    const driver = new RecordingDriver();
    const sink = core(driver, policy());
    const tracker = new OffsetTracker();
    const ticket = tracker.partition('t', 0).track(0, 9, 1);
    sink.push(fakeChunk(10, 0, ticket));
    await sink.flush();
    assert.deepEqual(driver.batches, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    assert.deepEqual(tracker.takeCommits(), [{ topic: 't', partition: 0, offset: 10 }]);
  });

  it('flushes a partial batch after batchMaxMs', async () => {
    const driver = new RecordingDriver();
    const sink = core(driver, policy({ batchMaxMs: 15 }));
    const ticket = new OffsetTracker().partition('t', 0).track(0, 1, 1);
    sink.push(fakeChunk(2, 0, ticket));
    assert.deepEqual(driver.batches, []);
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(driver.batches, [[0, 1]]);
    assert.equal(ticket.done, true);
  });

  it('writes at once when idle, and batches what arrives while a write is in flight (flushWhenIdle)', async () => {
    const driver = new RecordingDriver();
    const sink = core(driver, policy({ flushWhenIdle: true, batchMaxRows: 100, batchMaxMs: 1000 }));
    const p = new OffsetTracker().partition('t', 0);
    sink.push(fakeChunk(1, 0, p.track(0, 0, 1)));
    sink.push(fakeChunk(2, 1, p.track(1, 2, 1)));
    sink.push(fakeChunk(3, 3, p.track(3, 5, 1)));
    await sink.flush();
    assert.deepEqual(driver.batches, [[0], [1, 2, 3, 4, 5]]);
  });

  it('retries retriable errors, then reports healthy again', async () => {
    const driver = new RecordingDriver();
    driver.failTimes = 3;
    const sink = core(driver, policy({ batchMaxRows: 2 }));
    const ticket = new OffsetTracker().partition('t', 0).track(0, 1, 1);
    sink.push(fakeChunk(2, 0, ticket));
    await sink.flush();
    assert.deepEqual(driver.batches, [[0, 1]]);
    assert.equal(ticket.done, true);
    assert.equal(driver.failTimes, 0);
  });

  it('isolates a permanently refused event by bisection; the rest is written', async () => {
    const driver = new RecordingDriver();
    driver.poisonOffset = 5;
    const failures: Array<[number, string]> = [];
    const sink = core(driver, policy({ batchMaxRows: 8 }), failures);
    const tracker = new OffsetTracker();
    const ticket = tracker.partition('t', 0).track(0, 7, 1);
    sink.push(fakeChunk(8, 0, ticket));
    await sink.flush();
    assert.deepEqual(failures, [[5, 'value out of range']]);
    assert.deepEqual(driver.batches.flat().sort((a, b) => a - b), [0, 1, 2, 3, 4, 6, 7]);
    assert.deepEqual(tracker.takeCommits(), [{ topic: 't', partition: 0, offset: 8 }]);
  });

  it('reports backpressure when the in-flight budget is used, and drains', async () => {
    const driver = new RecordingDriver();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => { release = r; });
    const slow: SinkDriver = { ...driver, name: 'slow', connect: async () => {}, close: async () => {}, isRetriable: () => true,
      writeBatch: async (c) => { await gate; return driver.writeBatch(c); } };
    const sink = core(slow, policy({ batchMaxRows: 1, maxInFlightBatches: 2 }));
    const tracker = new OffsetTracker();
    const p = tracker.partition('t', 0);
    assert.equal(sink.push(fakeChunk(1, 0, p.track(0, 0, 1))), true);
    assert.equal(sink.push(fakeChunk(1, 1, p.track(1, 1, 1))), false, 'second batch fills the budget of 2');
    const drained = new Promise<void>((r) => sink.once('drain', () => r()));
    release();
    await drained;
    await sink.flush();
    assert.deepEqual(driver.batches, [[0], [1]]);
  });
});
