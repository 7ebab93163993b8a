import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ErrorCode, HimariError } from '../errors.js';
import { ConsumedBatch } from '../source/consumed-batch.js';
import type { CommitPoint } from '../source/offset-tracker.js';
import { partitionKey, type PartitionKey } from '../source/partition-key.js';
import type { Source, SourceHandlers, TopicPartition } from '../source/source.js';
import { fromWireError, type Call, type Command, type Event, type PackedRecord } from './port-protocol.js';
import { KafkaClientError, type DeadLetterScanRequest, type KafkaClients, type ProduceRecord, type SinkProducer, type SinkProducerKind } from './kafka-clients.js';

type CallBody = Call extends infer C ? C extends Call ? Omit<C, 'op' | 'id'> : never : never;

/**
 * The Kafka clients at the other end of a `MessagePort` (`serveKafkaClients`), for a pipeline
 * in a thread where node-rdkafka cannot run (it runs its callbacks on the process's main loop).
 * The consumer's loop, node-rdkafka building message objects and packing them, and the
 * producers' delivery reports all run at the other end; this end receives one moved buffer per
 * consume call (`ConsumedBatch`). Measured draining 500,000 events (README, `workers.pipelineThread`):
 * the main thread 8.4 µs per event, the pipeline's 2.7 µs, against 12.3 µs for one thread doing both.
 */
export class PortKafkaClients implements KafkaClients {
  readonly placement = 'port';
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextCall = 1;
  private nextProducer = 1;
  private source_: PortSource | null = null;
  private closed: Error | null = null;

  constructor(private readonly port: MessagePort) {
    port.on('message', (e: Event) => this.onEvent(e));
    port.once('close', () => this.end(new HimariError(ErrorCode.KAFKA_ERROR, 'the Kafka clients\' port closed')));
  }

  private onEvent(e: Event): void {
    switch (e.op) {
      case 'batch':
        this.source_?.onBatch(new ConsumedBatch(e.buffer, e.topics));
        this.post({ op: 'source.taken' });
        return;
      case 'reply': {
        const call = this.calls.get(e.id);
        this.calls.delete(e.id);
        if (e.ok) call?.resolve(e.value);
        else call?.reject(fromWireError(e.error));
        return;
      }
      default: this.source_?.onEvent(e);
    }
  }

  /** The port is gone: every call waiting and to come fails with `err`. */
  private end(err: Error): void {
    if (this.closed !== null) return;
    this.closed = err;
    for (const c of this.calls.values()) c.reject(err);
    this.calls.clear();
    this.source_?.onEnd();
  }

  post(m: Command): void {
    if (this.closed === null) this.port.postMessage(m);
  }

  call<T>(body: CallBody, transfer?: ArrayBuffer[]): Promise<T> {
    if (this.closed !== null) return Promise.reject(this.closed);
    const id = this.nextCall++;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.port.postMessage({ ...body, op: 'call', id } as Call, transfer);
    });
  }

  verifyAccess(timeoutMs?: number): Promise<void> {
    return this.call({ method: 'verifyAccess', timeoutMs });
  }

  ensureTopics(topics: readonly string[]): Promise<void> {
    return this.call({ method: 'ensureTopics', topics: [...topics] });
  }

  requireTopics(topics: readonly string[]): Promise<void> {
    return this.call({ method: 'requireTopics', topics: [...topics] });
  }

  scanDeadLetters(req: DeadLetterScanRequest): Promise<number[]> {
    return this.call({ method: 'scanDeadLetters', req });
  }

  source(log: Logger, handlers: SourceHandlers): Source {
    if (this.source_ !== null) throw new HimariError(ErrorCode.INTERNAL, 'one source per port');
    this.post({ op: 'source.create', bindings: log.bindings() });
    this.source_ = new PortSource(this, log, handlers);
    return this.source_;
  }

  sinkProducer(kind: SinkProducerKind, log: Logger): SinkProducer {
    const id = this.nextProducer++;
    this.post({ op: 'producer.create', producer: id, kind, bindings: log.bindings() });
    return new PortSinkProducer(this, id);
  }

  /** Done with the clients (closed by their owners first): the port closes at both ends. */
  close(): Promise<void> {
    this.post({ op: 'close' });
    this.end(new HimariError(ErrorCode.CLOSED, 'the Kafka clients were closed'));
    return Promise.resolve();
  }
}

/** The consumer at the other end of the port, as the pipeline sees it: its state mirrored from the events. */
class PortSource implements Source {
  private assignment: TopicPartition[] = [];
  readonly stopped = new Map<PartitionKey, string>();
  private pausedFor = false;
  private readonly highs = new Map<PartitionKey, number>();

  constructor(private readonly clients: PortKafkaClients, private readonly log: Logger, private readonly handlers: SourceHandlers) {}

  onBatch(batch: ConsumedBatch): void {
    this.handlers.onMessages(batch);
  }

  onEvent(e: Event): void {
    switch (e.op) {
      case 'assigned':
        this.assignment = [...this.assignment, ...e.partitions];
        this.handlers.onAssigned(e.partitions);
        return;
      case 'revoked': {
        const revoked = new Set(e.partitions.map((p) => partitionKey(p.topic, p.partition)));
        this.assignment = this.assignment.filter((p) => !revoked.has(partitionKey(p.topic, p.partition)));
        for (const key of revoked) {
          this.stopped.delete(key);
          this.highs.delete(key);
        }
        this.handlers.onRevoked(e.partitions)
          .catch((err: unknown) => this.log.error({ err }, 'draining revoked partitions failed'))
          .finally(() => this.clients.post({ op: 'source.revokeDone', id: e.id }));
        return;
      }
      case 'commitConfirmed': this.handlers.onCommitConfirmed(e.points); return;
      case 'commitFailed': this.handlers.onCommitFailed(e.points); return;
      case 'watermarks':
        for (const [topic, partition, high] of e.highs) this.highs.set(partitionKey(topic, partition), high);
        return;
      default:
    }
  }

  /** The port is gone: nothing more will be consumed or committed. */
  onEnd(): void {
    this.assignment = [];
  }

  get assigned(): readonly TopicPartition[] {
    return this.assignment;
  }

  get paused(): boolean {
    return this.pausedFor;
  }

  highWatermark(topic: string, partition: number): number | undefined {
    return this.highs.get(partitionKey(topic, partition));
  }

  connect(): Promise<void> {
    return this.clients.call({ method: 'source.connect' });
  }

  start(): void {
    this.clients.post({ op: 'source.start' });
  }

  pause(): void {
    if (this.pausedFor) return;
    this.pausedFor = true;
    this.clients.post({ op: 'source.pause' });
  }

  resume(): void {
    if (!this.pausedFor) return;
    this.pausedFor = false;
    this.clients.post({ op: 'source.resume' });
  }

  stopPartition(topic: string, partition: number, why: string): void {
    this.stopped.set(partitionKey(topic, partition), why);
    this.clients.post({ op: 'source.stopPartition', topic, partition, why });
  }

  commit(points: readonly CommitPoint[]): void {
    if (points.length > 0) this.clients.post({ op: 'source.commit', points: plainPoints(points) });
  }

  commitAndWait(points: readonly CommitPoint[], timeoutMs: number): Promise<boolean> {
    if (points.length === 0) return Promise.resolve(true);
    return this.clients.call<boolean>({ method: 'source.commitAndWait', points: plainPoints(points), timeoutMs })
      .catch(() => false);
  }

  brokerAnswers(timeoutMs: number): Promise<boolean> {
    return this.clients.call<boolean>({ method: 'source.brokerAnswers', timeoutMs }).catch(() => false);
  }

  stop(): Promise<void> {
    return this.clients.call<void>({ method: 'source.stop' }).catch(() => {});
  }

  disconnect(leaveGroup = true): Promise<void> {
    return this.clients.call<void>({ method: 'source.disconnect', leaveGroup }).catch(() => {});
  }
}

/** A sink's producer at the other end of the port: each batch's values cross in one buffer. */
class PortSinkProducer implements SinkProducer {
  constructor(private readonly clients: PortKafkaClients, private readonly id: number) {}

  connect(): Promise<void> {
    return this.clients.call({ method: 'producer.connect', producer: this.id });
  }

  partitionCount(topic: string, timeoutMs: number): Promise<number> {
    return this.clients.call({ method: 'producer.partitionCount', producer: this.id, topic, timeoutMs });
  }

  async produce(records: readonly ProduceRecord[]): Promise<Array<KafkaClientError | null>> {
    let bytes = 0;
    for (const r of records) bytes += r.value.byteLength;
    const values = new Uint8Array(bytes);
    const packed: PackedRecord[] = [];
    let at = 0;
    for (const r of records) {
      values.set(r.value, at);
      at += r.value.byteLength;
      // A key's bytes are copied on their own (a view would be cloned with its whole backing store).
      const key = r.key === null || typeof r.key === 'string' ? r.key : new Uint8Array(r.key);
      packed.push({ topic: r.topic, partition: r.partition, key, headers: r.headers, valueBytes: r.value.byteLength });
    }
    const outcomes = await this.clients.call<Array<{ code: number; message: string } | null>>(
      { method: 'producer.produce', producer: this.id, records: packed, values: values.buffer }, [values.buffer]);
    return outcomes.map((o) => (o === null ? null : new KafkaClientError(o.code, o.message)));
  }

  close(how: { flushMs: number; graceful: boolean }): Promise<void> {
    return this.clients.call<void>({ method: 'producer.close', producer: this.id, flushMs: how.flushMs, graceful: how.graceful }).catch(() => {});
  }
}

/** Commit points as plain data (a point the tracker holds may carry more than a clone should). */
function plainPoints(points: readonly CommitPoint[]): CommitPoint[] {
  return points.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset }));
}
