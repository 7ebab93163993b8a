import Kafka from 'node-rdkafka';
import type { KafkaConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import type { EventChunk } from './chunk.js';
import { recordJsonSpan } from './redis-record.js';
import type { SinkDriver } from './core.js';
import { connectClient, createSinkProducer } from '../kafka/clients.js';

/**
 * Optional validated stream: every checked event (JSON with its verdict, as in Redis) is
 * produced to `kafka.outputTopic`, keyed by symbol, on the same partition number as its source
 * (mod the output's partitions) so per-symbol order holds. Delivery is at-least-once: after a
 * crash the replayed tail is produced again; headers `x-source-topic`, `x-source-partition` and
 * `x-source-offset` let consumers drop the repeats.
 */
export class KafkaOutputSink implements SinkDriver {
  readonly name = 'kafka-output';
  private readonly producer: Kafka.Producer;
  private readonly topic: string;
  private readonly brokers: string;
  private partitions = 1;
  private pollTimer: NodeJS.Timeout | null = null;
  private lastError: string | null = null;
  private pending = 0;
  private waiter: (() => void) | null = null;

  constructor(config: KafkaConfig) {
    this.topic = config.outputTopic!;
    this.brokers = config.brokers;
    this.producer = createSinkProducer(config, 'output', { 'queue.buffering.max.messages': 1_000_000 });
    this.producer.on('delivery-report', (err) => {
      if (err) this.lastError = err.message;
      if (--this.pending === 0) this.waiter?.();
    });
  }

  async connect(): Promise<void> {
    if (!this.producer.isConnected()) {
      await connectClient(this.producer, { brokers: this.brokers });
      this.pollTimer = setInterval(() => this.producer.poll(), 5);
      this.pollTimer.unref();
    }
    const meta = await new Promise<Kafka.Metadata>((resolve, reject) =>
      this.producer.getMetadata({ topic: this.topic, timeout: 10_000 }, (err, m) => (err ? reject(err) : resolve(m))));
    this.partitions = Math.max(1, meta.topics.find((t) => t.name === this.topic)?.partitions.length ?? 1);
  }

  async writeBatch(chunks: readonly EventChunk[]): Promise<void> {
    this.lastError = null;
    for (const chunk of chunks) {
      const r = chunk.result;
      const partition = chunk.partition % this.partitions;
      for (let i = chunk.from; i < chunk.to; i++) {
        if (r.verdicts[i]! > 2) continue;
        const [from, to] = recordJsonSpan(r.redisRecords, i === 0 ? 0 : r.redisEnds[i - 1]!);
        const value = Buffer.from(r.redisRecords.buffer, r.redisRecords.byteOffset + from, to - from);
        this.pending++;
        try {
          this.producer.produce(this.topic, partition, value, r.symbols[i]!, Date.now(), undefined, [
            { 'x-source-topic': chunk.topic }, { 'x-source-partition': String(chunk.partition) }, { 'x-source-offset': String(chunk.offset(i)) },
          ]);
        } catch (err) {
          this.pending--;
          await this.settle();
          throw new HimariError(ErrorCode.SINK_WRITE_FAILED, `output topic ${this.topic}: ${(err as Error).message}`, { retriable: true, cause: err });
        }
      }
    }
    await this.settle();
    const failed = this.lastError as string | null;
    if (failed !== null) {
      throw new HimariError(ErrorCode.SINK_WRITE_FAILED, `output topic ${this.topic}: ${failed}`, { retriable: true });
    }
  }

  private settle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => { this.waiter = () => { this.waiter = null; resolve(); }; });
  }

  isRetriable(): boolean {
    return true;
  }

  async close(): Promise<void> {
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    await new Promise<void>((resolve) => this.producer.flush(10_000, () => this.producer.disconnect(() => resolve())));
  }
}
