import type { KafkaConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import type { ProduceRecord, SinkProducer } from '../kafka/kafka-clients.js';
import type { EventChunk } from './chunk.js';
import { recordJsonSpan } from './redis-record.js';
import type { SinkDriver } from './core.js';

/**
 * Optional validated stream: every checked event (JSON with its verdict, as in Redis) is
 * produced to `kafka.outputTopic`, keyed by symbol, on the same partition number as its source
 * (mod the output's partitions) so per-symbol order holds. Delivery is at-least-once: after a
 * crash the replayed tail is produced again; headers `x-source-topic`, `x-source-partition` and
 * `x-source-offset` let consumers drop the repeats.
 */
export class KafkaOutputSink implements SinkDriver {
  readonly name = 'kafka-output';
  private readonly topic: string;
  private partitions = 1;

  /** `producer`: the `output` sink producer. */
  constructor(config: KafkaConfig, private readonly producer: SinkProducer) {
    this.topic = config.outputTopic!;
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.partitions = await this.producer.partitionCount(this.topic, 10_000);
  }

  async writeBatch(chunks: readonly EventChunk[]): Promise<void> {
    const records: ProduceRecord[] = [];
    for (const chunk of chunks) {
      const r = chunk.result;
      const partition = chunk.partition % this.partitions;
      for (let i = chunk.from; i < chunk.to; i++) {
        if (r.verdicts[i]! > 2) continue;
        const [from, to] = recordJsonSpan(r.redisRecords, i === 0 ? 0 : r.redisEnds[i - 1]!);
        records.push({
          topic: this.topic, partition, key: r.symbols[i]!,
          value: Buffer.from(r.redisRecords.buffer, r.redisRecords.byteOffset + from, to - from),
          headers: [{ 'x-source-topic': chunk.topic }, { 'x-source-partition': String(chunk.partition) }, { 'x-source-offset': String(chunk.offset(i)) }],
        });
      }
    }
    const outcomes = await this.producer.produce(records);
    let failed = 0;
    let first: Error | null = null;
    for (const o of outcomes) {
      if (o === null) continue;
      failed++;
      first ??= o;
    }
    if (first !== null) {
      throw new HimariError(ErrorCode.SINK_WRITE_FAILED, `output topic ${this.topic}: ${failed} of ${records.length} events not delivered: ${first.message}`, { retriable: true, cause: first });
    }
  }

  isRetriable(): boolean {
    return true;
  }

  async close(): Promise<void> {
    await this.producer.close({ flushMs: 10_000, graceful: true });
  }
}
