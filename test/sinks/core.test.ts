import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { SinkPolicy } from '../../src/config/schema.js';
import { HimariError, ErrorCode } from '../../src/errors.js';
import { Metrics } from '../../src/obs/metrics.js';
import type { EventChunk } from '../../src/sinks/chunk.js';
import { SinkCore, type Batchable, type SinkDriver } from '../../src/sinks/core.js';
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
  batchMaxRows: 4, batchMaxBytes: 1 << 20, batchMaxMs: 20, flushWhenIdle: false, maxInFlightBatches: 2, retry: { initialMs: 1, maxMs: 5 }, probeIntervalMs: 60_000, ...o,
});

function core(driver: SinkDriver, p: SinkPolicy, failures: Array<[number, string]> = []) {
  return new SinkCore(driver, {
    policy: p, metrics: new Metrics({ defaultMetrics: false }), log: pino({ level: 'silent' }),
    onPermanentFailure: (chunk, err) => { failures.push([chunk.firstOffset, (err as Error).message]); return true; },
  });
}

/** Polls a condition of the core every few ms (bounded by the test's own timeout). */
async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
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

  it('abort ends an outage\'s retries at once: flush resolves, the batch stays unacknowledged, nothing else is written', async () => {
    const driver = new RecordingDriver();
    driver.failTimes = 1_000_000;
    const sink = core(driver, policy({ retry: { initialMs: 60_000, maxMs: 60_000 } }));
    const ticket = new OffsetTracker().partition('t', 0).track(0, 3, 1);
    sink.push(fakeChunk(4, 0, ticket));
    await waitFor(() => !sink.healthy);
    // The retry now sleeps up to a minute; abort must not wait for it.
    sink.abort();
    await sink.flush();
    assert.equal(ticket.done, false, 'abandoned: the offsets are not committed, the next start replays them');
    assert.deepEqual(driver.batches, []);
    sink.push(fakeChunk(1, 4, new OffsetTracker().partition('t', 0).track(4, 4, 1)));
    await sink.flush();
    assert.deepEqual(driver.batches, [], 'no write starts after an abort');
  });

  it('abort does not wait for a write on the wire: flush resolves while the driver has not answered', async () => {
    const driver = new RecordingDriver();
    let release: () => void = () => {};
    driver.writeBatch = () => new Promise<void>((resolve) => { release = resolve; });
    const sink = core(driver, policy({ batchMaxMs: 0 }));
    const ticket = new OffsetTracker().partition('t', 0).track(0, 3, 1);
    sink.push(fakeChunk(4, 0, ticket));
    let flushed = false;
    const flushing = sink.flush().then(() => { flushed = true; });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(flushed, false, 'before the abort, flush waits for the write');
    sink.abort();
    await flushing;
    assert.equal(ticket.done, false);
    release();
  });

  it('probes a lane that has not written: a failing probe makes the sink unhealthy, a good one heals it', async () => {
    const driver = new RecordingDriver() as RecordingDriver & { probe(lane: number): Promise<void> };
    let answering = true;
    let probes = 0;
    driver.probe = async () => { probes++; if (!answering) throw new Error('Command timed out'); };
    const sink = core(driver, policy({ probeIntervalMs: 100 }));
    await sink.connect();
    await waitFor(() => probes > 0);
    assert.equal(sink.healthy, true);
    answering = false;
    await waitFor(() => !sink.healthy);
    assert.match(sink.statusText, /memory: failing for \d+ s: Command timed out/);
    answering = true;
    await waitFor(() => sink.healthy);
    await sink.close();
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

  it('writes the lanes concurrently, each partition always in its lane and in order', { timeout: 5000 }, async () => {
    // Two lanes; each write of lane 0 waits until lane 1 has started one: one lane at a time would deadlock.
    const writes: Array<{ lane: number; partitions: number[]; offsets: number[] }> = [];
    let laneOneStarted: () => void = () => {};
    const laneOneWriting = new Promise<void>((r) => { laneOneStarted = r; });
    const driver: SinkDriver = {
      name: 'lanes', lanes: 2, connect: async () => {}, close: async () => {}, isRetriable: () => true,
      writeBatch: async (chunks, lane) => {
        if (lane === 1) laneOneStarted();
        else await laneOneWriting;
        writes.push({ lane, partitions: [...new Set(chunks.map((c) => c.partition))], offsets: chunks.flatMap((c) => range(c.from, c.to).map((i) => c.offset(i))) });
      },
    };
    const sink = core(driver, policy({ batchMaxRows: 2, maxInFlightBatches: 8 }));
    const tracker = new OffsetTracker();
    for (let b = 0; b < 3; b++) {
      for (const partition of [0, 1, 2, 3]) sink.push(fakeChunk(2, b * 2, tracker.partition('t', partition).track(b * 2, b * 2 + 1, 1), partition));
    }
    await sink.flush();
    for (const w of writes) assert.deepEqual(w.partitions.map((p) => p % 2), w.partitions.map(() => w.lane), `lane ${w.lane} got partitions ${w.partitions}`);
    for (const partition of [0, 1, 2, 3]) {
      const offsets = writes.filter((w) => w.partitions.includes(partition)).flatMap((w) => w.offsets);
      assert.deepEqual(offsets, [0, 1, 2, 3, 4, 5], `partition ${partition} in order, once`);
    }
    assert.deepEqual(tracker.takeCommits().map((c) => c.offset), [6, 6, 6, 6]);
  });

  it('backpressure: one lane out of budget pauses the source; an outage in one lane makes the sink unhealthy', { timeout: 5000 }, async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => { release = r; });
    // Lane 1 fails until the test heals it (a count of failures raced the retries' random delays).
    let laneOneDown = true;
    let laneOneFailed: () => void = () => {};
    const firstFailure = new Promise<void>((r) => { laneOneFailed = r; });
    const driver: SinkDriver = {
      name: 'lanes', lanes: 2, connect: async () => {}, close: async () => {}, isRetriable: () => true,
      writeBatch: async (_chunks, lane) => {
        if (lane === 0) { await gate; return; }
        if (laneOneDown) {
          laneOneFailed();
          throw new HimariError(ErrorCode.SINK_WRITE_FAILED, 'connection reset', { retriable: true });
        }
      },
    };
    const sink = core(driver, policy({ batchMaxRows: 1, maxInFlightBatches: 2, retry: { initialMs: 20, maxMs: 20 } }));
    await sink.connect();
    const tracker = new OffsetTracker();
    assert.equal(sink.push(fakeChunk(1, 0, tracker.partition('t', 0).track(0, 0, 1), 0)), true);
    assert.equal(sink.push(fakeChunk(1, 0, tracker.partition('t', 1).track(0, 0, 1), 1)), true, 'lane 1 has its own budget');
    await firstFailure;
    await new Promise((r) => setImmediate(r)); // the core's catch runs after the driver's throw
    assert.equal(sink.healthy, false, 'lane 1 is retrying');
    assert.match(sink.statusText, /connection reset/);
    assert.equal(sink.push(fakeChunk(1, 1, tracker.partition('t', 0).track(1, 1, 1), 0)), false, 'lane 0 has 2 in flight');
    laneOneDown = false;
    release();
    await sink.flush();
    assert.equal(sink.healthy, true);
    assert.deepEqual(tracker.takeCommits().map((c) => [c.partition, c.offset]), [[0, 2], [1, 1]]);
  });
});

/** A one-row item, as a dead letter is: acknowledged through a flag the test reads. */
class Letter implements Batchable<Letter> {
  readonly topic = 't';
  readonly rows = 1;
  readonly bytes = 10;
  acked = false;
  constructor(readonly partition: number, readonly firstOffset: number) {}
  splitFront(): Letter { throw new Error('one row'); }
  ack(): void { this.acked = true; }
}

/** A core whose `landed` hook records each batch it is called with. */
class HookedCore extends SinkCore<Letter> {
  readonly landedBatches: number[][] = [];
  protected override landed(items: readonly Letter[]): void {
    this.landedBatches.push(items.map((l) => l.firstOffset));
  }
}

describe('sink core over another kind of item', () => {
  it('an item refused for good that the handler does not settle stays unacknowledged; the rest is written and acknowledged; landed once per batch', async () => {
    let refusals = 0;
    const written: number[] = [];
    const driver: SinkDriver<Letter> = {
      name: 'letters', connect: async () => {}, close: async () => {}, isRetriable: () => false,
      writeBatch: async (items) => {
        if (items.some((l) => l.firstOffset === 2)) { refusals++; throw new HimariError(ErrorCode.DEAD_LETTER_FAILED, 'refused', { retriable: false }); }
        for (const l of items) written.push(l.firstOffset);
      },
    };
    const refused: Array<[number, string]> = [];
    const sink = new HookedCore(driver, {
      policy: policy({ batchMaxRows: 4 }), metrics: new Metrics({ defaultMetrics: false }), log: pino({ level: 'silent' }),
      onPermanentFailure: (item, err) => { refused.push([item.firstOffset, (err as HimariError).code]); return false; },
    });
    const letters = [0, 1, 2, 3].map((o) => new Letter(o % 2, o));
    for (const l of letters) sink.push(l);
    await sink.flush();
    assert.deepEqual(refused, [[2, 'DEAD_LETTER_FAILED']]);
    assert.deepEqual(written.sort((a, b) => a - b), [0, 1, 3]);
    assert.deepEqual(letters.map((l) => l.acked), [true, true, false, true], 'the refused one is never acknowledged');
    assert.deepEqual(sink.landedBatches, [[0, 1, 3]], 'one call for the batch, without the unsettled item');
    assert.ok(refusals >= 2, 'bisection isolated it');
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
