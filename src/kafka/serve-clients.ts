import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ErrorCode, HimariError } from '../errors.js';
import type { ConsumedBatch } from '../source/consumed-batch.js';
import type { Source, TopicPartition } from '../source/source.js';
import { toWireError, type Call, type Command, type Event, type PackedRecord } from './port-protocol.js';
import type { KafkaClients, ProduceRecord, SinkProducer } from './kafka-clients.js';

/** Consumed batches moved to the other end and not yet taken off the port. */
const MAX_BATCHES_IN_FLIGHT = 4;
/** How often the assigned partitions' high watermarks are sent (the consumer-lag gauge reads them). */
const WATERMARKS_EVERY_MS = 1_000;

/**
 * Serves `clients` (the `LocalKafkaClients` of the thread node-rdkafka lives in) to a
 * `PortKafkaClients` at the other end of `port`, in another thread. node-rdkafka runs its
 * callbacks (rebalances, commits, delivery reports, errors) on the process's main loop
 * (`uv_default_loop()` in its dispatcher: a client in a worker thread crashes the process at its
 * first callback), so the clients live on the main thread and the pipeline is the one that moves.
 *
 * The consume loop packs each consume call into a `ConsumedBatch` and moves its buffer over; the
 * other end takes each off the port and says so (`source.taken`), and the loop holds at
 * `MAX_BATCHES_IN_FLIGHT` untaken batches: a pipeline that falls behind pauses the consumer
 * instead of queueing batches without bound in the port. Resolves when the port closes.
 */
export function serveKafkaClients(port: MessagePort, clients: KafkaClients, log: Logger): Promise<void> {
  let source: Source | null = null;
  const producers = new Map<number, SinkProducer>();
  const revokes = new Map<number, () => void>();
  let nextRevoke = 1;
  let batchesInFlight = 0;
  let pausedByPipeline = false;
  let watermarkTimer: NodeJS.Timeout | null = null;
  const send = (e: Event, transfer?: ArrayBuffer[]) => port.postMessage(e, transfer);
  // Child loggers say which stage a line is from; what the other end's logger shares with this
  // one (app, pid) is not repeated.
  const own = log.bindings();
  const childOf = (bindings: Record<string, unknown>) => log.child(Object.fromEntries(Object.entries(bindings).filter(([k, v]) => own[k] !== v)));

  /** The consumer runs only while the pipeline wants it and has taken enough of what was sent. */
  const gate = () => {
    if (source === null) return;
    if (pausedByPipeline || batchesInFlight >= MAX_BATCHES_IN_FLIGHT) source.pause();
    else source.resume();
  };

  const theSource = (): Source => {
    if (source === null) throw new HimariError(ErrorCode.INTERNAL, 'no source was created on this port');
    return source;
  };

  const producer = (id: number): SinkProducer => {
    const p = producers.get(id);
    if (p === undefined) throw new HimariError(ErrorCode.INTERNAL, `no producer ${id} on this port`);
    return p;
  };

  const sendWatermarks = () => {
    if (source === null) return;
    const highs: Array<[string, number, number]> = [];
    for (const p of source.assigned) {
      const high = source.highWatermark(p.topic, p.partition);
      if (high !== undefined) highs.push([p.topic, p.partition, high]);
    }
    send({ op: 'watermarks', highs });
  };

  const createSource = (bindings: Record<string, unknown>) => {
    source = clients.source(childOf(bindings), {
      onMessages: (batch: ConsumedBatch) => {
        batchesInFlight++;
        send({ op: 'batch', buffer: batch.buffer, topics: [...batch.topics] }, [batch.buffer]);
        gate();
      },
      onAssigned: (partitions) => send({ op: 'assigned', partitions: plainPartitions(partitions) }),
      onRevoked: (partitions) => new Promise<void>((resolve) => {
        const id = nextRevoke++;
        revokes.set(id, resolve);
        send({ op: 'revoked', id, partitions: plainPartitions(partitions) });
      }),
      onCommitConfirmed: (points) => send({ op: 'commitConfirmed', points }),
      onCommitFailed: (points) => send({ op: 'commitFailed', points }),
    });
    watermarkTimer = setInterval(sendWatermarks, WATERMARKS_EVERY_MS);
    watermarkTimer.unref();
  };

  const answer = async (call: Call): Promise<unknown> => {
    switch (call.method) {
      case 'verifyAccess': return clients.verifyAccess(call.timeoutMs);
      case 'ensureTopics': return clients.ensureTopics(call.topics);
      case 'requireTopics': return clients.requireTopics(call.topics);
      case 'scanDeadLetters': return clients.scanDeadLetters(call.req);
      case 'source.connect': return theSource().connect();
      case 'source.stop': return theSource().stop();
      case 'source.commitAndWait': return theSource().commitAndWait(call.points, call.timeoutMs);
      case 'source.brokerAnswers': return theSource().brokerAnswers(call.timeoutMs);
      case 'source.disconnect': {
        if (watermarkTimer !== null) clearInterval(watermarkTimer);
        return theSource().disconnect(call.leaveGroup);
      }
      case 'producer.connect': return producer(call.producer).connect();
      case 'producer.partitionCount': return producer(call.producer).partitionCount(call.topic, call.timeoutMs);
      case 'producer.produce': {
        const outcomes = await producer(call.producer).produce(unpackRecords(call.records, call.values));
        return outcomes.map((o) => (o === null ? null : { code: o.code, message: o.message }));
      }
      case 'producer.close': {
        const p = producer(call.producer);
        producers.delete(call.producer);
        return p.close({ flushMs: call.flushMs, graceful: call.graceful });
      }
    }
  };

  const onMessage = (m: Command | Call) => {
    try {
      switch (m.op) {
        case 'call':
          answer(m).then(
            (value) => send({ op: 'reply', id: m.id, ok: true, value }),
            (err: unknown) => send({ op: 'reply', id: m.id, ok: false, error: toWireError(err) }),
          );
          return;
        case 'source.create': createSource(m.bindings); return;
        case 'source.start': theSource().start(); return;
        case 'source.pause': pausedByPipeline = true; gate(); return;
        case 'source.resume': pausedByPipeline = false; gate(); return;
        case 'source.taken': batchesInFlight--; gate(); return;
        case 'source.stopPartition': theSource().stopPartition(m.topic, m.partition, m.why); return;
        case 'source.commit': theSource().commit(m.points); return;
        case 'source.revokeDone': {
          const done = revokes.get(m.id);
          revokes.delete(m.id);
          done?.();
          return;
        }
        case 'producer.create': producers.set(m.producer, clients.sinkProducer(m.kind, childOf(m.bindings))); return;
        case 'close': port.close(); return;
      }
    } catch (err) {
      // A command out of order is a bug at the other end; it is said, not thrown into the port.
      log.error({ err, op: m.op }, 'Kafka client command failed');
    }
  };

  port.on('message', onMessage);
  return new Promise((resolve) => port.once('close', () => {
    if (watermarkTimer !== null) clearInterval(watermarkTimer);
    // Revokes waiting for a drain that will not come: the rebalance goes on without it.
    for (const done of revokes.values()) done();
    revokes.clear();
    resolve();
  }));
}

/** Partitions as plain data (librdkafka's carry more fields than the other end needs). */
function plainPartitions(partitions: readonly TopicPartition[]): TopicPartition[] {
  return partitions.map((p) => ({ topic: p.topic, partition: p.partition }));
}

/** The records of a produce call with their values cut from the one buffer they came in. */
function unpackRecords(packed: PackedRecord[], values: ArrayBuffer): ProduceRecord[] {
  const records: ProduceRecord[] = [];
  let at = 0;
  for (const r of packed) {
    records.push({ topic: r.topic, partition: r.partition, key: r.key, headers: r.headers, value: Buffer.from(values, at, r.valueBytes) });
    at += r.valueBytes;
  }
  return records;
}
