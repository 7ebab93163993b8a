/**
 * Appends UTF-8 text into one growing buffer that this thread owns, so the result can be moved
 * (transferred) to another thread. `Buffer.from(string)` would not do: small Buffers share a
 * pooled slab, and transferring one would move the whole slab.
 */
const encoder = new TextEncoder();
/** Strings up to this length are tried as ASCII first (real venues, symbols and ids are under 64). */
const SHORT_TEXT = 64;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const DOT = 0x2e;
/** Decimals up to which `decimal` writes a fractional number itself. */
const MAX_FAST_DECIMALS = 8;
const NULL_LITERAL = encoder.encode('null');

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.pos;
  }

  write(text: string): void {
    this.writeCounted(text);
  }

  /**
   * Writes UTF-8 text and returns how many bytes it took. Short ASCII text (venues, symbols,
   * ids: nearly every string the workers write) is copied by a loop; anything else goes through
   * `TextEncoder.encodeInto`, whose call into C++ and `subarray` view cost more than the copy
   * for a string of a few characters (three such strings: 65 against 320 ns, README "Latest").
   */
  writeCounted(text: string): number {
    const n = text.length;
    // A UTF-16 code unit becomes at most 3 UTF-8 bytes.
    if (this.pos + n * 3 > this.buf.length) this.grow(this.pos + n * 3);
    if (n <= SHORT_TEXT) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) return this.encode(text);
        buf[p++] = c;
      }
      this.pos = p;
      return n;
    }
    return this.encode(text);
  }

  private encode(text: string): number {
    const written = encoder.encodeInto(text, this.buf.subarray(this.pos)).written;
    this.pos += written;
    return written;
  }

  /**
   * Writes `s` as a JSON string (quoted, escaped exactly as `JSON.stringify` does) and returns
   * the bytes it took. Printable ASCII without quote or backslash is copied as it is; any other
   * string is left to `JSON.stringify`.
   */
  jsonString(s: string): number {
    const n = s.length;
    if (this.pos + n + 2 > this.buf.length) this.grow(this.pos + n + 2);
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    buf[p++] = QUOTE;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) return this.writeCounted(JSON.stringify(s));
      buf[p++] = c;
    }
    buf[p++] = QUOTE;
    this.pos = p;
    return p - start;
  }

  /**
   * Writes a number as `String(v)` does and returns the bytes. Safe integers, and numbers with up
   * to 8 decimals (prices and sizes), are written digit by digit: `String` of a fractional
   * number allocates a string and was the largest single item of a worker's profile
   * (`Builtins_ToString`, perf). The rest goes through `String`.
   */
  decimal(v: number): number {
    if (Number.isSafeInteger(v)) return this.digits(v < 0, v < 0 ? -v : v, 0);
    const a = v < 0 ? -v : v;
    if (a >= 1e-6 && a < 1e15) {
      // The fewest decimals k for which m / 10^k is v again: that is the shortest form that
      // reads back as v, which `String` prints (plain notation from 1e-6 up to 1e21).
      let scale = 10;
      for (let k = 1; k <= MAX_FAST_DECIMALS; k++, scale *= 10) {
        const m = Math.round(a * scale);
        if (m > Number.MAX_SAFE_INTEGER) break;
        if (m / scale === a) return this.digits(v < 0, m, k);
      }
    }
    return this.writeCounted(String(v));
  }

  /** Writes the integer `m` with a decimal point `decimals` digits from its right (`0.` first when needed). */
  private digits(negative: boolean, m: number, decimals: number): number {
    if (this.pos + 20 > this.buf.length) this.grow(this.pos + 20);
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    if (negative) buf[p++] = MINUS;
    let count = 1;
    for (let t = m; t >= 10; t = Math.floor(t / 10)) count++;
    // Leading zeros of a number below 1 (0.0005: m = 5, 4 decimals).
    const width = count > decimals ? count : decimals + 1;
    const end = p + width + (decimals > 0 ? 1 : 0);
    let q = end;
    for (let i = 0; i < width; i++) {
      if (decimals > 0 && i === decimals) buf[--q] = DOT;
      const next = Math.floor(m / 10);
      buf[--q] = 0x30 + (m - next * 10);
      m = next;
    }
    this.pos = end;
    return end - start;
  }

  /** Writes a number as JSON does: `String(v)` when finite, else `null`. */
  jsonNumber(v: number): number {
    return Number.isFinite(v) ? this.decimal(v) : this.bytes(NULL_LITERAL);
  }

  /** Appends bytes (a literal the caller encoded once); returns how many. */
  bytes(b: Uint8Array): number {
    const n = b.length;
    if (this.pos + n > this.buf.length) this.grow(this.pos + n);
    // A loop: `set` costs more than the copy for the few bytes of a literal.
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = b[i]!;
    this.pos = p;
    return n;
  }

  /** Reserves `n` bytes (little-endian fields filled later with `setU16`/`setU32`/`setF64`/`setU8`); returns where. */
  reserve(n: number): number {
    if (this.pos + n > this.buf.length) this.grow(this.pos + n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  setU8(at: number, v: number): void { this.buf[at] = v; }
  setU16(at: number, v: number): void { this.view.setUint16(at, v, true); }
  setU32(at: number, v: number): void { this.view.setUint32(at, v, true); }
  setF64(at: number, v: number): void { this.view.setFloat64(at, v, true); }

  /** Appends one byte. */
  u8(v: number): void { const at = this.reserve(1); this.buf[at] = v; }

  // Big-endian fields (PostgreSQL's binary COPY is in network byte order), appended.
  i16(v: number): void { const at = this.reserve(2); this.view.setInt16(at, v); }
  i32(v: number): void { const at = this.reserve(4); this.view.setInt32(at, v); }
  f32(v: number): void { const at = this.reserve(4); this.view.setFloat32(at, v); }
  f64(v: number): void { const at = this.reserve(8); this.view.setFloat64(at, v); }
  /** A signed 64-bit integer from a double holding an integer (exact below 2^53). */
  i64(v: number): void {
    const at = this.reserve(8);
    const hi = Math.floor(v / 4294967296);
    this.view.setInt32(at, hi);
    this.view.setUint32(at + 4, v - hi * 4294967296);
  }
  /** 64 bits from two 32-bit words (an unsigned bit set stored in a signed bigint). */
  u32pair(hi: number, lo: number): void {
    const at = this.reserve(8);
    this.view.setUint32(at, hi >>> 0);
    this.view.setUint32(at + 4, lo >>> 0);
  }
  /** Sets a big-endian i32 at `at` (a length written before its field was known). */
  setI32BE(at: number, v: number): void { this.view.setInt32(at, v); }

  private grow(min: number): void {
    let size = this.buf.length * 2;
    while (size < min) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /**
   * Returns the bytes written since the last take in an exactly sized buffer of their own (one
   * memcpy), ready to be moved; the writer keeps its capacity for the next batch.
   */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }

  /** Forgets what was written since the last take (a batch abandoned by an exception). */
  reset(): void {
    this.pos = 0;
  }

  /**
   * Copies the bytes written since the last take to `target` (at least `length` long) and starts
   * over: `take` into a buffer of the caller's.
   */
  moveInto(target: Uint8Array): void {
    target.set(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }
}
