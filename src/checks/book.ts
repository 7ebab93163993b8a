import type { BookEvent, Level } from '../codec/event.js';

/** Levels kept per side when the snapshot does not say (the deepest public feeds send 1,000). */
const DEFAULT_DEPTH = 1000;

/**
 * One side of an order book: prices sorted best first (bids descending, asks ascending) in
 * fixed typed arrays. Insert and delete shift with `copyWithin` (a memmove); a lookup is a
 * binary search. Bounded: never more than `capacity` levels.
 */
export class BookSide {
  readonly prices: Float64Array;
  readonly sizes: Float64Array;
  length = 0;

  constructor(readonly descending: boolean, readonly capacity: number) {
    this.prices = new Float64Array(capacity);
    this.sizes = new Float64Array(capacity);
  }

  /** The price `find` looks for (a field, not an argument: a number handed to a call is boxed). */
  private probe = 0;

  /** Index of `probe`, or -(insertion point) - 1 when absent. */
  private find(): number {
    const price = this.probe;
    let lo = 0;
    let hi = this.length - 1;
    const desc = this.descending;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const p = this.prices[mid]!;
      if (p === price) return mid;
      if (desc ? p > price : p < price) lo = mid + 1;
      else hi = mid - 1;
    }
    return -lo - 1;
  }

  /**
   * Sets a level; size 0 removes it. Levels beyond `depth` fall off the end. Takes the level
   * array itself: its numbers handed over one by one would each be boxed.
   */
  set(level: Level, depth: number): void {
    const price = level[0];
    const size = level[1];
    this.probe = price;
    const i = this.find();
    if (i >= 0) {
      if (size > 0) { this.sizes[i] = size; return; }
      this.prices.copyWithin(i, i + 1, this.length);
      this.sizes.copyWithin(i, i + 1, this.length);
      this.length--;
      return;
    }
    if (!(size > 0)) return;
    const at = -i - 1;
    const limit = Math.min(depth, this.capacity);
    if (at >= limit) return;
    const end = Math.min(this.length, limit - 1);
    this.prices.copyWithin(at + 1, at, end);
    this.sizes.copyWithin(at + 1, at, end);
    this.prices[at] = price;
    this.sizes[at] = size;
    this.length = end + 1;
  }

  clear(): void {
    this.length = 0;
  }

  /** Sum of sizes of the levels priced within [lo, hi], best first, into `sum` (no boxed return). */
  sum = 0;
  sumWithin(band: { readonly bandLo: number; readonly bandHi: number }): void {
    const lo = band.bandLo;
    const hi = band.bandHi;
    let sum = 0;
    for (let i = 0; i < this.length; i++) {
      const p = this.prices[i]!;
      if (p < lo || p > hi) { if (this.descending ? p < lo : p > hi) break; continue; }
      sum += this.sizes[i]!;
    }
    this.sum = sum;
  }
}

/**
 * The order book a venue's book stream describes, rebuilt from its snapshot and deltas so that
 * checksums (Kraken, OKX) and depth checks (M4, M5) can be computed. Depth follows the snapshot:
 * a venue that publishes N levels per side keeps the client to N (Kraken re-sends the level that
 * enters the window when one leaves it), so levels beyond are dropped.
 */
export class OrderBook {
  readonly bids: BookSide;
  readonly asks: BookSide;
  depth = DEFAULT_DEPTH;
  /** Mid of the best bid and ask after the last update; NaN when a side is empty. */
  midPrice = NaN;
  /** Notional within the band around the mid, as of the last `measureDepth`. */
  depthNotional = NaN;
  bandLo = 0;
  bandHi = 0;

  constructor(capacity = DEFAULT_DEPTH) {
    this.bids = new BookSide(true, capacity);
    this.asks = new BookSide(false, capacity);
  }

  applySnapshot(bids: readonly Level[], asks: readonly Level[]): void {
    this.bids.clear();
    this.asks.clear();
    const depth = Math.max(bids.length, asks.length);
    this.depth = depth > 0 ? Math.min(depth, this.bids.capacity) : this.bids.capacity;
    this.applyDelta(bids, asks);
  }

  applyDelta(bids: readonly Level[], asks: readonly Level[]): void {
    for (let i = 0; i < bids.length; i++) this.bids.set(bids[i]!, this.depth);
    for (let i = 0; i < asks.length; i++) this.asks.set(asks[i]!, this.depth);
    // Separate stores: `c ? NaN : mid` would box the mid (see state.ts).
    if (this.bids.length === 0 || this.asks.length === 0) this.midPrice = NaN;
    else this.midPrice = (this.bids.prices[0]! + this.asks.prices[0]!) / 2;
  }

  /** Sets `depthNotional`: sizes within `bandPct` % of the mid on both sides, times the mid. */
  measureDepth(bandPct: number): void {
    const mid = this.midPrice;
    this.bandLo = mid * (1 - bandPct / 100);
    this.bandHi = mid * (1 + bandPct / 100);
    this.bids.sumWithin(this);
    this.asks.sumWithin(this);
    this.depthNotional = (this.bids.sum + this.asks.sum) * mid;
  }
}

// ---- checksums -------------------------------------------------------------------------------
// Computed digit by digit into a CRC32 without building strings. Results go to CHECKSUM[0]:
// returning a uint32 (or passing doubles between functions) would box a number per call.

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** [0]: the last checksum computed (unsigned); [1]: the running CRC. */
export const CHECKSUM = new Uint32Array(2);
const POW10 = new Float64Array([1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12]);
// The digits of one number, least significant first.
const DIGITS = new Uint8Array(32);
// The number being folded (a typed-array slot, not an argument: numbers crossing a call are boxed).
const NUM = new Float64Array(1);

function crcByte(b: number): void {
  const c = CHECKSUM[1]! | 0;
  CHECKSUM[1] = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
}

/** Folds the decimal digits of the non-negative integer in NUM[0] (no leading zeros; "0" for zero) into the CRC. */
function crcInteger(): void {
  let n = NUM[0]!;
  let k = 0;
  do {
    const q = Math.floor(n / 10);
    DIGITS[k++] = n - q * 10;
    n = q;
  } while (n > 0 && k < 32);
  while (k > 0) crcByte(48 + DIGITS[--k]!);
}

/**
 * Folds a number as its shortest decimal string (what `String(x)` prints for the prices and
 * sizes venues send: "8476.98", "0.0123", "415").
 */
function crcShortestDecimal(values: Float64Array, i: number): void {
  const x = values[i]!;
  let dp = 0;
  let scale = 1;
  while (dp < 12 && Math.round(x * scale) / scale !== x) { dp++; scale *= 10; }
  const scaled = Math.round(x * scale);
  const intPart = Math.floor(scaled / scale);
  NUM[0] = intPart;
  crcInteger();
  if (dp === 0) return;
  crcByte(46); // '.'
  let frac = scaled - intPart * scale;
  for (let d = 0; d < dp; d++) {
    const q = Math.floor(frac / 10);
    DIGITS[d] = frac - q * 10;
    frac = q;
  }
  for (let d = dp - 1; d >= 0; d--) crcByte(48 + DIGITS[d]!);
}

/**
 * Kraken's book checksum: the top 10 asks (best first) then the top 10 bids, each level its price
 * and then its volume as the venue prints them with the '.' removed and leading zeros stripped,
 * all concatenated; CRC32, unsigned. With the pair's fixed decimals that string is the decimal
 * form of round(value x 10^decimals).
 */
export function krakenChecksum(book: OrderBook, priceDp: number, sizeDp: number): void {
  CHECKSUM[1] = 0xffffffff;
  krakenSide(book.asks, priceDp, sizeDp);
  krakenSide(book.bids, priceDp, sizeDp);
  CHECKSUM[0] = ~CHECKSUM[1]!;
}

function krakenSide(side: BookSide, priceDp: number, sizeDp: number): void {
  const n = Math.min(10, side.length);
  const ps = POW10[priceDp]!;
  const ss = POW10[sizeDp]!;
  for (let i = 0; i < n; i++) {
    NUM[0] = Math.round(side.prices[i]! * ps);
    crcInteger();
    NUM[0] = Math.round(side.sizes[i]! * ss);
    crcInteger();
  }
}

/**
 * OKX's book checksum: for i in 0..24, `bid[i].px:bid[i].sz:ask[i].px:ask[i].sz` (skipping a side
 * once it runs out), joined by ':'; CRC32 (the venue sends it as a signed 32-bit integer).
 */
export function okxChecksum(book: OrderBook): void {
  CHECKSUM[1] = 0xffffffff;
  let first = true;
  for (let i = 0; i < 25; i++) {
    if (i < book.bids.length) {
      if (!first) crcByte(58);
      crcShortestDecimal(book.bids.prices, i); crcByte(58); crcShortestDecimal(book.bids.sizes, i);
      first = false;
    }
    if (i < book.asks.length) {
      if (!first) crcByte(58);
      crcShortestDecimal(book.asks.prices, i); crcByte(58); crcShortestDecimal(book.asks.sizes, i);
      first = false;
    }
  }
  CHECKSUM[0] = ~CHECKSUM[1]!;
}

/**
 * Whether `book` (rebuilt from the snapshot and the updates up to `e`) has the checksum `e`
 * carries: Kraken's over the top 10 at the printed digits, OKX's over the top 25. True when `e`
 * carries none, or its venue has no rule here; the value computed stays in CHECKSUM[0] for the
 * report. Used by the processor's check (Q5) and by the ingest gateway's BookGuard.
 */
export function checksumMatches(book: OrderBook, e: BookEvent): boolean {
  if (e.checksum === undefined) return true;
  if (e.venue === 'kraken') {
    if (e.priceDp === undefined || e.sizeDp === undefined) return true;
    krakenChecksum(book, e.priceDp, e.sizeDp);
  } else if (e.venue === 'okx') {
    okxChecksum(book);
  } else {
    return true;
  }
  return (CHECKSUM[0]! | 0) === (e.checksum | 0);
}
