import type { Logger } from 'pino';
import type { SinkPolicy } from '../config/schema.js';
import type { DeadLetterScanRequest } from '../kafka/kafka-clients.js';
import { ErrorCode, HimariError, backoffMs } from '../errors.js';
import type { Metrics } from '../obs/metrics.js';
import type { ConsumedBatch } from '../source/consumed-batch.js';
import type { BatchTicket } from '../source/offset-tracker.js';
import { SinkCore } from './core.js';
import { PendingDeadLetter, type DeadLetter, type DeadLetterDriver } from './dead-letter.js';
import { DeadLetterIndex } from './dead-letter-index.js';

export interface DeadLetterSinkOptions {
  driver: DeadLetterDriver;
  /** Reads the dead-letter topic for replayed dead letters (`KafkaClients.scanDeadLetters`). */
  scan(req: DeadLetterScanRequest): Promise<number[]>;
  policy: SinkPolicy;
  metrics: Metrics;
  log: Logger;
  /** Where the source partition's replay starts (its first message since assignment), if known. */
  replayFrom(topic: string, partition: number): { firstOffset: number; firstTimestampMs: number } | undefined;
  /**
   * A dead letter that will not be stored: refused for good, or its replay scan abandoned at
   * shutdown (`CLOSED`). Its ticket stays unacknowledged.
   */
  onFailed(dl: DeadLetter, err: unknown): void;
  /** The sink's in-flight budget is used up: the source should pause until the core's 'drain'. */
  onSaturated(): void;
}

/**
 * The route to the dead-letter topic: each dead letter is first looked up in the topic (a replay
 * after a crash is acknowledged without a second copy: DeadLetterIndex), then pushed to the
 * dead-letter driver's sink core, and its batch's ticket waits for the broker's acknowledgement.
 */
export class DeadLetterSink {
  /** The driver under the shared sink core (`sink="dead-letter"`). */
  readonly core: SinkCore<PendingDeadLetter>;
  private readonly index: DeadLetterIndex;

  constructor(private readonly o: DeadLetterSinkOptions) {
    this.index = new DeadLetterIndex(o.scan);
    this.core = new SinkCore(o.driver, {
      policy: o.policy, metrics: o.metrics, log: o.log,
      // Refused for good: it stays unacknowledged, so its offset is never committed.
      onPermanentFailure: (dl, err) => {
        o.onFailed(dl.letter, err);
        return false;
      },
    });
  }

  /** Dead-letters `dl` under `ticket`, which expects one more acknowledgement until it is stored. */
  send(ticket: BatchTicket, dl: DeadLetter): void {
    ticket.expect(1);
    this.alreadyStored(dl).then((stored) => {
      if (stored) {
        this.o.metrics.deadLetterReplays.inc();
        ticket.ack();
        return;
      }
      this.o.metrics.deadLettered.inc({ code: dl.code });
      if (!this.core.push(new PendingDeadLetter(dl, ticket))) this.o.onSaturated();
    }).catch((err: unknown) => this.o.onFailed(dl, err));
  }

  /** A revoked partition: its next owner scans the topic again. */
  forget(topic: string, partition: number): void {
    this.index.forget(topic, partition);
  }

  /** Whether an earlier run stored `dl`; a failed scan is retried until it succeeds or the core is aborted. */
  private async alreadyStored(dl: DeadLetter): Promise<boolean> {
    const replay = this.o.replayFrom(dl.sourceTopic, dl.sourcePartition);
    const fromOffset = replay?.firstOffset ?? dl.sourceOffset;
    const fromTs = replay?.firstTimestampMs ?? Date.now();
    for (let attempt = 0; ; attempt++) {
      if (this.core.isAborted) throw new HimariError(ErrorCode.CLOSED, 'dead letter abandoned: delivery was aborted');
      try {
        const existing = await this.index.existing(dl.sourceTopic, dl.sourcePartition, this.o.driver.partitionFor(dl.sourcePartition), fromOffset, fromTs);
        return existing.has(dl.sourceOffset);
      } catch (err) {
        this.o.log.warn({ err, attempt }, 'dead-letter scan failed; retrying');
        await new Promise((r) => setTimeout(r, backoffMs(attempt, 200, 5000)));
      }
    }
  }
}

const EMPTY_BUFFER = Buffer.alloc(0);

/** The dead letter of message `index` of a consumed batch (undecodable, too large, its worker kept dying). */
export function messageDeadLetter(batch: ConsumedBatch, index: number, code: string, message: string): DeadLetter {
  return {
    code, message, sourceTopic: batch.topic(index), sourcePartition: batch.partitions[index]!, sourceOffset: batch.offsets[index]!,
    key: batch.key(index), value: batch.valueIsNull(index) ? EMPTY_BUFFER : Buffer.from(batch.value(index)),
  };
}
