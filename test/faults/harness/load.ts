import { createHash } from 'node:crypto';
import Kafka from 'node-rdkafka';
import { encodeEvent } from '../../../src/codec/encode.js';
import { DEFAULT_VENUES, SyntheticMarket, symbolNames } from '../../../src/codec/synthetic.js';
import { poisonKey, type PoisonCode, type PoisonKind } from './poison.js';

/** One poison message as the broker stored it: what the dead-letter topic must hold for it. */
export interface PoisonRecord {
  kind: string;
  code: PoisonCode;
  key: string;
  partition: number;
  offset: number;
  /** Value bytes (0 for a tombstone) and their SHA-256, to check what the dead letter kept. */
  size: number;
  sha256: string;
}

/** What a load put in the topic, from the broker's delivery reports. */
export interface Ledger {
  valid: number;
  poison: PoisonRecord[];
  failed: number;
}

export interface LoadOptions {
  brokers: string;
  topic: string;
  /** Messages per second (open loop); 0 = as fast as the producer takes them. */
  rate: number;
  /** Stop after this many messages (poison included); without it, run until `stop`. */
  count?: number;
  /** One poison message per this many messages; 0 = none. */
  poisonEvery: number;
  kinds: readonly PoisonKind[];
  symbols?: number;
  venues?: readonly string[];
  seed?: number;
}

/**
 * Synthetic ticks keyed by symbol with poison spread through them (kind after kind), produced
 * by an idempotent producer, so the topic holds each message exactly once whatever the broker
 * goes through. The ledger counts valid events delivered and where each poison message landed.
 */
export class FaultLoad {
  readonly ledger: Ledger = { valid: 0, poison: [], failed: 0 };
  private readonly producer: Kafka.Producer;
  private sent = 0;
  private delivered = 0;
  private stopped = false;
  private running: Promise<void> | null = null;
  private ending: Promise<Ledger> | null = null;
  private lastError = '';

  constructor(private readonly options: LoadOptions) {
    this.producer = new Kafka.Producer({
      'metadata.broker.list': options.brokers,
      'client.id': 'himari-faults-load',
      dr_cb: true,
      'enable.idempotence': true,
      'linger.ms': 5,
      'batch.num.messages': 10_000,
      'queue.buffering.max.messages': 500_000,
      'queue.buffering.max.kbytes': 1_048_576,
      // The heap bomb is 3 MB; the topic is created to take it.
      'message.max.bytes': 8 * 1024 * 1024,
      'compression.codec': 'none',
    }, {
      // A broker restart must not fail a message: librdkafka retries until this passes.
      'message.timeout.ms': 600_000,
    });
    this.producer.on('delivery-report', (err, report) => {
      this.delivered++;
      if (err) {
        this.ledger.failed++;
        this.lastError = err.message;
        return;
      }
      const record = report.opaque as PoisonRecord | undefined;
      if (record === undefined) {
        this.ledger.valid++;
        return;
      }
      record.partition = report.partition;
      record.offset = report.offset;
      this.ledger.poison.push(record);
    });
  }

  /** Connects and starts sending; resolves once the producer is connected. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.producer.connect({ timeout: 30_000 }, (err) => (err ? reject(err) : resolve())));
    this.producer.setPollInterval(5);
    this.running = this.send();
  }

  get messagesSent(): number {
    return this.sent;
  }

  /** Stops sending (if it has not finished) and resolves with the ledger once every message is delivered. */
  async stop(): Promise<Ledger> {
    this.stopped = true;
    return this.finished();
  }

  /** Resolves with the ledger once `count` messages (or all until `stop`) were sent and delivered. */
  finished(): Promise<Ledger> {
    this.ending ??= this.end();
    return this.ending;
  }

  private async end(): Promise<Ledger> {
    await this.running;
    await new Promise<void>((resolve, reject) => this.producer.flush(600_000, (err) => (err ? reject(err) : resolve())));
    const deadline = Date.now() + 60_000;
    while (this.delivered < this.sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise<void>((resolve) => this.producer.disconnect(() => resolve()));
    if (this.delivered < this.sent) throw new Error(`load: ${this.sent - this.delivered} of ${this.sent} messages without a delivery report`);
    if (this.ledger.failed > 0) throw new Error(`load: ${this.ledger.failed} messages failed (${this.lastError})`);
    return this.ledger;
  }

  private async send(): Promise<void> {
    const o = this.options;
    const market = new SyntheticMarket(o.venues ?? DEFAULT_VENUES, symbolNames(o.symbols ?? 30), o.seed ?? 42);
    const total = o.count ?? Number.POSITIVE_INFINITY;
    const started = performance.now();
    let poisonSent = 0;
    while (this.sent < total && !this.stopped) {
      const due = o.rate > 0 ? Math.min(total, Math.floor(((performance.now() - started) / 1000) * o.rate)) : Math.min(total, this.sent + 2_000);
      while (this.sent < due && !this.stopped) {
        const i = this.sent;
        const isPoison = o.poisonEvery > 0 && o.kinds.length > 0 && i % o.poisonEvery === o.poisonEvery >> 1;
        try {
          if (isPoison) {
            const kind = o.kinds[poisonSent % o.kinds.length]!;
            const n = Math.floor(poisonSent / o.kinds.length);
            const value = kind.make(n);
            const record: PoisonRecord = {
              kind: kind.name, code: kind.code, key: poisonKey(kind.name, `${o.seed ?? 42}.${n}`), partition: -1, offset: -1,
              size: value?.length ?? 0, sha256: createHash('sha256').update(value ?? Buffer.alloc(0)).digest('hex'),
            };
            this.producer.produce(o.topic, null, value, record.key, Date.now(), record);
            poisonSent++;
          } else {
            const e = market.next(Date.now() * 1000);
            this.producer.produce(o.topic, null, encodeEvent(e), e.symbol, Date.now());
          }
          this.sent++;
        } catch {
          // The local queue is full (the broker is away): wait for it to drain.
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      await new Promise((r) => (o.rate > 0 ? setTimeout(r, 5) : setImmediate(r)));
    }
  }
}
