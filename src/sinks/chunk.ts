import type { CheckResult } from '../pool/task.js';
import type { BatchTicket } from '../source/offset-tracker.js';
import { ErrorCode, HimariError } from '../errors.js';

/** The source messages behind a worker result: their Kafka offsets and original bytes. */
export interface MessageSource {
  offset(i: number): number;
  /** The original message bytes (for dead-lettering an event a sink refuses). */
  value(i: number): Uint8Array;
}

/**
 * A run of consecutive checked messages of one partition: messages `from .. to-1` of a worker
 * result. Sinks batch chunks, never single events, so nothing is allocated per event between
 * the worker and the wire. Splitting a chunk (to honour a batch's row cap) adds one expected
 * acknowledgement to the ticket, so the batch's offsets advance only after every piece landed.
 * What the sink core batches for Redis, PostgreSQL and the output topic (a `Batchable`, by shape:
 * core.ts imports this module).
 */
export class EventChunk {
  constructor(
    readonly result: CheckResult,
    readonly source: MessageSource,
    readonly topic: string,
    readonly partition: number,
    public from: number,
    public to: number,
    readonly ticket: BatchTicket,
    /**
     * Per message of the whole batch: when it was sent, Unix ms (fractional). The intended send
     * time of its `x-intended-ns` header when it has one, else its Kafka timestamp; 0 if neither.
     */
    readonly sentMs: Float64Array,
  ) {}

  get rows(): number {
    return this.to - this.from;
  }

  /** Bytes of the COPY rows in this chunk: the size measure of the batch policy. */
  get bytes(): number {
    const ends = this.result.copyEnds;
    return ends[this.to - 1]! - (this.from === 0 ? 0 : ends[this.from - 1]!);
  }

  offset(i: number): number {
    return this.source.offset(i);
  }

  get firstOffset(): number {
    return this.source.offset(this.from);
  }

  /** This piece is written (or its refused event dead-lettered under the same ticket). */
  ack(): void {
    this.ticket.ack();
  }

  /** Detaches the first `n` messages into a new chunk; this chunk keeps the rest. */
  splitFront(n: number): EventChunk {
    if (n <= 0 || n >= this.rows) throw new HimariError(ErrorCode.INTERNAL, `cannot split ${n} of ${this.rows} rows`);
    this.ticket.expect(1);
    const front = new EventChunk(this.result, this.source, this.topic, this.partition, this.from, this.from + n, this.ticket, this.sentMs);
    this.from += n;
    return front;
  }
}
