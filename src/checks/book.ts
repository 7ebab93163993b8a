import type { Level } from '../codec/event.js';

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

  /** Index of `price`, or -(insertion point) - 1 when absent. */
  private find(price: number): number {
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

  /** Sets a level; size 0 removes it. Levels beyond `depth` fall off the end. */
  set(price: number, size: number, depth: number): void {
    const i = this.find(price);
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

  /** Sum of sizes of the levels priced within [lo, hi]. */
  sizeWithin(lo: number, hi: number): number {
    let sum = 0;
    for (let i = 0; i < this.length; i++) {
      const p = this.prices[i]!;
      if (p < lo || p > hi) { if (this.descending ? p < lo : p > hi) break; continue; }
      sum += this.sizes[i]!;
    }
    return sum;
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
    for (let i = 0; i < bids.length; i++) { const l = bids[i]!; this.bids.set(l[0], l[1], this.depth); }
    for (let i = 0; i < asks.length; i++) { const l = asks[i]!; this.asks.set(l[0], l[1], this.depth); }
  }

  /** Mid of the best bid and ask; NaN when a side is empty. */
  mid(): number {
    if (this.bids.length === 0 || this.asks.length === 0) return NaN;
    return (this.bids.prices[0]! + this.asks.prices[0]!) / 2;
  }
}

// ---- checksums -------------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** Writes digits into a reused buffer and folds them into a CRC32 (IEEE), without strings. */
export class ChecksumWriter {
  private crc = -1;

  reset(): void {
    this.crc = -1;
  }

  byte(b: number): void {
    this.crc = CRC_TABLE[(this.crc ^ b) & 0xff]! ^ (this.crc >>> 8);
  }

  /** Decimal digits of a non-negative safe integer (no leading zeros; "0" for zero). */
  integer(n: number): void {
    if (n < 10) { this.byte(48 + n); return; }
    let div = 1;
    while (div * 10 <= n) div *= 10;
    while (div >= 1) {
      const d = Math.floor(n / div);
      this.byte(48 + d);
      n -= d * div;
      div /= 10;
    }
  }

  /**
   * A number as its shortest decimal string (what `String(x)` prints for the prices and sizes
   * venues send, e.g. "8476.98", "0.0123", "415"), digit by digit.
   */
  shortestDecimal(x: number): void {
    let dp = 0;
    let scale = 1;
    while (dp < 12 && Math.round(x * scale) / scale !== x) { dp++; scale *= 10; }
    const scaled = Math.round(x * scale);
    const intPart = Math.floor(scaled / scale);
    this.integer(intPart);
    if (dp === 0) return;
    this.byte(46); // '.'
    let frac = scaled - intPart * scale;
    for (let d = scale / 10; d >= 1; d /= 10) {
      const digit = Math.floor(frac / d);
      this.byte(48 + digit);
      frac -= digit * d;
    }
  }

  /** Unsigned CRC32 of what was written. */
  get unsigned(): number {
    return (this.crc ^ -1) >>> 0;
  }
}

const scratch = new ChecksumWriter();
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12];

/**
 * Kraken's book checksum: the top 10 asks (best first) then the top 10 bids, each level its price
 * and then its volume as the venue prints them with the '.' removed and leading zeros stripped,
 * all concatenated; CRC32, unsigned. With the pair's fixed decimals that string is the decimal
 * form of round(value x 10^decimals).
 */
export function krakenChecksum(book: OrderBook, priceDp: number, sizeDp: number): number {
  const w = scratch;
  w.reset();
  const ps = POW10[priceDp]!;
  const ss = POW10[sizeDp]!;
  writeScaled(w, book.asks, ps, ss);
  writeScaled(w, book.bids, ps, ss);
  return w.unsigned;
}

function writeScaled(w: ChecksumWriter, side: BookSide, ps: number, ss: number): void {
  const n = Math.min(10, side.length);
  for (let i = 0; i < n; i++) {
    w.integer(Math.round(side.prices[i]! * ps));
    w.integer(Math.round(side.sizes[i]! * ss));
  }
}

/**
 * OKX's book checksum: for i in 0..24, `bid[i].px:bid[i].sz:ask[i].px:ask[i].sz` (skipping a side
 * once it runs out), joined by ':'; CRC32 as a signed 32-bit integer.
 */
export function okxChecksum(book: OrderBook): number {
  const w = scratch;
  w.reset();
  let first = true;
  for (let i = 0; i < 25; i++) {
    if (i < book.bids.length) {
      if (!first) w.byte(58);
      w.shortestDecimal(book.bids.prices[i]!); w.byte(58); w.shortestDecimal(book.bids.sizes[i]!);
      first = false;
    }
    if (i < book.asks.length) {
      if (!first) w.byte(58);
      w.shortestDecimal(book.asks.prices[i]!); w.byte(58); w.shortestDecimal(book.asks.sizes[i]!);
      first = false;
    }
  }
  return w.unsigned | 0;
}
