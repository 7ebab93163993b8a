import { ErrorCode, HimariError } from '../errors.js';
/**
 * Delivery-driven offsets. Every batch taken from a partition gets a `BatchTicket` for its
 * offset range; each party that must hold the batch (PostgreSQL, Redis, the dead-letter topic)
 * acknowledges it once. The committable offset of a partition is one past the end of the
 * longest prefix of fully acknowledged batches: batches complete out of order (sinks and
 * workers run concurrently), commits never skip a gap.
 */
export class BatchTicket {
  pending: number;
  done = false;
  /** Runs once when the last acknowledgement arrives (e.g. to recycle the batch's buffer). */
  onDone: (() => void) | undefined;

  constructor(
    readonly partition: PartitionOffsets,
    /** First and last Kafka offset of the batch (inclusive). */
    readonly first: number,
    readonly last: number,
    acks: number,
  ) {
    this.pending = acks;
  }

  /** One party holds the batch. Extra acks are a bug and throw. */
  ack(): void {
    if (this.pending <= 0) throw new HimariError(ErrorCode.INTERNAL, `batch ${this.partition.key}@${this.first}-${this.last} acknowledged too often`);
    if (--this.pending === 0) {
      this.done = true;
      this.onDone?.();
      this.partition.onDone();
    }
  }

  /** Adds parties that must acknowledge (known once the worker has sorted the batch). */
  expect(n: number): void {
    if (this.done) throw new HimariError(ErrorCode.INTERNAL, 'ticket already done');
    this.pending += n;
  }
}

export class PartitionOffsets {
  /** In consumption order; a ring would save the shift, but the queue holds a handful of batches. */
  private readonly queue: BatchTicket[] = [];
  private head = 0;
  /** Next offset to commit (one past the last fully acknowledged one); -1 before any. */
  committable = -1;
  /** Last offset handed to Kafka's commit; the tracker reports only changes. */
  committed = -1;
  /** Highest offset the broker confirmed as committed; -1 before any. */
  confirmed = -1;

  constructor(readonly topic: string, readonly partition: number, private readonly onAdvance: (p: PartitionOffsets) => void) {}

  get key(): string {
    return `${this.topic}[${this.partition}]`;
  }

  /** Opens a ticket for offsets first..last that needs `acks` acknowledgements. */
  track(first: number, last: number, acks: number): BatchTicket {
    const prev = this.queue.length > this.head ? this.queue[this.queue.length - 1]! : undefined;
    if (prev !== undefined && first <= prev.last) {
      throw new HimariError(ErrorCode.INTERNAL, `${this.key}: batch ${first}-${last} overlaps ${prev.first}-${prev.last}`);
    }
    const ticket = new BatchTicket(this, first, last, acks);
    this.queue.push(ticket);
    if (acks === 0) {
      ticket.done = true;
      this.onDone();
    }
    return ticket;
  }

  /** Batches taken but not yet fully acknowledged. */
  get inFlight(): number {
    return this.queue.length - this.head;
  }

  onDone(): void {
    let advanced = false;
    while (this.head < this.queue.length && this.queue[this.head]!.done) {
      this.committable = this.queue[this.head]!.last + 1;
      this.head++;
      advanced = true;
    }
    if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (advanced) this.onAdvance(this);
  }
}

export interface CommitPoint {
  topic: string;
  partition: number;
  offset: number;
}

export class OffsetTracker {
  private readonly partitions = new Map<string, PartitionOffsets>();
  private readonly advanced = new Set<PartitionOffsets>();
  private readonly idleWaiters: Array<() => void> = [];

  partition(topic: string, partition: number): PartitionOffsets {
    const key = `${topic}\u0000${partition}`;
    let p = this.partitions.get(key);
    if (p === undefined) {
      p = new PartitionOffsets(topic, partition, (q) => this.onAdvance(q));
      this.partitions.set(key, p);
    }
    return p;
  }

  private onAdvance(p: PartitionOffsets): void {
    this.advanced.add(p);
    if (this.idleWaiters.length > 0 && this.inFlight() === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Commit points that moved since the last call (the caller commits them). */
  takeCommits(): CommitPoint[] {
    const out: CommitPoint[] = [];
    for (const p of this.advanced) {
      if (p.committable > p.committed) {
        out.push({ topic: p.topic, partition: p.partition, offset: p.committable });
        p.committed = p.committable;
      }
    }
    this.advanced.clear();
    return out;
  }

  /**
   * The broker refused a commit (a rebalance in progress: "generation id is not valid"). Unless a
   * later commit of the partition was sent since, its point is taken again by the next
   * `takeCommits`, so an idle partition's commit is retried until it lands or is revoked.
   */
  commitFailed(topic: string, partition: number, offset: number): void {
    const p = this.partitions.get(`${topic}\u0000${partition}`);
    if (p === undefined || p.committed !== offset) return;
    p.committed = -1;
    this.advanced.add(p);
  }

  /** The broker confirmed a commit point (its offset is in the group, whatever happens next). */
  commitConfirmed(topic: string, partition: number, offset: number): void {
    const p = this.partitions.get(`${topic}\u0000${partition}`);
    if (p !== undefined && offset > p.confirmed) p.confirmed = offset;
  }

  /** Commit points of every partition that the broker has not confirmed (for the final commit). */
  unconfirmedCommits(): CommitPoint[] {
    const out: CommitPoint[] = [];
    for (const p of this.partitions.values()) {
      if (p.committable >= 0 && p.committable > p.confirmed) out.push({ topic: p.topic, partition: p.partition, offset: p.committable });
    }
    return out;
  }

  forget(topic: string, partition: number): void {
    const key = `${topic}\u0000${partition}`;
    const p = this.partitions.get(key);
    if (p !== undefined) this.advanced.delete(p);
    this.partitions.delete(key);
  }

  /** Batches in flight, leaving out the partitions keyed `topic\0partition` in `except`. */
  inFlight(except?: ReadonlyMap<string, unknown>): number {
    let n = 0;
    for (const [key, p] of this.partitions) if (except === undefined || !except.has(key)) n += p.inFlight;
    return n;
  }

  /** Resolves when every tracked batch is acknowledged. */
  whenIdle(): Promise<void> {
    if (this.inFlight() === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
