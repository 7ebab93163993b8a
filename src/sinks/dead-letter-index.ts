import type { DeadLetterScanRequest } from '../kafka/kafka-clients.js';
import { partitionKey } from '../source/partition-key.js';

/**
 * Makes dead-lettering exactly-once across crashes. The source offset is committed only after
 * the dead letter is acknowledged, so after a crash the tail of a partition is replayed, and a
 * dead letter written just before the crash would be written again. Before the first dead letter
 * of a source partition after (re)assignment, this scans the dead-letter partition that the
 * source partition maps to (`KafkaClients.scanDeadLetters`, src/kafka/dead-letter-scan.ts), from
 * shortly before the first replayed message's timestamp to its end, and remembers which source
 * offsets are already there; those are acknowledged without being produced again. Dead letters
 * are rare, so the scan (a few hundred ms) is too.
 */
export class DeadLetterIndex {
  private readonly scans = new Map<string, Promise<Set<number>>>();

  constructor(private readonly scan: (req: DeadLetterScanRequest) => Promise<number[]>) {}

  /** Offsets of `topic[partition]` at or after `fromOffset` already in the dead-letter topic. */
  existing(topic: string, partition: number, dlqPartition: number, fromOffset: number, fromTimestampMs: number): Promise<Set<number>> {
    const key = partitionKey(topic, partition);
    let scan = this.scans.get(key);
    if (scan === undefined) {
      scan = this.scan({ topic, partition, dlqPartition, fromOffset, fromTimestampMs }).then((offsets) => new Set(offsets)).catch((err: Error) => {
        this.scans.delete(key);
        throw err;
      });
      this.scans.set(key, scan);
    }
    return scan;
  }

  /** Forgets a partition (revoked): its next owner scans again. */
  forget(topic: string, partition: number): void {
    this.scans.delete(partitionKey(topic, partition));
  }
}
