import type { BookEvent } from '../codec/event.js';
import { CHECKSUM, checksumMatches, OrderBook } from '../checks/book.js';

/** How a venue's book updates follow each other. */
export type SequenceRule =
  /** OKX: each update's prevSeqId is the previous update's seqId. */
  | 'prev-seq'
  /** Bybit v5: `u` goes up by one per update of a topic (a snapshot may restart it). */
  | 'plus-one'
  /** No sequence to check (Kraken v1, Bybit's 2021 feed: its cross_seq is not consecutive). */
  | 'none';

interface GuardedBook {
  readonly book: OrderBook;
  synced: boolean;
  lastSeq: number;
}

/**
 * The books of a venue that sends a snapshot on every book subscription (OKX, Bybit, Kraken):
 * each update must follow the previous one (`SequenceRule`) and, where the venue sends a
 * checksum (Kraken: top 10; OKX: top 25), the book rebuilt from the snapshot and the updates
 * must match it. An update that breaks either marks the symbol broken: it and the updates after
 * it are held back (counted by the caller) until the venue's next snapshot, which the caller asks
 * for by subscribing the symbol's book again (`onBroken`). The checks are the processor's own
 * (Q3, Q5: src/checks/book.ts), run here so that the gateway can ask for the snapshot.
 */
export class BookGuard {
  private readonly books = new Map<string, GuardedBook>();
  /** Books found broken. */
  resyncs = 0;

  constructor(private readonly rule: SequenceRule, private readonly onBroken: (symbol: string, why: string) => void) {}

  /** True when `e` may go on; false when its book is broken and waits for a snapshot. */
  admit(e: BookEvent): boolean {
    let g = this.books.get(e.symbol);
    if (g === undefined) {
      g = { book: new OrderBook(), synced: false, lastSeq: 0 };
      this.books.set(e.symbol, g);
    }
    if (e.action === 'snapshot') {
      g.book.applySnapshot(e.bids, e.asks);
      g.synced = true;
      g.lastSeq = e.seq;
      return this.verify(g, e);
    }
    if (!g.synced) return false;
    const follows = this.rule === 'prev-seq' ? e.prevSeq === undefined || e.prevSeq === g.lastSeq
      : this.rule === 'plus-one' ? e.seq === g.lastSeq + 1 : true;
    if (!follows) return this.broken(g, e.symbol, `update ${e.seq}${e.prevSeq === undefined ? '' : ` (after ${e.prevSeq})`} does not follow ${g.lastSeq}`);
    g.lastSeq = e.seq;
    g.book.applyDelta(e.bids, e.asks);
    return this.verify(g, e);
  }

  /**
   * An event of `symbol`'s book did not reach Kafka: the book there has a hole, so its updates are
   * held back until a new snapshot, which the caller asks for when Kafka takes events again.
   * True when the book was synced until now (a resync begins).
   */
  lost(symbol: string): boolean {
    const g = this.books.get(symbol);
    if (g?.synced !== true) return false;
    g.synced = false;
    this.resyncs++;
    return true;
  }

  /** The connection was lost: every book waits for the snapshot its resubscription brings. */
  reset(): void {
    for (const g of this.books.values()) g.synced = false;
  }

  private verify(g: GuardedBook, e: BookEvent): boolean {
    if (checksumMatches(g.book, e)) return true;
    return this.broken(g, e.symbol, `checksum ${e.checksum! | 0} does not match the book's ${CHECKSUM[0]! | 0}`);
  }

  private broken(g: GuardedBook, symbol: string, why: string): false {
    g.synced = false;
    this.resyncs++;
    this.onBroken(symbol, why);
    return false;
  }
}
