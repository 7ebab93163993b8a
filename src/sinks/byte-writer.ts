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
