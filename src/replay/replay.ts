import type { KafkaConfig } from '../config/schema.js';
import { encodeEvent } from '../codec/encode.js';
import type { MarketEvent } from '../codec/event.js';
import { connectProducer, createProducer } from '../kafka/clients.js';
import { ensureTopics } from '../source/kafka-admin.js';
import { ErrorCode, HimariError } from '../errors.js';

export interface ReplayOptions {
  topic: string;
  /** 0 = as fast as possible; otherwise the recorded pace divided by this factor (2 = twice as fast). */
  speed: number;
  /** Hears every 1024th event handed to the producer, then each check of the deliveries at the end. */
  onProgress?: (progress: { produced: number; delivered: number; total: number }) => void;
}

export interface ReplayStats {
  files: number;
  events: number;
  byType: Record<string, number>;
  elapsedMs: number;
}

/**
 * Produces the normalized events of recordings (one array per file, `readRecordingEvents`) to
 * Kafka, keyed by symbol, merged across files in receive-time order. Events keep their recorded
 * times; at a finite speed they are sent on the recorded schedule (gaps divided by `speed`).
 */
export async function replay(config: KafkaConfig, files: readonly (readonly MarketEvent[])[], options: ReplayOptions): Promise<ReplayStats> {
  const events: MarketEvent[] = [];
  for (const f of files) events.push(...f);
  // Stable sort: within a file the recorded order is kept for equal receive times.
  events.sort((a, b) => a.recvTs - b.recvTs);
  await ensureTopics(config, [options.topic]);
  const producer = createProducer(config, 'replay');
  await connectProducer(producer, config);
  let delivered = 0;
  let failed = 0;
  producer.on('delivery-report', (err) => { if (err) failed++; else delivered++; });
  const byType: Record<string, number> = {};
  const started = Date.now();
  const firstRecv = events[0]?.recvTs ?? 0;
  let produced = 0;
  for (const e of events) {
    if (options.speed > 0) {
      const due = started + (e.recvTs - firstRecv) / 1000 / options.speed;
      const wait = due - Date.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    }
    for (;;) {
      try {
        producer.produce(options.topic, null, encodeEvent(e), e.symbol, Date.now());
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 5)); // local queue full
      }
    }
    byType[e.type] = (byType[e.type] ?? 0) + 1;
    if (options.onProgress !== undefined && (++produced & 1023) === 0) options.onProgress({ produced, delivered, total: events.length });
  }
  await new Promise<void>((resolve, reject) => producer.flush(60_000, (err) => (err ? reject(err) : resolve())));
  const deadline = Date.now() + 10_000;
  while (delivered + failed < events.length && Date.now() < deadline) {
    options.onProgress?.({ produced: events.length, delivered, total: events.length });
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  if (failed > 0) throw new HimariError(ErrorCode.DELIVERY_FAILED, `${failed} of ${events.length} replayed events were not delivered`);
  return { files: files.length, events: events.length, byType, elapsedMs: Date.now() - started };
}
