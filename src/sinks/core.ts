import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { SinkPolicy } from '../config/schema.js';
import { ErrorCode, HimariError, backoffMs, errorMessage, isRetriable } from '../errors.js';
import type { Metrics } from '../obs/metrics.js';
import type { EventChunk } from './chunk.js';
import { RetryDelays } from './retry-delays.js';
import { RingQueue } from '../util/ring-queue.js';

/**
 * What the core batches: a run of rows of one source partition (an `EventChunk` of checked
 * events, a dead letter), which can be cut in two and is acknowledged once written. The core
 * reads these per item, never per row: an item is a batch-sized unit of work.
 */
export interface Batchable<Self> {
  readonly topic: string;
  readonly partition: number;
  /** Rows (events) in the item: the count measure of the batch policy; at least 1. */
  readonly rows: number;
  /** Encoded bytes: the size measure of the batch policy. */
  readonly bytes: number;
  /** The source offset of the first row (logs). */
  readonly firstOffset: number;
  /**
   * Detaches the first `n` rows (0 < n < rows) into a new item; this one keeps the rest. Both
   * are acknowledged on their own, so the source offsets wait for every piece.
   */
  splitFront(n: number): Self;
  /** The item is written (or handed over for good): its share of the source batch is done. */
  ack(): void;
}

/** How a driver closes (`SinkCore.close`): what the caller knows of the service and its time. */
export interface DriverCloseOptions {
  /** Time left to deliver what the driver's client still holds. */
  deadlineMs?: number;
  /** False when the service is known not to answer: nothing may block on it (a native call joined at exit). */
  graceful?: boolean;
}

/**
 * What a sink implements: I/O only. The core around it owns batching, retries, backpressure,
 * acknowledgements and metrics, the same for every sink.
 */
export interface SinkDriver<B extends Batchable<B> = EventChunk> {
  /** Metric label and log name. */
  readonly name: string;
  /**
   * Independent writers (connections) the driver has, 1 when absent. The core keeps one batch
   * queue per lane and writes the lanes concurrently; a partition always goes to the same lane
   * (`laneOf`), so per-partition order, and with it the drivers' watermarks, hold.
   */
  readonly lanes?: number;
  /** Opens and warms connections. Called once before the first write; may throw a retriable error. */
  connect(): Promise<void>;
  /**
   * Writes every event of the chunks, atomically and idempotently: a batch written twice (a
   * replay after a crash) must leave the sink as if written once. Throws on failure; the core
   * classifies the error with `isRetriable`. Every chunk of a call is of partitions of `lane`,
   * and no other call for that lane is in flight.
   */
  writeBatch(chunks: readonly B[], lane: number): Promise<void>;
  isRetriable(err: unknown): boolean;
  /**
   * The partition was revoked and its batches are written (or abandoned): forget what the driver
   * remembers of it (a cached watermark), since its next owner may move it.
   */
  release?(topic: string, partition: number): void;
  /**
   * Checks that `lane`'s connection answers (bounded by the driver's timeouts). The core calls it
   * on a lane that has not written for `sink.probeIntervalMs`, never while the lane writes; a
   * failure marks the lane failing (not ready) until a probe or a write succeeds.
   */
  probe?(lane: number): Promise<void>;
  close(how?: DriverCloseOptions): Promise<void>;
}

/** The lane a partition's events are written by, of `lanes`. */
export function laneOf(partition: number, lanes: number): number {
  return partition % lanes;
}

/**
 * The lane a driver's `writeBatch` writes `chunks` with: `lane` as the core passed it, else (a
 * caller without a core) the first chunk's. Throws when a chunk is of another lane's partition:
 * a partition written over two connections could commit out of order under one watermark.
 */
export function checkedLane(chunks: ReadonlyArray<{ readonly partition: number }>, lanes: number, lane?: number): number {
  const l = lane ?? (chunks.length === 0 ? 0 : laneOf(chunks[0]!.partition, lanes));
  for (const c of chunks) {
    if (laneOf(c.partition, lanes) !== l) throw new HimariError(ErrorCode.INTERNAL, `partition ${c.partition} is not written by connection ${l} of ${lanes}`);
  }
  return l;
}

/**
 * Takes an item of one row that the sink refused for good (a non-retriable error, isolated by
 * bisection) and says whether it is settled: true, the core acknowledges it like a written one
 * (the handler took it over: an event sink's refusal becomes a dead letter that holds the
 * ticket); false, it stays unacknowledged, so its source offset is never committed (a dead
 * letter the broker refuses for good). It must not throw.
 */
export type PermanentFailureHandler<B> = (item: B, err: unknown) => boolean;

type FlushReason = 'rows' | 'bytes' | 'time' | 'idle' | 'close';

interface SealedBatch<B> {
  chunks: B[];
  rows: number;
}

export interface SinkCoreOptions<B> {
  policy: SinkPolicy;
  metrics: Metrics;
  log: Logger;
  onPermanentFailure: PermanentFailureHandler<B>;
}

/**
 * One writer's share of a sink: its open batch, the sealed batches waiting for it, and whether
 * a write is in flight. A sink has one lane per driver connection.
 */
class Lane<B> {
  open: B[] = [];
  openRows = 0;
  openBytes = 0;
  timer: NodeJS.Timeout | null = null;
  /** Sealed batches, the one being written first. */
  readonly sealed = new RingQueue<SealedBatch<B>>();
  writing = false;
  /** When this lane's current outage began (0: none), and its last error. */
  failingSince = 0;
  lastError = '';
  /** Last time a write or a probe of this lane succeeded (ms). */
  lastOkAt = Date.now();
  probing = false;
  constructor(readonly index: number) {}
}

/**
 * Batching and delivery core shared by every sink. `push` takes chunks; a batch is sealed at
 * `batchMaxRows` events, `batchMaxBytes` bytes, or `batchMaxMs` after its first event, whichever
 * comes first; with `flushWhenIdle`, also at once when no write is in flight (batches then grow
 * only while the sink is busy, so light load costs no batching delay). Within a lane batches are
 * written one at a time, in order (per-partition order is what makes the sinks' offset
 * watermarks exact); lanes write concurrently. `push` returns false once a lane has
 * `maxInFlightBatches` queued: the source pauses until 'drain'.
 *
 * Retriable errors are retried forever with capped exponential backoff and full jitter (an
 * outage stops consumption; it never drops or dead-letters data). A non-retriable error is
 * isolated by bisecting the batch down to the offending event, which goes to the permanent
 * failure handler; the rest is written.
 *
 * Generic over what it batches (`Batchable`): checked events for Redis, PostgreSQL and the
 * output topic (`EventSinkCore`), dead letters for the dead-letter topic. What a kind of item
 * needs once its batch is confirmed (the events' end-to-end latency) is the `landed` hook, called
 * once per batch.
 */
export class SinkCore<B extends Batchable<B>> extends EventEmitter {
  private readonly lanes: Array<Lane<B>>;
  private closed = false;
  private connected = false;
  /** Set by `abort`: retries stop, batches not yet written stay unacknowledged. */
  private aborted = false;
  private probeTimer: NodeJS.Timeout | null = null;
  /** Retry delays, which `abort` ends at once. */
  private readonly delays = new RetryDelays();
  private readonly idleWaiters: Array<() => void> = [];
  readonly name: string;

  constructor(private readonly driver: SinkDriver<B>, protected readonly options: SinkCoreOptions<B>) {
    super();
    this.name = driver.name;
    const lanes = driver.lanes ?? 1;
    if (!Number.isInteger(lanes) || lanes < 1) throw new HimariError(ErrorCode.INTERNAL, `${driver.name}: lanes must be a positive integer, got ${lanes}`);
    this.lanes = Array.from({ length: lanes }, (_, i) => new Lane<B>(i));
    options.metrics.sinkConnections.set({ sink: this.name }, lanes);
    // Exported at 0 from the start: a rate over a series that appears only with the first retry
    // is empty, and an alert on it could not tell "no retries" from "no such metric".
    options.metrics.retries.inc({ sink: this.name }, 0);
    for (const retriable of ['true', 'false']) options.metrics.sinkErrors.inc({ sink: this.name, retriable }, 0);
  }

  async connect(): Promise<void> {
    await this.retrying(this.lanes[0]!, 'connect', () => this.driver.connect());
    this.connected = true;
    if (this.driver.probe !== undefined) {
      const every = this.options.policy.probeIntervalMs;
      this.probeTimer = setInterval(() => { for (const lane of this.lanes) void this.probeIdle(lane, every); }, Math.max(100, every / 2));
      this.probeTimer.unref();
    }
  }

  /** Probes a lane that neither wrote nor was probed successfully for `every` ms. */
  private async probeIdle(lane: Lane<B>, every: number): Promise<void> {
    if (lane.writing || lane.probing || this.closed || this.aborted || Date.now() - lane.lastOkAt < every) return;
    lane.probing = true;
    try {
      await this.driver.probe!(lane.index);
      this.succeeded(lane);
    } catch (err) {
      if (lane.failingSince === 0) {
        lane.failingSince = Date.now();
        this.options.log.warn({ sink: this.name, lane: lane.index, err }, `${this.name} probe failed: not ready`);
      }
      lane.lastError = errorMessage(err);
      this.options.metrics.sinkErrors.inc({ sink: this.name, retriable: 'true' });
    } finally {
      lane.probing = false;
    }
  }

  private succeeded(lane: Lane<B>): void {
    lane.lastOkAt = Date.now();
    if (lane.failingSince !== 0) {
      this.options.log.info({ sink: this.name, lane: lane.index, downMs: Date.now() - lane.failingSince }, `${this.name} recovered`);
      lane.failingSince = 0;
    }
  }

  /** Accepts an item (always); returns false when the source should pause. */
  push(chunk: B): boolean {
    if (this.closed) throw new HimariError(ErrorCode.CLOSED, `${this.name} sink is closed`);
    const lane = this.lanes[laneOf(chunk.partition, this.lanes.length)]!;
    const { batchMaxRows, batchMaxBytes, batchMaxMs } = this.options.policy;
    for (;;) {
      const room = batchMaxRows - lane.openRows;
      if (chunk.rows > room) {
        append(lane, chunk.splitFront(room));
        this.seal(lane, 'rows');
        continue;
      }
      append(lane, chunk);
      break;
    }
    if (lane.openRows >= batchMaxRows) this.seal(lane, 'rows');
    else if (lane.openBytes >= batchMaxBytes) this.seal(lane, 'bytes');
    else if (this.options.policy.flushWhenIdle && !lane.writing) this.seal(lane, 'idle');
    else if (lane.openRows > 0 && lane.timer === null) {
      if (batchMaxMs === 0) this.seal(lane, 'time');
      else lane.timer = setTimeout(() => { lane.timer = null; this.seal(lane, 'time'); }, batchMaxMs);
    }
    return !this.saturated;
  }

  /** True while a lane's in-flight budget is used up (`sealed` includes the batch being written). */
  get saturated(): boolean {
    const max = this.options.policy.maxInFlightBatches;
    for (const lane of this.lanes) if (lane.sealed.length >= max) return true;
    return false;
  }

  /** Ready for traffic: connected and no lane in an outage. */
  get healthy(): boolean {
    return this.connected && this.lanes.every((l) => l.failingSince === 0);
  }

  /** How long the oldest current outage of a lane has lasted (ms); 0 when no lane is failing. */
  outageMs(now = Date.now()): number {
    let since = 0;
    for (const lane of this.lanes) if (lane.failingSince !== 0 && (since === 0 || lane.failingSince < since)) since = lane.failingSince;
    return since === 0 ? 0 : now - since;
  }

  get statusText(): string {
    if (!this.connected) return `${this.name}: not connected`;
    const failing = this.lanes.find((l) => l.failingSince !== 0);
    if (failing !== undefined) return `${this.name}: failing for ${Math.round((Date.now() - failing.failingSince) / 1000)} s: ${failing.lastError}`;
    return `${this.name}: ok`;
  }

  private seal(lane: Lane<B>, reason: FlushReason): void {
    if (lane.timer !== null) { clearTimeout(lane.timer); lane.timer = null; }
    if (lane.openRows === 0) return;
    this.options.metrics.flushes.inc({ sink: this.name, reason });
    lane.sealed.push({ chunks: lane.open, rows: lane.openRows });
    lane.open = [];
    lane.openRows = 0;
    lane.openBytes = 0;
    if (!lane.writing) void this.writeLoop(lane);
  }

  private async writeLoop(lane: Lane<B>): Promise<void> {
    lane.writing = true;
    const m = this.options.metrics;
    while (lane.sealed.length > 0 && !this.aborted) {
      const batch = lane.sealed.peek()!;
      const started = performance.now();
      const landed: B[] = [];
      try {
        await this.writeIsolating(lane, batch.chunks, landed);
      } catch (err) {
        // Only an abort ends a write without its batch landing (`retrying` retries everything
        // else, and bisection isolates what the driver refuses). The batch stays unacknowledged,
        // so its offsets are not committed and the next owner replays it.
        if (!this.aborted) this.options.log.error({ err, sink: this.name }, 'sink write loop failed');
        break;
      }
      m.writeSeconds.observe({ sink: this.name }, (performance.now() - started) / 1000);
      m.flushRows.observe({ sink: this.name }, batch.rows);
      lane.sealed.shift();
      // The write is confirmed now (the driver's COMMIT / EVAL reply, the broker's delivery reports).
      this.landed(landed);
      let rows = 0;
      for (const item of landed) {
        rows += item.rows;
        item.ack();
      }
      // Not what the permanent-failure handler left unsettled.
      m.written.inc({ sink: this.name }, rows);
      if (!this.saturated) this.emit('drain');
    }
    lane.writing = false;
    if (this.idle) for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * A batch's items are confirmed (written, or settled by the permanent-failure handler), just
   * before they are acknowledged; once per batch, for what a kind of item measures (the events'
   * end-to-end latency). Nothing by default.
   */
  protected landed(_items: readonly B[]): void {}

  /**
   * Nothing sealed or being written in any lane. After an abort, always: a write on the wire is
   * abandoned like the rest (a connect through a black hole can outlast the shutdown deadline,
   * and a revoke's drain waiting for it held the consumer's close past the deadline).
   */
  private get idle(): boolean {
    return this.aborted || this.lanes.every((l) => !l.writing && l.sealed.length === 0);
  }

  /**
   * Writes with retries; on a permanent error, bisects to the failing event. Every piece that
   * landed (written, or dead-lettered) is appended to `landed`, to be acknowledged.
   */
  private async writeIsolating(lane: Lane<B>, chunks: B[], landed: B[]): Promise<void> {
    try {
      await this.retrying(lane, 'write', () => this.driver.writeBatch(chunks, lane.index));
      for (const c of chunks) landed.push(c);
      return;
    } catch (err) {
      // Abandoned, not refused: nothing to bisect or dead-letter.
      if (this.aborted) throw err;
      const rows = chunks.reduce((n, c) => n + c.rows, 0);
      if (rows === 1) {
        const item = chunks.find((c) => c.rows === 1)!;
        this.options.log.error({ sink: this.name, err, topic: item.topic, partition: item.partition, offset: item.firstOffset }, `refused for good by ${this.name}`);
        // A refusal is an answer: the sink is up.
        this.succeeded(lane);
        if (this.options.onPermanentFailure(item, err)) for (const c of chunks) landed.push(c);
        return;
      }
      const [left, right] = bisect(chunks, rows);
      await this.writeIsolating(lane, left, landed);
      await this.writeIsolating(lane, right, landed);
    }
  }

  /** Runs `op` until it succeeds or throws a non-retriable error (which it rethrows). */
  private async retrying(lane: Lane<B>, what: string, op: () => Promise<void>): Promise<void> {
    const { initialMs, maxMs } = this.options.policy.retry;
    for (let attempt = 0; ; attempt++) {
      if (this.aborted) throw new HimariError(ErrorCode.CLOSED, `${this.name}: ${what} abandoned: the sink was aborted`);
      try {
        await op();
        this.succeeded(lane);
        return;
      } catch (err) {
        // A typed error says for itself (drivers type their connect errors); otherwise the driver decides.
        const retriable = isRetriable(err, (e) => this.driver.isRetriable(e));
        this.options.metrics.sinkErrors.inc({ sink: this.name, retriable: String(retriable) });
        if (!retriable) throw err;
        if (lane.failingSince === 0) lane.failingSince = Date.now();
        lane.lastError = errorMessage(err);
        const delay = backoffMs(attempt, initialMs, maxMs);
        this.options.metrics.retries.inc({ sink: this.name });
        if (attempt === 0 || attempt % 10 === 0) {
          this.options.log.warn({ sink: this.name, lane: lane.index, attempt, err: lane.lastError }, `${this.name} ${what} failed; retrying`);
        }
        await this.delays.wait(delay);
      }
    }
  }


  /** See `SinkDriver.release`. */
  release(topic: string, partition: number): void {
    this.driver.release?.(topic, partition);
  }

  /** Seals the open batches and resolves when everything pushed so far is written. */
  flush(): Promise<void> {
    for (const lane of this.lanes) this.seal(lane, 'close');
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(how?: DriverCloseOptions): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.probeTimer !== null) clearInterval(this.probeTimer);
    await this.driver.close(how);
  }

  /**
   * Gives up on what is not written (the shutdown deadline passed): retry delays end at once,
   * no new write starts, and `flush` no longer waits, neither for sealed batches nor for a write
   * already on the wire (which ends when the driver answers or is closed; if it lands, its batch
   * is acknowledged). The offsets of what was not confirmed stay uncommitted, so the next start
   * replays it.
   */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.delays.wakeAll();
    if (this.idle) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Closes the driver without waiting for anything still queued (after `abort`). */
  async closeNow(how?: DriverCloseOptions): Promise<void> {
    this.closed = true;
    if (this.probeTimer !== null) clearInterval(this.probeTimer);
    await this.driver.close(how);
  }

  get isAborted(): boolean {
    return this.aborted;
  }
}

function append<B extends Batchable<B>>(lane: Lane<B>, chunk: B): void {
  lane.open.push(chunk);
  lane.openRows += chunk.rows;
  lane.openBytes += chunk.bytes;
}

/** Splits items holding `rows` rows into two halves of rows (an item may be cut in two). */
function bisect<B extends Batchable<B>>(chunks: B[], rows: number): [B[], B[]] {
  let need = Math.floor(rows / 2);
  const left: B[] = [];
  const right: B[] = [];
  for (const c of chunks) {
    if (need === 0) right.push(c);
    else if (c.rows <= need) { left.push(c); need -= c.rows; }
    else { left.push(c.splitFront(need)); right.push(c); need = 0; }
  }
  return [left, right];
}
