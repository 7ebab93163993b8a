import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { SinkPolicy } from '../config/schema.js';
import { Verdict } from '../codec/event.js';
import { errorMessage } from '../errors.js';
import { wallClockMs } from '../obs/clock.js';
import { LatencyHistogram } from '../obs/latency-histogram.js';
import { LatencySeries } from '../obs/latency-series.js';
import type { Metrics } from '../obs/metrics.js';
import type { EventChunk } from './chunk.js';

/**
 * What a sink implements: I/O only. The core around it owns batching, retries, backpressure,
 * acknowledgements and metrics, the same for every sink.
 */
export interface SinkDriver {
  /** Metric label and log name. */
  readonly name: string;
  /** Opens and warms connections. Called once before the first write; may throw a retriable error. */
  connect(): Promise<void>;
  /**
   * Writes every event of the chunks, atomically and idempotently: a batch written twice (a
   * replay after a crash) must leave the sink as if written once. Throws on failure; the core
   * classifies the error with `isRetriable`.
   */
  writeBatch(chunks: readonly EventChunk[]): Promise<void>;
  isRetriable(err: unknown): boolean;
  close(): Promise<void>;
}

/** Where events that a sink refuses for good (non-retriable, isolated to one event) go. */
export type PermanentFailureHandler = (chunk: EventChunk, index: number, err: unknown) => Promise<void>;

type FlushReason = 'rows' | 'bytes' | 'time' | 'idle' | 'close';

interface SealedBatch {
  chunks: EventChunk[];
  rows: number;
}

export interface SinkCoreOptions {
  policy: SinkPolicy;
  metrics: Metrics;
  log: Logger;
  onPermanentFailure: PermanentFailureHandler;
}

/**
 * Batching and delivery core shared by every sink. `push` takes chunks; a batch is sealed at
 * `batchMaxRows` events, `batchMaxBytes` bytes, or `batchMaxMs` after its first event, whichever
 * comes first; with `flushWhenIdle`, also at once when no write is in flight (batches then grow
 * only while the sink is busy, so light load costs no batching delay). Batches are written one at a time, in order (per-partition order is what makes
 * the sinks' offset watermarks exact). `push` returns false once `maxInFlightBatches` are
 * queued: the source pauses until 'drain'.
 *
 * Retriable errors are retried forever with capped exponential backoff and full jitter (an
 * outage stops consumption; it never drops or dead-letters data). A non-retriable error is
 * isolated by bisecting the batch down to the offending event, which goes to the permanent
 * failure handler; the rest is written.
 */
export class SinkCore extends EventEmitter {
  private open: EventChunk[] = [];
  private openRows = 0;
  private openBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly sealed: SealedBatch[] = [];
  private writing = false;
  private closed = false;
  private connected = false;
  private failingSince = 0;
  private lastError = '';
  private readonly idleWaiters: Array<() => void> = [];
  readonly name: string;
  /** Send time (intended, else Kafka timestamp) to confirmed write, µs, since start. */
  readonly latency = new LatencyHistogram();
  /** The same per wall-clock second, for a load test polling /debug/latency. */
  readonly latencySeries = new LatencySeries();

  constructor(private readonly driver: SinkDriver, private readonly options: SinkCoreOptions) {
    super();
    this.name = driver.name;
  }

  async connect(): Promise<void> {
    await this.retrying('connect', () => this.driver.connect());
    this.connected = true;
  }

  /** Accepts a chunk (always); returns false when the source should pause. */
  push(chunk: EventChunk): boolean {
    if (this.closed) throw new Error(`${this.name} sink is closed`);
    const { batchMaxRows, batchMaxBytes, batchMaxMs } = this.options.policy;
    for (;;) {
      const room = batchMaxRows - this.openRows;
      if (chunk.rows > room) {
        this.append(chunk.splitFront(room));
        this.seal('rows');
        continue;
      }
      this.append(chunk);
      break;
    }
    if (this.openRows >= batchMaxRows) this.seal('rows');
    else if (this.openBytes >= batchMaxBytes) this.seal('bytes');
    else if (this.options.policy.flushWhenIdle && !this.writing) this.seal('idle');
    else if (this.openRows > 0 && this.timer === null) {
      if (batchMaxMs === 0) this.seal('time');
      else this.timer = setTimeout(() => { this.timer = null; this.seal('time'); }, batchMaxMs);
    }
    return !this.saturated;
  }

  private append(chunk: EventChunk): void {
    this.open.push(chunk);
    this.openRows += chunk.rows;
    this.openBytes += chunk.bytes;
  }

  /** True while the in-flight budget is used up (`sealed` includes the batch being written). */
  get saturated(): boolean {
    return this.sealed.length >= this.options.policy.maxInFlightBatches;
  }

  /** Ready for traffic: connected and not in an outage. */
  get healthy(): boolean {
    return this.connected && this.failingSince === 0;
  }

  get statusText(): string {
    if (!this.connected) return `${this.name}: not connected`;
    if (this.failingSince !== 0) return `${this.name}: failing for ${Math.round((Date.now() - this.failingSince) / 1000)} s: ${this.lastError}`;
    return `${this.name}: ok`;
  }

  private seal(reason: FlushReason): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    if (this.openRows === 0) return;
    this.options.metrics.flushes.inc({ sink: this.name, reason });
    this.sealed.push({ chunks: this.open, rows: this.openRows });
    this.open = [];
    this.openRows = 0;
    this.openBytes = 0;
    if (!this.writing) void this.writeLoop();
  }

  private async writeLoop(): Promise<void> {
    this.writing = true;
    const m = this.options.metrics;
    while (this.sealed.length > 0) {
      const batch = this.sealed[0]!;
      const started = performance.now();
      const landed: EventChunk[] = [];
      await this.writeIsolating(batch.chunks, landed);
      m.writeSeconds.observe({ sink: this.name }, (performance.now() - started) / 1000);
      m.flushRows.observe({ sink: this.name }, batch.rows);
      m.written.inc({ sink: this.name }, batch.rows);
      this.sealed.shift();
      // The write is confirmed now (the driver's COMMIT / EVAL reply has returned).
      const now = wallClockMs();
      const e2e = m.endToEnd.labels(this.name);
      const second = this.latencySeries.at(now);
      for (const chunk of landed) {
        const verdicts = chunk.result.verdicts;
        const sent = chunk.sentMs;
        for (let i = chunk.from; i < chunk.to; i++) {
          const sentMs = sent[i]!;
          if (sentMs > 0 && verdicts[i]! <= Verdict.REJECTED) {
            const us = (now - sentMs) * 1000;
            e2e.observe(us / 1e6);
            this.latency.record(us);
            second.record(us);
          }
        }
        chunk.ticket.ack();
      }
      if (!this.saturated) this.emit('drain');
    }
    this.writing = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Writes with retries; on a permanent error, bisects to the failing event. Every piece that
   * landed (written, or dead-lettered) is appended to `landed`, to be acknowledged.
   */
  private async writeIsolating(chunks: EventChunk[], landed: EventChunk[]): Promise<void> {
    try {
      await this.retrying('write', () => this.driver.writeBatch(chunks));
      for (const c of chunks) landed.push(c);
      return;
    } catch (err) {
      const rows = chunks.reduce((n, c) => n + c.rows, 0);
      if (rows === 1) {
        const chunk = chunks.find((c) => c.rows === 1)!;
        this.options.log.error({ sink: this.name, err: errorMessage(err), topic: chunk.topic, partition: chunk.partition, offset: chunk.offset(chunk.from) }, 'event refused by sink; dead-lettering it');
        await this.options.onPermanentFailure(chunk, chunk.from, err);
        for (const c of chunks) landed.push(c);
        return;
      }
      const [left, right] = bisect(chunks, rows);
      await this.writeIsolating(left, landed);
      await this.writeIsolating(right, landed);
    }
  }

  /** Runs `op` until it succeeds or throws a non-retriable error (which it rethrows). */
  private async retrying(what: string, op: () => Promise<void>): Promise<void> {
    const { initialMs, maxMs } = this.options.policy.retry;
    for (let attempt = 0; ; attempt++) {
      try {
        await op();
        if (this.failingSince !== 0) {
          this.options.log.info({ sink: this.name, downMs: Date.now() - this.failingSince }, `${this.name} recovered`);
          this.failingSince = 0;
        }
        return;
      } catch (err) {
        // A typed error says for itself (drivers type their connect errors); otherwise the driver decides.
        const typed = (err as { retriable?: unknown }).retriable;
        const retriable = typeof typed === 'boolean' ? typed : this.driver.isRetriable(err);
        this.options.metrics.sinkErrors.inc({ sink: this.name, retriable: String(retriable) });
        if (!retriable) throw err;
        if (this.failingSince === 0) this.failingSince = Date.now();
        this.lastError = errorMessage(err);
        const delay = Math.random() * Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 20));
        this.options.metrics.retries.inc({ sink: this.name });
        if (attempt === 0 || attempt % 10 === 0) {
          this.options.log.warn({ sink: this.name, attempt, err: this.lastError }, `${this.name} ${what} failed; retrying`);
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Seals the open batch and resolves when everything pushed so far is written. */
  flush(): Promise<void> {
    this.seal('close');
    if (!this.writing && this.sealed.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.driver.close();
  }
}

/** Splits chunks holding `rows` events into two halves of events (a chunk may be cut in two). */
function bisect(chunks: EventChunk[], rows: number): [EventChunk[], EventChunk[]] {
  let need = Math.floor(rows / 2);
  const left: EventChunk[] = [];
  const right: EventChunk[] = [];
  for (const c of chunks) {
    if (need === 0) right.push(c);
    else if (c.rows <= need) { left.push(c); need -= c.rows; }
    else { left.push(c.splitFront(need)); right.push(c); need = 0; }
  }
  return [left, right];
}
