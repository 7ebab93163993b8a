import Kafka from 'node-rdkafka';
import type { KafkaConfig } from '../config/schema.js';
import { encodeEvent } from '../codec/encode.js';
import { ensureTopics } from '../source/kafka-admin.js';
import { SyntheticMarket, poisonMessage, symbolNames } from './synthetic.js';

export interface ProduceOptions {
  topic: string;
  symbols: number;
  venues: string[];
  /** Events per second (open loop); 0 = as fast as the producer accepts. */
  rate: number;
  durationS: number;
  /** Total events instead of a duration, when set. */
  count?: number;
  /** Poison messages spread through the run. */
  bad: number;
  /** Send JSON instead of msgpack (the old producers). */
  json?: boolean;
  seed?: number;
}

export interface ProduceStats {
  produced: number;
  bad: number;
  delivered: number;
  failed: number;
  elapsedMs: number;
}

/** Header carrying the intended send time in ns (coordinated-omission-free latency). */
export const INTENDED_SEND_HEADER = 'x-intended-ns';

export function createProducer(config: KafkaConfig, clientSuffix: string): Kafka.Producer {
  return new Kafka.Producer({
    'metadata.broker.list': config.brokers,
    'client.id': `${config.clientId}-${clientSuffix}`,
    dr_cb: true,
    'linger.ms': 1,
    'batch.num.messages': 10_000,
    'queue.buffering.max.messages': 1_000_000,
    'queue.buffering.max.kbytes': 1_048_576,
    'socket.nagle.disable': true,
    'compression.codec': 'none',
  });
}

export async function connectProducer(p: Kafka.Producer): Promise<void> {
  await new Promise<void>((resolve, reject) => p.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  p.setPollInterval(5);
}

/** Produces synthetic ticks keyed by symbol at a fixed rate; poison messages spread through. */
export async function produce(config: KafkaConfig, options: ProduceOptions): Promise<ProduceStats> {
  await ensureTopics(config, [options.topic]);
  const producer = createProducer(config, 'produce');
  await connectProducer(producer);
  const stats: ProduceStats = { produced: 0, bad: 0, delivered: 0, failed: 0, elapsedMs: 0 };
  producer.on('delivery-report', (err) => { if (err) stats.failed++; else stats.delivered++; });
  const market = new SyntheticMarket(options.venues, symbolNames(options.symbols), options.seed);
  const total = options.count ?? Math.round(options.rate * options.durationS);
  const badEvery = options.bad > 0 ? Math.max(1, Math.floor(total / (options.bad + 1))) : Infinity;
  const start = process.hrtime.bigint();
  const startMs = Date.now();

  let sent = 0;
  while (sent < total) {
    const elapsedNs = Number(process.hrtime.bigint() - start);
    const due = options.rate > 0 ? Math.min(total, Math.floor((elapsedNs / 1e9) * options.rate)) : Math.min(total, sent + 5000);
    while (sent < due) {
      // Intended send time: where the open-loop schedule put this message, not when we got to it.
      const intendedNs = options.rate > 0 ? BigInt(startMs) * 1_000_000n + BigInt(Math.round((sent / options.rate) * 1e9)) : BigInt(Date.now()) * 1_000_000n;
      const headers = [{ [INTENDED_SEND_HEADER]: intendedNs.toString() }];
      const isBad = stats.bad < options.bad && sent > 0 && sent % badEvery === 0;
      try {
        if (isBad) {
          producer.produce(options.topic, null, poisonMessage(stats.bad), 'POISON', Date.now(), undefined, headers);
          stats.bad++;
        } else {
          const e = market.next(Date.now() * 1000);
          const value = options.json ? Buffer.from(JSON.stringify(e)) : encodeEvent(e);
          producer.produce(options.topic, null, value, e.symbol, Date.now(), undefined, headers);
          stats.produced++;
        }
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
  stats.elapsedMs = Date.now() - startMs;
  await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  return stats;
}
