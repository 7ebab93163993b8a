import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { encodeEvent } from '../../src/codec/encode.js';
import { Verdict, type MarketEvent } from '../../src/codec/event.js';
import { Metrics } from '../../src/obs/metrics.js';
import { Dispatcher, type DispatchedTask } from '../../src/pool/dispatcher.js';
import type { CheckResult } from '../../src/pool/task.js';
import { CheckWorkerPool } from '../../src/pool/worker-pool.js';
import { packConsumed, type ConsumedMessage } from '../../src/source/consumed-batch.js';
import { OffsetTracker } from '../../src/source/offset-tracker.js';

const WORKER = fileURLToPath(new URL('../../workers/check-worker.js', import.meta.url));

function trade(i: number, symbol: string): MarketEvent {
  const ts = 1_790_000_000_000_000 + i * 1000;
  return { v: 1, type: 'trade', venue: 'binance', symbol, ts, recvTs: ts + 100, id: String(i), price: 100, size: 1, side: 'buy' };
}

function message(topic: string, partition: number, offset: number, value: Buffer | null = encodeEvent(trade(offset, `${topic.toUpperCase()}P${partition}-USDT`))): ConsumedMessage {
  return { topic, partition, offset, value, timestamp: Date.now() - 5, key: null };
}

/**
 * The dispatcher on the real check workers: partitions keep their order and their slot, a task
 * takes what waits up to maxBatchMessages, each part has its offset ticket, backpressure is a
 * value, and a revoked partition's backlog goes.
 */
describe('Dispatcher (real worker threads)', () => {
  const metrics = new Metrics({ defaultMetrics: false });
  const pool = new CheckWorkerPool<DispatchedTask>({ filename: WORKER, threads: 2, taskRetries: 0, log: pino({ level: 'silent' }), metrics });
  after(() => pool.destroy());

  function setup(maxBatchMessages: number): { dispatcher: Dispatcher; tracker: OffsetTracker; tasks: Array<{ result: CheckResult; task: DispatchedTask }>; failures: Error[] } {
    const tracker = new OffsetTracker();
    const tasks: Array<{ result: CheckResult; task: DispatchedTask }> = [];
    const failures: Error[] = [];
    const dispatcher = new Dispatcher({ pool, tracker, metrics, maxBatchMessages, maxMessageBytes: 1 << 20 });
    pool.connect(dispatcher, {
      onResult: (result, task) => { tasks.push({ result, task }); dispatcher.recycle(result.batch); },
      onFailure: (err) => failures.push(err),
    });
    return { dispatcher, tracker, tasks, failures };
  }

  async function settle(tasks: unknown[], n: number): Promise<void> {
    for (let i = 0; i < 500 && tasks.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  }

  it('checks every message once, partitions in order, each part with its ticket and send time', async () => {
    const { dispatcher, tracker, tasks, failures } = setup(50);
    const topic = 'd1';
    // Consume calls interleave partitions, as librdkafka hands them over.
    const calls: ConsumedMessage[][] = [];
    for (let c = 0; c < 6; c++) calls.push([...Array.from({ length: 30 }, (_, i) => message(topic, c % 3, Math.floor(c / 3) * 30 + i))]);
    for (const call of calls) dispatcher.dispatch(packConsumed(call));
    await settle(tasks, 1);
    for (let i = 0; i < 100 && tasks.reduce((n, t) => n + t.result.count, 0) < 180; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(failures, []);
    assert.equal(tasks.reduce((n, t) => n + t.result.count, 0), 180, 'every message checked once');
    const seen = new Map<number, number[]>();
    for (const { result, task } of tasks) {
      assert.ok(result.count <= 50, 'a task holds at most maxBatchMessages');
      assert.equal(result.count, task.messages.length);
      for (const part of task.parts) {
        const offsets = Array.from({ length: part.to - part.from }, (_, i) => task.messages.offset(part.from + i));
        assert.ok(offsets.every((_, i) => { const { batch, index } = task.messages.at(part.from + i); return batch.partitions[index] === part.backlog.partition; }));
        seen.set(part.backlog.partition, [...(seen.get(part.backlog.partition) ?? []), ...offsets]);
        part.ticket.ack(); // the worker stage; no sink here
      }
      for (let i = 0; i < result.count; i++) assert.equal(result.verdicts[i], Verdict.ACCEPTED);
      assert.ok(task.sentMs.every((ms) => ms > 0), 'send time from the Kafka timestamp');
    }
    for (const p of [0, 1, 2]) assert.deepEqual(seen.get(p), Array.from({ length: 60 }, (_, i) => i), `partition ${p} in offset order`);
    assert.equal(tracker.inFlight(), 0);
    assert.deepEqual(tracker.takeCommits().map((c) => [c.partition, c.offset]).sort(), [[0, 60], [1, 60], [2, 60]]);
    assert.equal(dispatcher.firstOf(topic, 1)?.firstOffset, 0);
  });

  it('says overloaded once more waits than four full batches per thread, and forgets a revoked partition', async () => {
    const { dispatcher, tasks } = setup(10);
    // 2 threads x 4 x 10 = 80 waiting is the bound. A first call starts a task per slot right away.
    const first = dispatcher.dispatch(packConsumed(Array.from({ length: 60 }, (_, i) => message('d2', 0, i))));
    assert.equal(first, false);
    const second = dispatcher.dispatch(packConsumed(Array.from({ length: 60 }, (_, i) => message('d2', 0, 60 + i))));
    assert.equal(second, true);
    assert.equal(dispatcher.overloaded, true);
    dispatcher.forget('d2', 0);
    assert.equal(dispatcher.overloaded, false, 'the revoked partition\'s backlog no longer counts');
    assert.equal(dispatcher.firstOf('d2', 0), undefined);
    await settle(tasks, 1);
  });

  it('sends null and oversized values through as empty messages, for the result handler to dead-letter', async () => {
    const { dispatcher, tasks } = setup(50);
    dispatcher.dispatch(packConsumed([message('d3', 0, 0, null), message('d3', 0, 1)]));
    await settle(tasks, 1);
    const { result } = tasks[0]!;
    assert.equal(result.count, 2);
    assert.equal(result.verdicts[0], Verdict.DEAD_LETTER);
    assert.equal(result.verdicts[1], Verdict.ACCEPTED);
  });
});
