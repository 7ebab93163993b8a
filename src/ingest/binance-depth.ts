import type { Logger } from 'pino';
import type { BookEvent, MarketEvent } from '../codec/event.js';
import { ErrorCode, HimariError } from '../errors.js';
import { binanceInstrument, BinanceNormalizer } from '../normalize/binance.js';
import { wallClockMs } from '../obs/clock.js';
import { reconnectDelayMs } from './connection.js';
import type { RateWindow } from './rate-limit.js';

/** Deltas a symbol holds while it waits for its snapshot; past this the oldest go (the bridge rule then asks for a newer snapshot). */
const HELD_DELTAS_MAX = 2_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** What a symbol's book stream is doing. */
type Phase =
  /** No usable snapshot: deltas are held, a snapshot is requested. */
  | 'waiting'
  /** A snapshot was sent on; the first delta must bridge it (Binance's rule). */
  | 'bridging'
  /** Each delta must follow the previous one. */
  | 'live';

interface SymbolBook {
  readonly venueSymbol: string;
  phase: Phase;
  held: BookEvent[];
  /** The last update id sent on (the snapshot's lastUpdateId, then each delta's u). */
  lastUpdateId: number;
  requested: boolean;
  /** Its snapshot waits for `resume` (the producer is not taking events: it would be lost too). */
  deferred: boolean;
}

/** How the gateway fetches a snapshot: the REST call, so tests and the venue's stub can answer it. */
export type SnapshotFetch = (url: string) => Promise<unknown>;

/** Where a feed's snapshots come from, and the venue's request limit they keep to. */
export interface SnapshotSource {
  /** The depth endpoint (`https://api.binance.com/api/v3/depth`). */
  readonly url: string;
  readonly fetch: SnapshotFetch;
  /** Requests to the endpoint's host, shared by the feeds that use it, or null for no limit. */
  readonly gate: RateWindow | null;
  /** A request waited `waitMs` for the limit. */
  readonly onWait?: (waitMs: number) => void;
}

export const fetchJson: SnapshotFetch = async (url) => {
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (!res.ok) {
    // 429 (over the limit) and 418 (banned for ignoring it) say how long to stay away.
    const retryAfterS = Number(res.headers.get('retry-after') ?? 0);
    throw new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`,
      { retriable: true, context: retryAfterS > 0 ? { retryAfterMs: retryAfterS * 1000 } : undefined });
  }
  return res.json() as Promise<unknown>;
};

/**
 * Binance's diff-depth streams carry no book to start from: a book is a REST snapshot plus the
 * deltas after it, bridged by Binance's rule (spot: drop `u <= lastUpdateId`, the first kept has
 * `U <= lastUpdateId + 1 <= u`, then each `U == previous u + 1`; USD-M: drop `u < lastUpdateId`,
 * the first has `U <= lastUpdateId <= u`, then each `pu == previous u`). This keeps that rule per
 * symbol between the normalizer and the producer: a symbol's deltas are held until its snapshot
 * arrives, what the snapshot covers is dropped, and a delta that breaks the sequence (a lost
 * message, a reconnect) sends the symbol back to waiting for a new snapshot (a resync), so the
 * processor is handed a snapshot and the deltas that follow it, never a book with a hole.
 * Snapshot requests go one at a time within the venue's request limit (`SnapshotSource.gate`),
 * a failed one retried with backoff, or after the time a refusal names (Retry-After).
 */
export class BinanceDepthSync {
  private readonly books = new Map<string, SymbolBook>();
  private readonly queue: SymbolBook[] = [];
  private pumping = false;
  private closed = false;
  private attempt = 0;
  /** Snapshots requested after the first of each symbol: each a broken sequence or a reconnect. */
  resyncs = 0;

  /** `emit` takes the events released (a snapshot and the deltas held behind it), in order. */
  constructor(private readonly normalizer: BinanceNormalizer, private readonly futures: boolean, symbols: readonly string[],
    private readonly source: SnapshotSource, private readonly log: Logger,
    private readonly emit: (events: readonly MarketEvent[], recvUs: number) => void, private readonly onResync: (symbol: string, why: string) => void) {
    const venue = futures ? 'binance-futures' : 'binance';
    for (const s of symbols) {
      this.books.set(binanceInstrument(venue, s).symbol, { venueSymbol: s.toUpperCase(), phase: 'waiting', held: [], lastUpdateId: -1, requested: false, deferred: false });
    }
  }

  /**
   * A delta as the normalizer made it: true when it may go on now, false when it is held (or
   * dropped as covered by a snapshot).
   */
  admit(e: BookEvent): boolean {
    const book = this.books.get(e.symbol);
    if (book === undefined || e.action !== 'delta') return true;
    if (book.phase === 'live') {
      const follows = this.futures ? e.prevSeq === book.lastUpdateId : e.firstSeq === book.lastUpdateId + 1;
      if (follows) {
        book.lastUpdateId = e.seq;
        return true;
      }
      this.resync(book, e.symbol, `update ${e.firstSeq ?? '?'}-${e.seq}${this.futures ? ` (pu ${e.prevSeq ?? '?'})` : ''} does not follow ${book.lastUpdateId}`);
    }
    if (book.phase === 'bridging') {
      if (this.covered(e, book.lastUpdateId)) return false;
      if (this.bridges(e, book.lastUpdateId)) {
        book.phase = 'live';
        book.lastUpdateId = e.seq;
        return true;
      }
      this.resync(book, e.symbol, `first update ${e.firstSeq ?? '?'}-${e.seq} does not bridge the snapshot's ${book.lastUpdateId}`);
    }
    book.held.push(e);
    if (book.held.length > HELD_DELTAS_MAX) book.held.shift();
    this.request(book);
    return false;
  }

  /**
   * An event of `symbol`'s book did not reach Kafka: the book there has a hole, so its deltas are
   * held from here until a new snapshot, asked for at `resume` (when Kafka takes events again).
   */
  lost(symbol: string): void {
    const book = this.books.get(symbol);
    if (book === undefined) return;
    book.deferred = true;
    if (book.phase !== 'waiting') this.resync(book, symbol, 'one of its events did not reach Kafka');
  }

  /** Asks for the snapshot of a book `lost` left waiting (now, though it may be quiet). */
  resume(symbol: string): void {
    const book = this.books.get(symbol);
    if (book === undefined || !book.deferred) return;
    book.deferred = false;
    if (book.phase === 'waiting') this.request(book);
  }

  /** The connection was lost: every symbol missed what came meanwhile and needs a new snapshot. */
  reset(): void {
    for (const [symbol, book] of this.books) {
      if (book.phase !== 'waiting') this.resync(book, symbol, 'the connection was lost');
      book.held = [];
    }
  }

  close(): void {
    this.closed = true;
  }

  private resync(book: SymbolBook, symbol: string, why: string): void {
    book.phase = 'waiting';
    book.held = [];
    this.resyncs++;
    this.onResync(symbol, why);
  }

  private covered(e: BookEvent, lastUpdateId: number): boolean {
    return this.futures ? e.seq < lastUpdateId : e.seq <= lastUpdateId;
  }

  private bridges(e: BookEvent, lastUpdateId: number): boolean {
    const first = e.firstSeq ?? e.seq;
    return this.futures ? first <= lastUpdateId && e.seq >= lastUpdateId : first <= lastUpdateId + 1 && e.seq >= lastUpdateId + 1;
  }

  private request(book: SymbolBook): void {
    if (book.requested || book.deferred) return;
    book.requested = true;
    this.queue.push(book);
    if (!this.pumping) void this.pump();
  }

  /** Fetches the queued snapshots one at a time, within the limit; a failed fetch is retried with backoff. */
  private async pump(): Promise<void> {
    this.pumping = true;
    while (this.queue.length > 0 && !this.closed) {
      const wait = this.source.gate?.take(Date.now()) ?? 0;
      if (wait > 0) {
        this.source.onWait?.(wait);
        await sleep(wait);
        continue;
      }
      const book = this.queue[0]!;
      const url = `${this.source.url}?symbol=${book.venueSymbol}&limit=1000`;
      let snapshot: unknown;
      try {
        snapshot = await this.source.fetch(url);
      } catch (err) {
        const retryAfterMs = err instanceof HimariError ? Number(err.context?.retryAfterMs ?? 0) : 0;
        const retryInMs = Math.max(retryAfterMs, reconnectDelayMs(this.attempt++, 500, 30_000));
        this.log.warn({ err, url, retryInMs }, 'depth snapshot request failed');
        await sleep(retryInMs);
        continue;
      }
      this.attempt = 0;
      this.queue.shift();
      book.requested = false;
      if (!this.closed) this.apply(book, snapshot);
    }
    this.pumping = false;
  }

  private apply(book: SymbolBook, snapshot: unknown): void {
    const recvUs = Math.round(wallClockMs() * 1000);
    const events: MarketEvent[] = [];
    const d = this.normalizer.snapshot(book.venueSymbol, snapshot, recvUs, events);
    if (d.kind !== 'events') {
      this.log.error({ symbol: book.venueSymbol, reason: d.kind === 'unrecognized' ? d.reason : d.channel }, 'depth snapshot not understood: asking again');
      this.request(book);
      return;
    }
    const snap = events[0] as BookEvent;
    book.lastUpdateId = snap.seq;
    book.phase = 'bridging';
    const held = book.held;
    book.held = [];
    // The held deltas go through the bridge rule as if they arrived now, behind the snapshot.
    for (let i = 0; i < held.length; i++) {
      if (this.admit(held[i]!)) {
        events.push(held[i]!);
      } else if ((book.phase as Phase) === 'waiting') { // admit() moves it
        // The snapshot was too old for them (or they hold a gap): another is on its way, and
        // the deltas after this one wait for it.
        for (let j = i + 1; j < held.length; j++) book.held.push(held[j]!);
        this.log.info({ symbol: book.venueSymbol, lastUpdateId: snap.seq }, 'depth snapshot does not bridge the held updates: asking for a newer one');
        return;
      }
    }
    this.emit(events, recvUs);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
