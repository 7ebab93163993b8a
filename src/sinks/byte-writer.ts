/**
 * Appends UTF-8 text into one growing buffer that this thread owns, so the result can be moved
 * (transferred) to another thread. `Buffer.from(string)` would not do: small Buffers share a
 * pooled slab, and transferring one would move the whole slab.
 */
const encoder = new TextEncoder();

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

  /** Writes UTF-8 text and returns how many bytes it took. */
  writeCounted(text: string): number {
    // A UTF-16 code unit becomes at most 3 UTF-8 bytes.
    const worst = text.length * 3;
    if (this.pos + worst > this.buf.length) this.grow(this.pos + worst);
    const written = encoder.encodeInto(text, this.buf.subarray(this.pos)).written;
    this.pos += written;
    return written;
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
}
