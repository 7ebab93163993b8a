import { randomBytes } from 'node:crypto';
import Kafka from 'node-rdkafka';
import type { KafkaConfig } from '../config/schema.js';
import { kafkaClientConfig } from '../kafka/client-config.js';
import { wallClockMs } from '../obs/clock.js';
import { LatencyHistogram } from '../obs/latency-histogram.js';
import { intendedSendMs } from '../source/intended-send.js';
import { ErrorCode, HimariError } from '../errors.js';
import { connectClient } from '../kafka/clients.js';

/** Offsets of a topic summed over its partitions. */
export interface GroupOffsets {
  /** Sum of high watermarks. */
  end: number;
  /** Sum of the group's committed offsets (the low watermark where it has none). */
  committed: number;
  /** end − committed. */
  lag: number;
}

export function connect(client: Kafka.KafkaConsumer, config: KafkaConfig): Promise<unknown> {
  return connectClient(client, config);
}

export function disconnect(client: Kafka.KafkaConsumer): Promise<void> {
  return new Promise((resolve) => (client.isConnected() ? client.disconnect(() => resolve()) : resolve()));
}

/** One consume call (errors count as an empty batch: the callers just call again). */
export function consume(client: Kafka.KafkaConsumer, n: number): Promise<Kafka.Message[]> {
  return new Promise((resolve) => client.consume(n, (_err, m) => resolve(m ?? [])));
}

/** A consumer of a fresh group that reads the topic from the start, with the processor's fetch settings but `fetch.min.bytes`. */
export function bareConsumer(config: KafkaConfig, role: string, fetchMinBytes: number): Kafka.KafkaConsumer {
  return new Kafka.KafkaConsumer({
    ...kafkaClientConfig(config, role),
    'group.id': `lt-${role}-${randomBytes(4).toString('hex')}`,
    'enable.auto.commit': false,
    'fetch.wait.max.ms': config.fetchWaitMaxMs,
    'fetch.min.bytes': fetchMinBytes,
    'queued.max.messages.kbytes': config.queuedMaxMessagesKbytes,
    'fetch.queue.backoff.ms': 5,
    'socket.nagle.disable': true,
  }, { 'auto.offset.reset': 'earliest' });
}

/**
 * Consumer lag of a group, from outside it: high watermarks and the group's committed offsets
 * (an OffsetFetch request; this client never joins the group, so it does not disturb it). One
 * connection for the whole run.
 */
export class GroupLagProbe {
  private readonly client: Kafka.KafkaConsumer;
  private partitions: number[] = [];

  constructor(private readonly config: KafkaConfig, private readonly topic: string, groupId: string) {
    this.client = new Kafka.KafkaConsumer({ ...kafkaClientConfig(config, 'lag-probe'), 'group.id': groupId, 'enable.auto.commit': false }, {});
  }

  async connect(): Promise<void> {
    await connect(this.client, this.config);
    const meta = await new Promise<Kafka.Metadata>((resolve, reject) =>
      this.client.getMetadata({ topic: this.topic, timeout: 10_000 }, (err, m) => (err ? reject(err) : resolve(m))));
    const t = meta.topics.find((x) => x.name === this.topic);
    if (t === undefined || t.partitions.length === 0) throw new HimariError(ErrorCode.KAFKA_ERROR, `topic ${this.topic} not found`);
    this.partitions = t.partitions.map((p) => p.id).sort((a, b) => a - b);
  }

  private watermarks(partition: number): Promise<Kafka.WatermarkOffsets> {
    return new Promise((resolve, reject) =>
      this.client.queryWatermarkOffsets(this.topic, partition, 5_000, (err, o) => (err ? reject(err) : resolve(o))));
  }

  /** Sum of the partitions' high watermarks (and low ones, for partitions the group never committed). */
  async ends(): Promise<{ high: number; lows: Map<number, number> }> {
    const marks = await Promise.all(this.partitions.map((p) => this.watermarks(p)));
    const lows = new Map<number, number>();
    let high = 0;
    marks.forEach((m, i) => { high += m.highOffset; lows.set(this.partitions[i]!, m.lowOffset); });
    return { high, lows };
  }

  async committed(lows?: Map<number, number>): Promise<number> {
    const tps = await new Promise<Kafka.TopicPartitionOffset[]>((resolve, reject) =>
      this.client.committed(this.partitions.map((partition) => ({ topic: this.topic, partition })), 5_000, (err, r) => (err ? reject(err) : resolve(r))));
    let sum = 0;
    for (const tp of tps) sum += tp.offset >= 0 ? tp.offset : lows?.get(tp.partition) ?? 0;
    return sum;
  }

  async sample(): Promise<GroupOffsets> {
    const { high, lows } = await this.ends();
    const committed = await this.committed(lows);
    return { end: high, committed, lag: high - committed };
  }

  close(): Promise<void> {
    return disconnect(this.client);
  }
}

export interface ReadCeiling {
  messages: number;
  bytes: number;
  /** From subscribing to the last message, ms (includes joining the group). */
  totalMs: number;
  /** From the first message to the last, ms: the read rate proper. */
  readMs: number;
  eventsPerSec: number;
  /**
   * CPU of this process (user + system, all threads: librdkafka's and the consume loop's) per
   * message over the pass, µs; the process does nothing else meanwhile. What node-rdkafka's
   * consume costs before any check or sink: the floor under the processor's CPU per event.
   */
  cpuUsPerMessage: number;
}

/**
 * The Kafka read ceiling: a bare node-rdkafka consume loop over the topic (fresh group, no
 * checks, no sinks), `consume(batch)` back to back as the processor's source does, with the
 * processor's fetch settings. What the pipeline's drain rate is compared with.
 */
export async function measureReadCeiling(config: KafkaConfig, topic: string, expected: number, timeoutMs = 300_000): Promise<ReadCeiling> {
  const consumer = bareConsumer(config, 'read-ceiling', 1);
  await connect(consumer, config);
  consumer.setDefaultConsumeTimeout(100);
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  let first = 0;
  let last = 0;
  let messages = 0;
  let bytes = 0;
  try {
    consumer.subscribe([topic]);
    const deadline = started + timeoutMs;
    while (messages < expected && performance.now() < deadline) {
      const batch = await consume(consumer, config.consumeBatchSize);
      if (batch.length > 0) {
        last = performance.now();
        if (first === 0) first = last;
      }
      messages += batch.length;
      for (const m of batch) bytes += m.size;
    }
  } finally {
    await disconnect(consumer);
  }
  const cpu = process.cpuUsage(cpuStart);
  const readMs = first === 0 ? 0 : last - first;
  return {
    messages, bytes, totalMs: (last || performance.now()) - started, readMs, eventsPerSec: readMs > 0 ? (messages * 1000) / readMs : 0,
    cpuUsPerMessage: messages > 0 ? Math.round(((cpu.user + cpu.system) / messages) * 100) / 100 : 0,
  };
}

/**
 * Kafka's own transit on this machine: a bare consumer (no checks, no sinks, nothing but the
 * clock read) on the topic, with the processor's fetch settings and its consume loop (block for
 * the first message of a burst, then take what is queued without waiting). It records intended
 * send → in the consumer's hands for each message whose intended send time is at or after
 * `measureFromMs()`: the floor under the processor's end-to-end latency at the same rate.
 */
export class TransitProbe {
  readonly latency = new LatencyHistogram();
  received = 0;
  private readonly consumer: Kafka.KafkaConsumer;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();

  constructor(private readonly config: KafkaConfig, private readonly topic: string, private readonly measureFromMs: () => number) {
    this.consumer = bareConsumer(config, 'transit', config.fetchMinBytes);
  }

  /** Connects, subscribes and returns once the topic's partitions are assigned (so no message waits for the join). */
  async start(timeoutMs = 30_000): Promise<void> {
    await connect(this.consumer, this.config);
    this.consumer.subscribe([this.topic]);
    const deadline = performance.now() + timeoutMs;
    this.consumer.setDefaultConsumeTimeout(50);
    while (this.consumer.assignments().length === 0) {
      if (performance.now() > deadline) {
        await disconnect(this.consumer);
        throw new HimariError(ErrorCode.TIMEOUT, `transit probe: no partition of ${this.topic} assigned after ${timeoutMs} ms`);
      }
      this.take(await consume(this.consumer, 1));
    }
    this.running = true;
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    let idle = true;
    while (this.running) {
      this.consumer.setDefaultConsumeTimeout(idle ? this.config.consumeTimeoutMs : 0);
      const batch = await consume(this.consumer, idle ? 1 : this.config.consumeBatchSize);
      idle = batch.length === 0;
      this.take(batch);
    }
  }

  private take(batch: Kafka.Message[]): void {
    if (batch.length === 0) return;
    const now = wallClockMs();
    const from = this.measureFromMs();
    this.received += batch.length;
    for (const m of batch) {
      const intended = intendedSendMs(m.headers);
      if (intended >= from) this.latency.record((now - intended) * 1000);
    }
  }

  /** Waits until `count` messages arrived (or the timeout), then stops and disconnects. */
  async stop(count: number, timeoutMs = 30_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.received < count && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.running = false;
    await this.loopDone;
    await disconnect(this.consumer);
  }
}
