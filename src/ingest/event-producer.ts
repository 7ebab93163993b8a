import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { encodeEvent } from '../codec/encode.js';
import type { MarketEvent } from '../codec/event.js';
import type { IngestConfig, KafkaConfig } from '../config/schema.js';
import { connectClient, createSinkProducer } from '../kafka/clients.js';
import { KafkaCode } from '../kafka/kafka-clients.js';
import { wallClockMs } from '../obs/clock.js';
import { LatencyHistogram } from '../obs/latency-histogram.js';
import { TotalCounter, type IngestMetrics } from './metrics.js';

/**
 * A delivery report's opaque packs the event's counters (its slot) and its receive time into one
 * number, so that nothing is allocated per event: the receive time in µs modulo 2^32 (71
 * minutes, longer than the longest ingest.deliveryTimeoutMs), the slot above it.
 */
const TIME_SPAN = 2 ** 32;

/** How often delivery reports are collected: each waits up to this long on top of Kafka's acknowledgement. */
const POLL_MS = 1;

/** The counters of one feed's events of one type, resolved once. */
interface Slot {
  /** Events handed over and acknowledged since start, counted into `events` and `delivered` at scrape. */
  sent: number;
  acked: number;
  events: TotalCounter;
  delivered: TotalCounter;
  bufferFull: Counter.Internal;
  expired: Counter.Internal;
  refused: Counter.Internal;
  /** An event of this slot did not reach Kafka: its key (the symbol). */
  lost: ((key: string) => void) | null;
}

/**
 * The gateway's Kafka producer: normalized events as msgpack, keyed by symbol, idempotent (so
 * acks=all and no duplicates from librdkafka's retries), compressed, lingering `ingest.lingerMs`.
 * Its queue is the gateway's buffer: bounded by `ingest.bufferMaxMessages` and
 * `ingest.bufferMaxMb`, it holds what a Kafka outage piles up for `ingest.deliveryTimeoutMs`;
 * what does not fit, expires or is refused is counted per feed and type, never dropped silently.
 */
export class IngestProducer {
  private readonly producer: Kafka.Producer;
  private readonly slots: Slot[] = [];
  private pollTimer: NodeJS.Timeout | null = null;
  private buffered = 0;
  private lastDropLogMs = 0;
  private dropsSinceLog = 0;
  private down = false;
  /** When an event last failed to reach Kafka (ms). */
  private lastLossMs = 0;
  /** Receive → acknowledged, µs, exact to 1.6 % (the Prometheus histogram's buckets are coarse): for the benchmark. */
  readonly ackLatency = new LatencyHistogram();

  constructor(private readonly kafka: KafkaConfig, private readonly ingest: IngestConfig, private readonly metrics: IngestMetrics, private readonly log: Logger) {
    // The sinks' producer (idempotent, delivery reports, no Nagle) with the gateway's linger,
    // compression and buffer bounds.
    this.producer = createSinkProducer(kafka, 'ingest', {
      'linger.ms': ingest.lingerMs,
      'compression.codec': ingest.compression,
      'queue.buffering.max.messages': ingest.bufferMaxMessages,
      'queue.buffering.max.kbytes': ingest.bufferMaxMb * 1024,
      'batch.num.messages': 10_000,
    }, { 'message.timeout.ms': ingest.deliveryTimeoutMs });
    this.producer.on('delivery-report', (err, report) => this.delivered(err, report));
    metrics.onScrape(() => {
      for (const s of this.slots) {
        s.events.sync(s.sent);
        s.delivered.sync(s.acked);
      }
      metrics.buffered.set(this.buffered);
    });
    this.producer.on('event.error', (err: Kafka.LibrdKafkaError) => {
      // node-rdkafka hands librdkafka's error events on with code -1: the message names the state.
      if (err.code === KafkaCode.ALL_BROKERS_DOWN || /all broker connections are down/i.test(err.message)) this.setKafkaDown(true);
      // While every broker is down, librdkafka reports each failed reconnect (~1/s): the outage is said once.
      else if (!this.down) this.log.warn({ err }, 'ingest producer error');
    });
  }

  /**
   * The counters of `feed`'s events of `type`: the slot to pass to `send`. `lost` hears of each
   * event of the slot that did not reach Kafka, by key, when it is known (at once when the buffer
   * is full, on the delivery report when Kafka did not take it).
   */
  slot(feed: string, venue: string, type: string, lost: ((key: string) => void) | null = null): number {
    this.slots.push({
      lost, sent: 0, acked: 0,
      events: new TotalCounter(this.metrics.events.labels(feed, venue, type)),
      delivered: new TotalCounter(this.metrics.delivered.labels(feed, venue, type)),
      bufferFull: this.metrics.dropped.labels(feed, venue, type, 'buffer_full'),
      expired: this.metrics.dropped.labels(feed, venue, type, 'expired'),
      refused: this.metrics.dropped.labels(feed, venue, type, 'refused'),
    });
    return this.slots.length - 1;
  }

  async connect(): Promise<void> {
    await connectClient(this.producer, this.kafka);
    this.pollTimer = setInterval(() => { if (this.producer.isConnected()) this.producer.poll(); }, POLL_MS);
  }

  /** Hands `event` (received at `recvUs`) to Kafka; false when it was dropped (counted and logged). */
  send(slot: number, event: MarketEvent, recvUs: number): boolean {
    return this.produce(slot, this.ingest.topic, encodeEvent(event), event.symbol, recvUs, undefined);
  }

  /**
   * Hands a venue message the gateway could not understand to the dead-letter topic, as
   * received, with why; counted under `slot` (its feed's `unrecognized` slot) like an event.
   */
  sendRaw(slot: number, feed: string, venue: string, frame: string, reason: string, recvUs: number): boolean {
    return this.produce(slot, this.ingest.deadLetterTopic, Buffer.from(frame), feed, recvUs,
      [{ 'x-feed': feed }, { 'x-venue': venue }, { 'x-error-message': reason }, { 'x-received-us': String(recvUs) }]);
  }

  /** One message to librdkafka's queue, counted under `slot`; a refusal (the buffer full, too large) is counted and logged. */
  private produce(slot: number, topic: string, value: Buffer, key: string, recvUs: number, headers: Kafka.MessageHeader[] | undefined): boolean {
    const s = this.slots[slot]!;
    s.sent++;
    try {
      this.producer.produce(topic, null, value, key, Math.floor(recvUs / 1000), slot * TIME_SPAN + (recvUs % TIME_SPAN), headers);
    } catch (err) {
      const full = (err as { code?: unknown }).code === KafkaCode.QUEUE_FULL;
      (full ? s.bufferFull : s.refused).inc();
      this.noteDrop(full ? 'the buffer is full (ingest.bufferMaxMessages / bufferMaxMb)' : 'the producer refused it', err);
      s.lost?.(key);
      return false;
    }
    this.buffered++;
    return true;
  }

  /** Events handed over and not yet acknowledged or dropped. */
  get pending(): number {
    return this.buffered;
  }

  /**
   * Waits up to `flushMs` for what is buffered, then disconnects. Returns how many events Kafka
   * had not acknowledged by then (lost with the process, and logged).
   */
  async close(flushMs: number): Promise<number> {
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    this.pollTimer = null;
    if (!this.producer.isConnected()) return this.buffered;
    const flushed = await new Promise<boolean>((resolve) => this.producer.flush(flushMs, (err) => resolve(!err)));
    // librdkafka's flush ends once its queue is empty; node-rdkafka hands the last delivery
    // reports to JavaScript on a later turn of the event loop: wait for them (a few ms).
    for (let i = 0; flushed && this.buffered > 0 && i < 200; i++) {
      this.producer.poll();
      await new Promise((r) => setTimeout(r, 1));
    }
    const lost = this.buffered;
    if (lost > 0) this.log.error({ events: lost }, 'stopping with events Kafka has not acknowledged: they are lost');
    await new Promise<void>((resolve) => this.producer.disconnect(0, () => resolve()));
    return lost;
  }

  private delivered(err: Kafka.LibrdKafkaError | null, report: Kafka.DeliveryReport): void {
    const opaque = report.opaque as number;
    const s = this.slots[Math.floor(opaque / TIME_SPAN)];
    if (s === undefined) return;
    this.buffered--;
    if (err) {
      (err.code === KafkaCode.MSG_TIMED_OUT ? s.expired : s.refused).inc();
      this.noteDrop(err.code === KafkaCode.MSG_TIMED_OUT ? 'Kafka did not take it within ingest.deliveryTimeoutMs' : 'Kafka refused it', err);
      if (s.lost !== null && report.key !== null && report.key !== undefined) s.lost(report.key.toString());
      return;
    }
    if (this.down) this.setKafkaDown(false);
    s.acked++;
    const nowUs = Math.round(wallClockMs() * 1000);
    const elapsedUs = (((nowUs % TIME_SPAN) - (opaque % TIME_SPAN)) + TIME_SPAN) % TIME_SPAN;
    this.metrics.receiveToAck.observe(elapsedUs / 1e6);
    this.ackLatency.record(elapsedUs);
  }

  /**
   * Whether Kafka takes events again after losing some: no event lost for a second, the buffer
   * less than half full, a broker up. A snapshot asked for before then would likely be lost too.
   */
  get accepting(): boolean {
    return !this.down && this.buffered < this.ingest.bufferMaxMessages / 2 && Date.now() - this.lastLossMs >= 1_000;
  }

  /** Logs drops at most every 10 s, with how many since the last line. */
  private noteDrop(why: string, err: unknown): void {
    this.dropsSinceLog++;
    const now = Date.now();
    this.lastLossMs = now;
    if (now - this.lastDropLogMs < 10_000) return;
    this.log.error({ err, dropped: this.dropsSinceLog, buffered: this.buffered }, `events dropped: ${why}`);
    this.lastDropLogMs = now;
    this.dropsSinceLog = 0;
  }

  /** Every broker down, as librdkafka last said (until a delivery succeeds again). */
  get kafkaDown(): boolean {
    return this.down;
  }

  private setKafkaDown(down: boolean): void {
    if (down === this.down) return;
    this.down = down;
    this.metrics.kafkaDown.set(down ? 1 : 0);
    if (down) this.log.error({ buffered: this.buffered }, 'Kafka unreachable: buffering events (bounded by ingest.bufferMaxMessages / bufferMaxMb)');
    else this.log.info({ buffered: this.buffered }, 'Kafka reachable again');
  }
}
