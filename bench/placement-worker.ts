import { Piscina } from 'piscina';
import { PackedBatch } from '../src/batch/pack.js';
import type { PostgresConfig, RedisConfig } from '../src/config/schema.js';
import type { CheckTask } from '../src/pool/task.js';
import { EventChunk } from '../src/sinks/chunk.js';
import { PostgresSink } from '../src/sinks/postgres-sink.js';
import { RedisSink } from '../src/sinks/redis-sink.js';
import { OffsetTracker } from '../src/source/offset-tracker.js';
import runCheckTask, { checkBatch } from '../workers/check-worker.js';

/**
 * Worker of `bench/placement.ts`. Mode 'main' is the production worker (payloads moved back to
 * the main thread, which writes them). Mode 'worker' runs the same decode + checks + encoding,
 * then writes the batch itself through its own RedisSink and PostgresSink (the production
 * drivers, one connection each per thread) and returns only an acknowledgement.
 */
export interface PlacementWorkerData {
  mode: 'main' | 'worker';
  redis: RedisConfig;
  postgres: PostgresConfig;
}

/** What a worker-owned-sink task returns: the input buffer back, and what the main thread counts. */
export interface PlacementAck {
  batch: ArrayBuffer;
  count: number;
  verdicts: Uint32Array;
}

/** Task partition values that are commands rather than batches. */
export const CONNECT_PARTITION = -1;
export const CLOSE_PARTITION = -2;

const data = Piscina.workerData as PlacementWorkerData | undefined;
let sinks: { redis: RedisSink; postgres: PostgresSink } | null = null;
const tracker = new OffsetTracker();

class MovedAck {
  constructor(private readonly ack: PlacementAck) {}
  get [Piscina.transferableSymbol](): ArrayBufferLike[] {
    return [this.ack.batch, this.ack.verdicts.buffer];
  }
  get [Piscina.valueSymbol](): PlacementAck {
    return this.ack;
  }
}

async function ownSinks(d: PlacementWorkerData): Promise<{ redis: RedisSink; postgres: PostgresSink }> {
  if (sinks === null) {
    const s = { redis: new RedisSink(d.redis), postgres: new PostgresSink(d.postgres) };
    await Promise.all([s.redis.connect(), s.postgres.connect()]);
    sinks = s;
  }
  return sinks;
}

async function writeOwned(d: PlacementWorkerData, task: CheckTask): Promise<PlacementAck> {
  if (task.partition === CLOSE_PARTITION) {
    const s = sinks;
    sinks = null;
    if (s !== null) await Promise.all([s.redis.close(), s.postgres.close()]);
    return { batch: task.batch, count: 0, verdicts: new Uint32Array(4) };
  }
  const s = await ownSinks(d);
  if (task.partition === CONNECT_PARTITION) return { batch: task.batch, count: 0, verdicts: new Uint32Array(4) };
  const result = checkBatch(task);
  const source = new PackedBatch(task.batch);
  const n = result.count;
  const ticket = tracker.partition(task.topic, task.partition).track(source.offset(0), source.offset(n - 1), 1);
  const chunk = new EventChunk(result, source, task.topic, task.partition, 0, n, ticket, new Float64Array(n));
  await Promise.all([s.redis.writeBatch([chunk]), s.postgres.writeBatch([chunk])]);
  ticket.ack();
  const verdicts = new Uint32Array(4);
  for (let i = 0; i < n; i++) verdicts[result.verdicts[i]!]!++;
  return { batch: task.batch, count: n, verdicts };
}

export default async function runPlacementTask(task: CheckTask): Promise<unknown> {
  if (data?.mode !== 'worker') {
    if (task.partition < 0) return { batch: task.batch, count: 0 };
    return runCheckTask(task);
  }
  return Piscina.move(new MovedAck(await writeOwned(data, task)) as never);
}
