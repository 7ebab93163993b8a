import type Kafka from 'node-rdkafka';
import type { KafkaConfig } from '../config/schema.js';
import { encodeEvent } from '../codec/encode.js';
import { RateSchedule } from './schedule.js';
import { wallClockMs } from '../obs/clock.js';
import { LatencyHistogram } from '../obs/latency-histogram.js';
import { INTENDED_SEND_HEADER, intendedSendValue } from '../source/intended-send.js';
import { ensureTopics } from '../source/kafka-admin.js';
import { connectProducer, createProducer } from '../kafka/clients.js';
import { SyntheticMarket, poisonMessage, symbolNames } from '../codec/synthetic.js';

export { INTENDED_SEND_HEADER } from '../source/intended-send.js';

export interface ProduceOptions {
  topic: string;
  symbols: number;
  venues: string[];
  /** Events per second (open loop); 0 = as fast as the producer accepts. */
  rate: number;
  durationS: number;
  /** Total events instead of a duration, when set. */
  count?: number;
  /** A rate pattern instead of `rate` (the load test's `--pattern`). */
  schedule?: RateSchedule;
  /** Poison messages spread through the run. */
  bad: number;
  /** Send JSON instead of msgpack (the old producers). */
  json?: boolean;
  seed?: number;
  /**
   * Stamp each message with its intended send time (header `x-intended-ns`, the latency's start);
   * default true. The ingest gateway's events carry no header, and node-rdkafka converts a header
   * into objects per message (+1.7 µs of consume CPU per message, measured): a drain's backlog,
   * whose latency nobody reads, goes without.
   */
  stamp?: boolean;
}

export interface ProduceStats {
  produced: number;
  bad: number;
  delivered: number;
  failed: number;
  elapsedMs: number;
}

/**
 * Synthetic ticks keyed by symbol, sent on an open-loop schedule: each message is stamped with
 * the time the schedule put it at (`x-intended-ns`), and a generator that falls behind catches
 * up in a burst rather than sending less. `stats` is live while `run` goes, for a load test to
 * sample; `lateness` is how late each send was against its schedule.
 */
export class OpenLoopGenerator {
  readonly stats: ProduceStats = { produced: 0, bad: 0, delivered: 0, failed: 0, elapsedMs: 0 };
  /** Actual send (the produce call) minus intended send, µs. */
  readonly lateness = new LatencyHistogram();
  /** Unix ms at which the schedule started (second 0). */
  startedMs = 0;
  private stopped = false;
  private readonly onReport = (err: unknown): void => { if (err) this.stats.failed++; else this.stats.delivered++; };

  /** The producer may be shared by generators that run one after another (not at once). */
  constructor(private readonly producer: Kafka.Producer, private readonly options: ProduceOptions) {}

  /** Ends the run early (the rest of the schedule is not sent). */
  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<ProduceStats> {
    this.producer.on('delivery-report', this.onReport);
    try {
      return await this.send();
    } finally {
      this.producer.off('delivery-report', this.onReport);
    }
  }

  private async send(): Promise<ProduceStats> {
    const o = this.options;
    const { stats, producer } = this;
    const market = new SyntheticMarket(o.venues, symbolNames(o.symbols), o.seed);
    const asFast = o.schedule === undefined && o.rate <= 0;
    const schedule = o.schedule ?? (asFast ? null : RateSchedule.fixed(o.rate, o.count === undefined ? o.durationS : o.count / o.rate));
    const total = o.count ?? schedule!.total;
    const badEvery = o.bad > 0 ? Math.max(1, Math.floor(total / (o.bad + 1))) : Infinity;
    const start = performance.now();
    this.startedMs = wallClockMs();
    let sent = 0;
    while (sent < total && !this.stopped) {
      const elapsedS = (performance.now() - start) / 1000;
      const due = schedule === null ? Math.min(total, sent + 5000) : Math.min(total, schedule.dueAt(elapsedS));
      while (sent < due) {
        const now = wallClockMs();
        // Intended send time: where the open-loop schedule put this message, not when we got to it.
        const intendedMs = schedule === null ? now : this.startedMs + schedule.timeOf(sent) * 1000;
        const headers = o.stamp === false ? undefined : [{ [INTENDED_SEND_HEADER]: intendedSendValue(intendedMs) }];
        const isBad = stats.bad < o.bad && sent > 0 && sent % badEvery === 0;
        try {
          if (isBad) {
            producer.produce(o.topic, null, poisonMessage(stats.bad), 'POISON', Math.floor(now), undefined, headers);
            stats.bad++;
          } else {
            const e = market.next(Math.floor(now * 1000));
            const value = o.json ? Buffer.from(JSON.stringify(e)) : encodeEvent(e);
            producer.produce(o.topic, null, value, e.symbol, Math.floor(now), undefined, headers);
            stats.produced++;
          }
          if (schedule !== null) this.lateness.record((now - intendedMs) * 1000);
          sent++;
        } catch {
          // Local queue full: let delivery reports drain it.
          await new Promise((r) => setTimeout(r, 5));
          break;
        }
      }
      // Sleep when on schedule; only yield when behind (the queue was full).
      if (sent < total) await new Promise((r) => (sent >= due ? setTimeout(r, 1) : setImmediate(r)));
    }
    await new Promise<void>((resolve, reject) => producer.flush(60_000, (err) => (err ? reject(err) : resolve())));
    // Delivery reports arrive on poll; give the last ones a moment.
    const deadline = Date.now() + 10_000;
    while (stats.delivered + stats.failed < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    stats.elapsedMs = Math.round(wallClockMs() - this.startedMs);
    return stats;
  }
}

/** Produces synthetic ticks keyed by symbol at a fixed rate; poison messages spread through. */
export async function produce(config: KafkaConfig, options: ProduceOptions): Promise<ProduceStats> {
  await ensureTopics(config, [options.topic]);
  const producer = createProducer(config, 'produce');
  await connectProducer(producer, config);
  try {
    return await new OpenLoopGenerator(producer, options).run();
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
}
