import { TextDecoder, TextEncoder } from 'node:util';

/**
 * The cross-venue reference: one table in a SharedArrayBuffer that every worker thread (and the
 * main thread) maps. Each venue's stream of an instrument has one entry, written only by the
 * worker that owns the stream's partition (a symbol is the Kafka key, so a venue's symbol is in
 * one partition); every worker reads the other venues' entries of the instrument to build the
 * median the cross-venue checks compare with. Writes and reads go through a per-entry seqlock, so
 * a reader never sees a half-written entry and nobody ever blocks.
 *
 * Why shared memory: the alternative, broadcasting each price change to every worker by
 * message, costs a structured clone and an event-loop turn per update per worker, and a reader
 * would see prices as of its last drained message; here a publish is a few stores and a read a
 * few loads (see bench/checks-results.md for both measured).
 *
 * Instruments are keyed by the symbol for spot (`BTC-USDT`) and by `BASE-QUOTE:perp` for
 * perpetual swaps, so USDT and USD books are not mixed (a stablecoin off its peg would look like
 * every venue deviating). Dated futures get their own key and no spot comparison.
 *
 * The table is bounded: `capacity` instruments x `venues` venues (`checks.referenceInstruments`,
 * `checks.referenceVenues`). Instrument and venue slots are claimed once (compare-and-swap on a
 * hash) and never freed; a stream whose instrument or venue finds the table full gets no
 * cross-venue and silence checks. That is counted by kind, and the first name refused is kept,
 * so the pipeline exports and logs it (`himari_reference_refused_total`) instead of the checks
 * going quiet unseen.
 *
 * The main thread's `sweep` (on a timer) finds streams gone silent (T5) and computes the
 * market-wide breadth of fast moves (C6), which it writes back into the header.
 */

/** Venue slots by default: the venues of the ingest gateway, with room to spare. */
export const DEFAULT_REFERENCE_VENUES = 8;
const NAME_BYTES = 48;

// Int32 header cells
const H_CAPACITY = 0;
/** Streams refused because every instrument slot was taken. */
const H_REFUSED_INSTRUMENTS = 1;
const H_VENUES = 2;
/** Streams refused because every venue slot was taken. */
const H_REFUSED_VENUES = 3;
const HEADER_I32 = 8;
// Float64 header cells
const F_BREADTH_DOWN = 0;
const F_BREADTH_UP = 1;
const F_ACTIVE = 2;
/** Liquidated notional over C1's window, every venue (C7). */
const F_LIQ_MARKET = 3;
/** The same per venue slot: F_LIQ_VENUE + slot, one cell per venue slot. */
const F_LIQ_VENUE = 4;

/** Float64 fields of an entry. */
const PRICE = 0; // last mid (or trade price when the venue sends no quotes)
const TS = 1; // exchange time of that price, µs
const SEEN = 2; // wall time the worker last processed an event of the stream, µs
const SILENCE = 3; // how long without events makes the stream silent, µs (learned per stream)
const MOVE = 4; // signed move over the fast-move window, bp
const EXCLUDED = 5; // 1 while X1 keeps the venue out of the reference
const LIQ = 6; // liquidated notional over C1's window as of the stream's last liquidation
const LIQ_TS = 7; // exchange time of that liquidation, µs (0: none yet)
const FIELDS = 8;

export type InstrumentKind = 'spot' | 'perp' | 'dated';

/** Venues whose undated symbols are perpetual swaps. */
const PERP_VENUES = new Set(['binance-futures', 'bybit', 'bitmex']);
const DATED = /-(\d{6}|[FGHJKMNQUVXZ]\d{2})$/;

/** What kind of instrument a venue's symbol is (schema symbols are `BASE-QUOTE[-SWAP|-PERP|-YYMMDD]`). */
export function instrumentKind(venue: string, symbol: string): InstrumentKind {
  if (DATED.test(symbol)) return 'dated';
  if (symbol.endsWith('-SWAP') || symbol.endsWith('-PERP') || PERP_VENUES.has(venue)) return 'perp';
  return 'spot';
}

/** The instrument key the reference groups venues by. */
export function instrumentKey(venue: string, symbol: string): string {
  return instrumentKind(venue, symbol) === 'perp' ? `${pairOf(symbol)}:perp` : symbol;
}

/** The spot instrument a perpetual tracks (its index), or '' when not a perpetual. */
export function spotKeyOf(venue: string, symbol: string): string {
  return instrumentKind(venue, symbol) === 'perp' ? pairOf(symbol) : '';
}

/** `BASE-QUOTE` of a symbol (`BTC-USDT-SWAP` → `BTC-USDT`). */
function pairOf(symbol: string): string {
  const parts = symbol.split('-');
  return `${parts[0]}-${parts[1] ?? ''}`;
}

function fnv1a(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0 || 1;
}

/** A silence the sweep found (reused objects: copy what you keep). */
export interface SilenceAlert {
  venue: string;
  symbol: string;
  silentMs: number;
  thresholdMs: number;
}

/** What a stream publishes (its `SymbolState`). */
export interface PublishedStream {
  refEntry: number;
  /** Price to publish now; 0 = liveness only. */
  refPrice: number;
  /** Exchange time of the stream's current event, µs. */
  eventTs: number;
  silenceUs: number;
  moveBp: number;
  /** Liquidated notional over C1's window as of the last liquidation, and its exchange time (0: none). */
  liqWindowNotional: number;
  liqLastTs: number;
}

export interface ReferenceQuote {
  /** Median price of the fresh, non-excluded venues; NaN when fewer than asked. */
  median: number;
  /** How many venues made it. */
  venues: number;
}

export class SharedReference {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  /** Venue slots of each instrument. */
  readonly venues: number;
  private readonly header: Int32Array;
  private readonly headerF: Float64Array;
  private readonly venueKeys: Int32Array;
  private readonly venueNames: Uint8Array;
  private readonly keys: Int32Array;
  private readonly seqs: Int32Array;
  private readonly fields: Float64Array;
  private readonly names: Uint8Array;
  /** The first instrument key and the first venue refused a slot (empty while none was). */
  private readonly refusedNames: Uint8Array;
  private readonly scratch: Float64Array;
  /** Result of `median` (reused). */
  readonly quote: ReferenceQuote = { median: NaN, venues: 0 };
  // Main thread only: which entries the sweep already reported silent.
  private alerted: Uint8Array | undefined;
  private readonly alerts: SilenceAlert[] = [];
  private readonly decoder = new TextDecoder();

  static create(capacity: number, venues = DEFAULT_REFERENCE_VENUES): SharedReference {
    const bytes = SharedReference.bytesFor(capacity, venues);
    const buffer = new SharedArrayBuffer(bytes);
    const header = new Int32Array(buffer, 0, HEADER_I32);
    header[H_CAPACITY] = capacity;
    header[H_VENUES] = venues;
    return new SharedReference(buffer);
  }

  private static bytesFor(capacity: number, venues: number): number {
    const entries = capacity * venues;
    return HEADER_I32 * 4 + (F_LIQ_VENUE + venues) * 8 + venues * 8 + venues * NAME_BYTES + capacity * 8 + entries * 4 + entries * FIELDS * 8 + entries * NAME_BYTES + 2 * NAME_BYTES;
  }

  /** Maps a table created by `create` (in this thread or another). */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.header = new Int32Array(buffer, 0, HEADER_I32);
    this.capacity = this.header[H_CAPACITY]!;
    this.venues = this.header[H_VENUES]!;
    const venues = this.venues;
    const entries = this.capacity * venues;
    this.scratch = new Float64Array(venues);
    let at = HEADER_I32 * 4;
    this.headerF = new Float64Array(buffer, at, F_LIQ_VENUE + venues); at += (F_LIQ_VENUE + venues) * 8;
    this.fields = new Float64Array(buffer, at, entries * FIELDS); at += entries * FIELDS * 8;
    this.venueKeys = new Int32Array(buffer, at, venues * 2); at += venues * 8;
    this.keys = new Int32Array(buffer, at, this.capacity * 2); at += this.capacity * 8;
    this.seqs = new Int32Array(buffer, at, entries); at += entries * 4;
    this.venueNames = new Uint8Array(buffer, at, venues * NAME_BYTES); at += venues * NAME_BYTES;
    this.names = new Uint8Array(buffer, at, entries * NAME_BYTES); at += entries * NAME_BYTES;
    this.refusedNames = new Uint8Array(buffer, at, 2 * NAME_BYTES);
  }

  /** Streams refused a slot because every instrument slot (`instrument`) or venue slot (`venue`) was taken. */
  get refusedInstruments(): number {
    return Atomics.load(this.header, H_REFUSED_INSTRUMENTS);
  }

  get refusedVenues(): number {
    return Atomics.load(this.header, H_REFUSED_VENUES);
  }

  /** The first instrument key, and the first venue, refused a slot ('' while none was). */
  get firstRefusedInstrument(): string {
    return readName(this.refusedNames, 0, this.decoder);
  }

  get firstRefusedVenue(): string {
    return readName(this.refusedNames, NAME_BYTES, this.decoder);
  }

  /** Instrument slots taken. */
  instrumentsUsed(): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) if (Atomics.load(this.keys, 2 * i) !== 0) n++;
    return n;
  }

  /** Venue slots taken. */
  venuesUsed(): number {
    let n = 0;
    for (let v = 0; v < this.venues; v++) if (Atomics.load(this.venueKeys, 2 * v) !== 0) n++;
    return n;
  }

  // ---- slots ------------------------------------------------------------------------------

  /** Claims (or finds) the slot of a string in an open-addressing table of (h1, h2) pairs. */
  private claim(table: Int32Array, slots: number, name: string): number {
    const h1 = fnv1a(name, 0x811c9dc5);
    const h2 = fnv1a(name, 0x9e3779b9);
    // `| 0`: the slot is an int (`>>> 0` makes a double), and the states keep it in fields that
    // are passed to calls and used as typed-array indexes on every event.
    let i = ((h1 >>> 0) % slots) | 0;
    for (let probe = 0; probe < slots; probe++, i = (i + 1) % slots) {
      const seen = Atomics.compareExchange(table, 2 * i, 0, h1);
      if (seen === 0) {
        Atomics.store(table, 2 * i + 1, h2);
        return i;
      }
      if (seen !== h1) continue;
      // Someone claimed it with our h1: wait for its h2 (stored right after the claim).
      let other = Atomics.load(table, 2 * i + 1);
      while (other === 0) other = Atomics.load(table, 2 * i + 1);
      if (other === h2) return i;
    }
    return -1;
  }

  /** Instrument slot of a key, -1 when the table is full. */
  instrument(key: string): number {
    const i = this.claim(this.keys, this.capacity, key);
    if (i < 0) {
      Atomics.add(this.header, H_REFUSED_INSTRUMENTS, 1);
      writeName(this.refusedNames, 0, key);
    }
    return i;
  }

  /** Entry of a venue's stream of an instrument (writes its names once), -1 when none. */
  entry(instrument: number, venue: string, symbol: string): number {
    if (instrument < 0) return -1;
    const v = this.claim(this.venueKeys, this.venues, venue);
    if (v < 0) {
      Atomics.add(this.header, H_REFUSED_VENUES, 1);
      writeName(this.refusedNames, NAME_BYTES, venue);
      return -1;
    }
    writeName(this.venueNames, v * NAME_BYTES, venue);
    const e = instrument * this.venues + v;
    writeName(this.names, e * NAME_BYTES, symbol);
    return e;
  }

  // ---- writer (the worker owning the stream) ------------------------------------------------

  /**
   * Publishes a stream's price (when `refPrice` > 0) and liveness; seqlock: odd while writing.
   * Takes the stream's state rather than numbers: doubles passed as arguments are boxed.
   */
  publish(stream: PublishedStream, seenUs: number): void {
    const entry = stream.refEntry;
    if (entry < 0) return;
    const seqs = this.seqs;
    const f = this.fields;
    const at = entry * FIELDS;
    Atomics.add(seqs, entry, 1);
    if (stream.refPrice > 0) { f[at + PRICE] = stream.refPrice; f[at + TS] = stream.eventTs; }
    f[at + SEEN] = seenUs;
    f[at + SILENCE] = stream.silenceUs;
    if (!Number.isNaN(stream.moveBp)) f[at + MOVE] = stream.moveBp;
    if (stream.liqLastTs > 0) { f[at + LIQ] = stream.liqWindowNotional; f[at + LIQ_TS] = stream.liqLastTs; }
    Atomics.add(seqs, entry, 1);
  }

  setExcluded(entry: number, excluded: boolean): void {
    if (entry < 0) return;
    Atomics.add(this.seqs, entry, 1);
    this.fields[entry * FIELDS + EXCLUDED] = excluded ? 1 : 0;
    Atomics.add(this.seqs, entry, 1);
  }

  isExcluded(entry: number): boolean {
    return entry >= 0 && this.fields[entry * FIELDS + EXCLUDED] === 1;
  }

  // ---- readers --------------------------------------------------------------------------------

  /**
   * Median price of an instrument's venues other than `self` whose price is within `maxAgeUs`
   * of `ts` (exchange time, so replays behave like live data) and not excluded. Result in `quote`.
   */
  median(instrument: number, self: number, at: { readonly eventTs: number }, maxAgeMs: number): ReferenceQuote {
    this.readTs = at.eventTs;
    this.readMaxAgeUs = maxAgeMs * 1000;
    const q = this.quote;
    q.median = NaN;
    q.venues = 0;
    if (instrument < 0) return q;
    const scratch = this.scratch;
    let n = 0;
    const first = instrument * this.venues;
    for (let e = first; e < first + this.venues; e++) {
      if (e === self) continue;
      if (!this.readFresh(e)) continue;
      const price = this.readPrice;
      let j = n - 1;
      while (j >= 0 && scratch[j]! > price) { scratch[j + 1] = scratch[j]!; j--; }
      scratch[j + 1] = price;
      n++;
    }
    q.venues = n;
    if (n > 0) q.median = n % 2 === 1 ? scratch[(n - 1) >> 1]! : (scratch[n / 2 - 1]! + scratch[n / 2]!) / 2;
    return q;
  }

  /** Venues that ever published a price for the instrument. */
  knownVenues(instrument: number): number {
    if (instrument < 0) return 0;
    let n = 0;
    const first = instrument * this.venues;
    for (let e = first; e < first + this.venues; e++) if (this.fields[e * FIELDS + TS]! > 0) n++;
    return n;
  }

  // The read in progress (fields, not arguments or return values: numbers crossing a call are boxed).
  private readTs = 0;
  private readMaxAgeUs = 0;
  private readPrice = 0;

  /**
   * A consistent read of an entry: true, with the price in `readPrice`, when it is fresh (within
   * `readMaxAgeUs` of `readTs`) and not excluded.
   */
  private readFresh(e: number): boolean {
    const seqs = this.seqs;
    const f = this.fields;
    const at = e * FIELDS;
    for (;;) {
      const before = Atomics.load(seqs, e);
      if ((before & 1) === 1) continue;
      const price = f[at + PRICE]!;
      const pts = f[at + TS]!;
      const excluded = f[at + EXCLUDED]!;
      if (Atomics.load(seqs, e) !== before) continue;
      if (!(price > 0) || excluded === 1 || Math.abs(this.readTs - pts) > this.readMaxAgeUs) return false;
      this.readPrice = price;
      return true;
    }
  }

  /** Share of active instruments in a fast move down / up, as of the last sweep. */
  get breadthDown(): number { return this.headerF[F_BREADTH_DOWN]!; }
  get breadthUp(): number { return this.headerF[F_BREADTH_UP]!; }
  /** Instruments with fresh data at the last sweep. */
  get activeInstruments(): number { return this.headerF[F_ACTIVE]!; }
  /** Liquidated notional over C1's window, all venues, as of the last sweep (C7). */
  get liquidatedMarket(): number { return this.headerF[F_LIQ_MARKET]!; }
  /** The same for the venue of an entry (`entry % venues` is its venue slot). */
  liquidatedVenue(entry: number): number { return entry < 0 ? 0 : this.headerF[F_LIQ_VENUE + (entry % this.venues)]!; }
  /** The same by venue name, for metrics: [venue, notional] of every venue slot in use. */
  liquidatedByVenue(): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (let v = 0; v < this.venues; v++) if (Atomics.load(this.venueKeys, 2 * v) !== 0) out.push([this.venueName(v), this.headerF[F_LIQ_VENUE + v]!]);
    return out;
  }

  /** [venue, exchange time of its newest priced event, µs] of every venue slot with one (freshness metric). */
  newestByVenue(): Array<[string, number]> {
    const newest = new Float64Array(this.venues);
    const f = this.fields;
    for (let i = 0; i < this.capacity; i++) {
      if (Atomics.load(this.keys, 2 * i) === 0) continue;
      for (let v = 0; v < this.venues; v++) {
        const ts = f[(i * this.venues + v) * FIELDS + TS]!;
        if (ts > newest[v]!) newest[v] = ts;
      }
    }
    const out: Array<[string, number]> = [];
    for (let v = 0; v < this.venues; v++) if (newest[v]! > 0 && Atomics.load(this.venueKeys, 2 * v) !== 0) out.push([this.venueName(v), newest[v]!]);
    return out;
  }

  // ---- the sweep (main thread, on a timer) --------------------------------------------------

  /**
   * Streams silent for longer than their learned threshold (each reported once per silence);
   * the breadth of fast moves: the share of instruments with fresh prices (within `freshUs` of
   * the newest price in the table) whose move is at least `moveBp` down (or up); and the
   * liquidated notional per venue and market-wide: each stream's C1 window sum, from the streams
   * whose last liquidation is within `liqWindowUs` of the newest one in the table (exchange time,
   * so a replay at any speed sums the same; a stream's sum may reach back up to one window
   * further). Returns the silences found by this sweep (a reused array).
   */
  sweep(nowUs: number, moveBp: number, freshUs: number, liqWindowUs = 60_000_000): readonly SilenceAlert[] {
    const alerts = this.alerts;
    alerts.length = 0;
    const venues = this.venues;
    const entries = this.capacity * venues;
    this.alerted ??= new Uint8Array(entries);
    const f = this.fields;
    let newest = 0;
    for (let i = 0; i < this.capacity; i++) {
      if (Atomics.load(this.keys, 2 * i) === 0) continue;
      for (let e = i * venues; e < (i + 1) * venues; e++) if (f[e * FIELDS + TS]! > newest) newest = f[e * FIELDS + TS]!;
    }
    let active = 0;
    let down = 0;
    let up = 0;
    for (let i = 0; i < this.capacity; i++) {
      if (Atomics.load(this.keys, 2 * i) === 0) continue;
      let moves = 0;
      let sum = 0;
      for (let e = i * venues; e < (i + 1) * venues; e++) {
        const at = e * FIELDS;
        const seen = f[at + SEEN]!;
        const silence = f[at + SILENCE]!;
        if (seen > 0 && silence > 0 && nowUs - seen > silence) {
          if (this.alerted[e] === 0) {
            this.alerted[e] = 1;
            alerts.push({ venue: this.venueName(e % venues), symbol: readName(this.names, e * NAME_BYTES, this.decoder), silentMs: Math.round((nowUs - seen) / 1000), thresholdMs: Math.round(silence / 1000) });
          }
        } else {
          this.alerted[e] = 0;
        }
        const ts = f[at + TS]!;
        if (ts > 0 && newest - ts <= freshUs && f[at + EXCLUDED] !== 1) { moves++; sum += f[at + MOVE]!; }
      }
      if (moves === 0) continue;
      active++;
      const move = sum / moves;
      if (move <= -moveBp) down++;
      else if (move >= moveBp) up++;
    }
    let newestLiq = 0;
    for (let e = 0; e < entries; e++) if (f[e * FIELDS + LIQ_TS]! > newestLiq) newestLiq = f[e * FIELDS + LIQ_TS]!;
    const h = this.headerF;
    for (let v = 0; v < this.venues; v++) h[F_LIQ_VENUE + v] = 0;
    let market = 0;
    if (newestLiq > 0) {
      for (let e = 0; e < entries; e++) {
        const at = e * FIELDS;
        const ts = f[at + LIQ_TS]!;
        if (ts === 0 || newestLiq - ts > liqWindowUs) continue;
        h[F_LIQ_VENUE + (e % venues)]! += f[at + LIQ]!;
        market += f[at + LIQ]!;
      }
    }
    h[F_LIQ_MARKET] = market;
    h[F_BREADTH_DOWN] = active > 0 ? down / active : 0;
    h[F_BREADTH_UP] = active > 0 ? up / active : 0;
    h[F_ACTIVE] = active;
    return alerts;
  }

  private venueName(v: number): string {
    return readName(this.venueNames, v * NAME_BYTES, this.decoder);
  }
}


const encoder = new TextEncoder();

function writeName(into: Uint8Array, at: number, name: string): void {
  if (into[at] !== 0) return;
  const bytes = encoder.encode(name).subarray(0, NAME_BYTES - 1);
  // Bytes after the first, then the first: a reader that sees a non-zero first byte sees it all.
  into.set(bytes.subarray(1), at + 1);
  Atomics.store(into, at, bytes[0] ?? 0);
}

function readName(from: Uint8Array, at: number, decoder: TextDecoder): string {
  let end = at;
  while (end < at + NAME_BYTES && from[end] !== 0) end++;
  return decoder.decode(from.slice(at, end));
}
