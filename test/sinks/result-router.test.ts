import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { BatchPacker, packedSize } from '../../src/batch/pack.js';
import { checkById } from '../../src/checks/registry.js';
import { DEFAULT_CHECK_CONFIG } from '../../src/checks/thresholds.js';
import { encodeEvent } from '../../src/codec/encode.js';
import { Verdict, type MarketEvent } from '../../src/codec/event.js';
import { ErrorCode, HimariError } from '../../src/errors.js';
import { Metrics } from '../../src/obs/metrics.js';
import type { DispatchedTask, PartitionBacklog, TaskPart } from '../../src/pool/dispatcher.js';
import type { EventChunk } from '../../src/sinks/chunk.js';
import type { SinkDriver } from '../../src/sinks/core.js';
import { EventSinkCore } from '../../src/sinks/event-sink-core.js';
import { ResultRouter, partOf, type RoutedTotals } from '../../src/sinks/result-router.js';
import { packConsumed } from '../../src/source/consumed-batch.js';
import { TaskMessages } from '../../src/pool/task-messages.js';
import { OffsetTracker, type BatchTicket } from '../../src/source/offset-tracker.js';
import { checkBatch, configureChecks } from '../../workers/check-worker.js';
import { T0, sinkTrade } from '../helpers/chunks.js';

const TOPIC = 'router.topic';
const MAX_BYTES = 64;

/** In-memory sink: what each written chunk covered. */
class ChunkLog implements SinkDriver {
  readonly name: string;
  readonly chunks: string[] = [];
  constructor(name: string) { this.name = name; }
  async connect(): Promise<void> {}
  async writeBatch(chunks: readonly EventChunk[]): Promise<void> {
    for (const c of chunks) this.chunks.push(`${c.topic}[${c.partition}] ${c.offset(c.from)}-${c.offset(c.to - 1)}`);
  }
  isRetriable(): boolean { return true; }
  async close(): Promise<void> {}
}

const sinkCore = (driver: SinkDriver<EventChunk>) => new EventSinkCore(driver, {
  policy: { batchMaxRows: 100, batchMaxBytes: 1 << 20, batchMaxMs: 1, flushWhenIdle: false, maxInFlightBatches: 2, retry: { initialMs: 1, maxMs: 5 }, probeIntervalMs: 60_000 },
  metrics: new Metrics({ defaultMetrics: false }), log: pino({ level: 'silent' }), onPermanentFailure: () => true,
});

/** One consumed message: its value as Kafka gave it, and what the dispatcher packed for the worker. */
interface Consumed {
  partition: number;
  offset: number;
  value: Buffer | null;
  packed: Uint8Array;
}

const event = (e: MarketEvent, partition: number, offset: number): Consumed => {
  const value = encodeEvent(e);
  return { partition, offset, value, packed: value };
};

/**
 * A task as the dispatcher builds it (runs of partitions, one ticket each, awaiting the worker
 * stage) and the real worker's result for it.
 */
function routedTask(consumed: Consumed[]) {
  configureChecks({ ...DEFAULT_CHECK_CONFIG, disabled: ['Q7'] });
  const buffer = new ArrayBuffer(packedSize(consumed.length, consumed.reduce((n, c) => n + c.packed.length, 0)));
  const packer = new BatchPacker(buffer);
  packer.reset(buffer, consumed.length);
  for (const c of consumed) packer.append(c.packed, c.offset, c.partition);
  const result = checkBatch({ batch: packer.finish(), topic: TOPIC, partition: -1 });
  const tracker = new OffsetTracker();
  const batch = packConsumed(consumed.map((c) => ({ topic: TOPIC, partition: c.partition, offset: c.offset, value: c.value })));
  const messages = new TaskMessages([{ batch, from: 0, to: batch.count }]);
  const parts: TaskPart[] = [];
  for (let i = 0; i < consumed.length;) {
    const partition = consumed[i]!.partition;
    let to = i;
    while (to < consumed.length && consumed[to]!.partition === partition) to++;
    const backlog = { topic: TOPIC, partition } as PartitionBacklog;
    parts.push({ backlog, from: i, to, ticket: tracker.partition(TOPIC, partition).track(consumed[i]!.offset, consumed[to - 1]!.offset, 1) });
    i = to;
  }
  const task: DispatchedTask = { messages, parts, sentMs: new Float64Array(consumed.length) };
  return { result, task, tracker };
}

function router(sinks: EventSinkCore[]) {
  const totals: RoutedTotals = { verdicts: [0, 0, 0, 0], checkFailures: new Array<number>(64).fill(0) };
  const deadLetters: Array<{ ticket: BatchTicket; at: string; code: string; message: string }> = [];
  const recycled: ArrayBuffer[] = [];
  const metrics = new Metrics({ defaultMetrics: false });
  const calls = { afterRoute: 0 };
  const r = new ResultRouter({
    sinks, metrics, totals, maxMessageBytes: MAX_BYTES,
    deadLetter: (ticket, messages, i, code, message) => {
      const { batch, index } = messages.at(i);
      deadLetters.push({ ticket, at: `${batch.partitions[index]}@${batch.offsets[index]}`, code, message });
    },
    recycle: (b) => { recycled.push(b); },
    afterRoute: () => { calls.afterRoute++; },
  });
  return { r, totals, deadLetters, recycled, metrics, calls };
}

describe('result router', () => {
  const crossed: MarketEvent = { v: 1, type: 'quote', venue: 'okx', symbol: 'SOL-USDT', ts: T0, recvTs: T0, bid: 11, bidSize: 1, ask: 10, askSize: 1 };
  const undecodable = Buffer.from([0xc1, 0xc1]);
  const oversized = Buffer.alloc(MAX_BYTES + 1, 0x20);
  const consumed: Consumed[] = [
    event(sinkTrade(1), 0, 10),
    { partition: 0, offset: 11, value: undecodable, packed: undecodable },
    event(crossed, 0, 12),
    event(sinkTrade(2), 1, 0),
    event(sinkTrade(3), 1, 1),
    // The dispatcher sends values over kafka.maxMessageBytes, and null values, to the worker empty.
    { partition: 2, offset: 5, value: oversized, packed: new Uint8Array(0) },
    { partition: 2, offset: 6, value: null, packed: new Uint8Array(0) },
  ];

  it('pushes each partition\'s run to every sink; a run of dead letters only goes to no sink', async () => {
    const drivers = [new ChunkLog('a'), new ChunkLog('b')];
    const sinks = drivers.map(sinkCore);
    const { result, task } = routedTask(consumed);
    router(sinks).r.route(result, task);
    for (const s of sinks) await s.flush();
    for (const d of drivers) assert.deepEqual(d.chunks.sort(), [`${TOPIC}[0] 10-12`, `${TOPIC}[1] 0-1`]);
  });

  it('dead-letters what never became an event, with the ticket of its partition\'s run and why', () => {
    const { result, task } = routedTask(consumed);
    const { r, deadLetters } = router([sinkCore(new ChunkLog('a'))]);
    r.route(result, task);
    assert.deepEqual(deadLetters.map(({ at, code, message }) => ({ at, code, message })), [
      { at: '0@11', code: ErrorCode.DECODE_FAILED, message: result.deadLetters[0]!.message },
      { at: '2@5', code: ErrorCode.MESSAGE_TOO_LARGE, message: `message of ${MAX_BYTES + 1} bytes exceeds kafka.maxMessageBytes=${MAX_BYTES}` },
      { at: '2@6', code: result.deadLetters[2]!.code, message: 'null message value' },
    ]);
    assert.equal(deadLetters[0]!.ticket, task.parts[0]!.ticket);
    assert.equal(deadLetters[1]!.ticket, task.parts[2]!.ticket);
    assert.equal(deadLetters[2]!.ticket, task.parts[2]!.ticket);
  });

  it('as the pool\'s result stage: routes a result, then lets the pipeline apply backpressure', async () => {
    const drivers = [new ChunkLog('a')];
    const { result, task } = routedTask(consumed);
    const { r, calls } = router(drivers.map(sinkCore));
    r.onResult(result, task);
    assert.equal(calls.afterRoute, 1);
    assert.equal(task.parts[1]!.ticket.done, false, 'the sink holds the run now');
  });

  it('dead-letters every message of a batch whose worker kept dying, and acknowledges its worker stage', () => {
    const { task } = routedTask(consumed);
    const { r, deadLetters, totals, calls } = router([sinkCore(new ChunkLog('a'))]);
    r.onFailure(new Error('worker died'), task);
    assert.deepEqual(deadLetters.map(({ at, code, message }) => [at, code, message]),
      consumed.map((c) => [`${c.partition}@${c.offset}`, ErrorCode.WORKER_FAILED, 'worker died']));
    assert.equal(totals.verdicts[Verdict.DEAD_LETTER], consumed.length);
    assert.equal(calls.afterRoute, 1);
    // This router's dead-letter stub expects nothing more, so the worker stage was the last party.
    assert.ok(task.parts.every((p) => p.ticket.done), 'the worker stage acknowledged every part');
  });

  it('counts verdicts and check failures into the totals and the metrics, and hands the task\'s buffer back', async () => {
    const { result, task } = routedTask(consumed);
    const { r, totals, recycled, metrics } = router([sinkCore(new ChunkLog('a'))]);
    r.route(result, task);
    r.route(routedTask(consumed.slice(2, 3)).result, routedTask(consumed.slice(2, 3)).task);
    assert.equal(totals.verdicts[Verdict.DEAD_LETTER], 3);
    assert.equal(totals.verdicts[Verdict.REJECTED], 2, 'the crossed quote, in both tasks');
    assert.equal(totals.verdicts[Verdict.ACCEPTED]! + totals.verdicts[Verdict.FLAGGED]!, 3);
    const m1 = checkById('M1')!.bit;
    assert.equal(totals.checkFailures[m1], 2);
    const text = await metrics.registry.metrics();
    assert.match(text, /^himari_events_total\{verdict="dead_letter"\} 3$/m);
    assert.match(text, /^himari_events_total\{verdict="rejected"\} 2$/m);
    assert.match(text, /^himari_check_failures_total\{check="M1"\} 2$/m);
    assert.equal(recycled[0], result.batch);
  });

  it('a run\'s ticket is done once the worker stage and every sink hold it', async () => {
    const sinks = [sinkCore(new ChunkLog('a')), sinkCore(new ChunkLog('b'))];
    const { result, task, tracker } = routedTask(consumed);
    router(sinks).r.route(result, task);
    // Partition 2 had no event for the sinks: the worker stage's ack completes it.
    assert.deepEqual(tracker.takeCommits(), [{ topic: TOPIC, partition: 2, offset: 7 }]);
    assert.deepEqual(task.parts.map((p) => p.ticket.pending), [2, 2, 0], 'partitions 0 and 1 wait for both sinks');
    await sinks[0]!.flush();
    assert.deepEqual(task.parts.map((p) => p.ticket.pending), [1, 1, 0]);
    await sinks[1]!.flush();
    assert.deepEqual(tracker.takeCommits().sort((a, b) => a.partition - b.partition), [
      { topic: TOPIC, partition: 0, offset: 13 }, { topic: TOPIC, partition: 1, offset: 2 },
    ]);
  });

  it('partOf finds the part of a message, and refuses one outside the task', () => {
    const { task } = routedTask(consumed);
    assert.deepEqual([0, 2, 3, 4, 5, 6].map((i) => partOf(task.parts, i).backlog.partition), [0, 0, 1, 1, 2, 2]);
    assert.throws(() => partOf(task.parts, 7), (e: unknown) => e instanceof HimariError && e.code === ErrorCode.INTERNAL);
  });
});
