import { ErrorCode, HimariError } from '../errors.js';
/**
 * The buffer a batch of Kafka messages travels in to a worker. The process allocates it, packs
 * message values into it and moves it (transfer list, no copy); the worker moves it back with
 * its result so the next batch reuses it.
 *
 * Layout (little endian):
 *   u32 count | u32 capacity | u32 end[capacity] | u32 partition[capacity] | padding to 8 |
 *   f64 offset[capacity] | bytes
 * `end[i]` is the end of message i relative to the start of the bytes; message i starts at end[i-1] (0 for
 * i=0). `partition[i]` and `offset[i]` are its Kafka partition and offset (a double holds every
 * offset below 2^53 exactly). A batch may hold several partitions of one worker: one task per
 * worker instead of one per partition is what keeps thread wake-ups per event low.
 */
const HEADER_BYTES = 8;
const EMPTY = new Uint8Array(0);

/** Messages whose values lie back to back in `bytes` (a `ConsumedBatch`). */
export interface PackableMessages {
  readonly bytes: Uint8Array;
  readonly offsets: Float64Array;
  readonly partitions: Uint32Array;
  valueStart(i: number): number;
  valueEnd(i: number): number;
}

export function packedSize(count: number, payloadBytes: number): number {
  return offsetsStart(count) + 8 * count + payloadBytes;
}

function partitionsStart(capacity: number): number {
  return HEADER_BYTES + 4 * capacity;
}

function offsetsStart(capacity: number): number {
  return align8(HEADER_BYTES + 8 * capacity);
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Writes message values into `buffer`; `buffer` must hold at least `packedSize` bytes. */
export class BatchPacker {
  private buffer: ArrayBuffer;
  private bytes: Uint8Array;
  private view: DataView;
  private count = 0;
  private capacity = 0;
  private dataStart = 0;
  private partitionsAt = 0;
  private offsetsAt = 0;
  private cursor = 0;

  constructor(buffer: ArrayBuffer) {
    this.buffer = buffer;
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
  }

  /** Starts a batch of at most `capacity` messages, reusing `buffer`. */
  reset(buffer: ArrayBuffer, capacity: number): void {
    if (buffer !== this.buffer) {
      this.buffer = buffer;
      this.bytes = new Uint8Array(buffer);
      this.view = new DataView(buffer);
    }
    this.count = 0;
    this.capacity = capacity;
    this.partitionsAt = partitionsStart(capacity);
    this.offsetsAt = offsetsStart(capacity);
    this.dataStart = this.offsetsAt + 8 * capacity;
    this.cursor = this.dataStart;
  }

  /** Appends one message; returns false (and writes nothing) when it does not fit. */
  append(value: Uint8Array, offset: number, partition = 0): boolean {
    if (this.count >= this.capacity || this.cursor + value.byteLength > this.buffer.byteLength) return false;
    this.bytes.set(value, this.cursor);
    this.cursor += value.byteLength;
    this.record(offset, partition);
    return true;
  }

  /**
   * Appends messages `from .. to-1` of `source`, whose values lie back to back there: one copy
   * for the run (a consumed batch holds a partition's messages in a row, see ConsumedBatch). A
   * value over `maxBytes` travels empty (the result handler dead-letters it). Returns false, and
   * writes nothing, when the run does not fit.
   */
  appendRun(source: PackableMessages, from: number, to: number, maxBytes: number): boolean {
    const start = source.valueStart(from);
    let end = start;
    for (let i = from; i < to; i++) {
      if (source.valueEnd(i) - source.valueStart(i) > maxBytes) return this.appendEach(source, from, to, maxBytes);
      end = source.valueEnd(i);
    }
    if (this.count + (to - from) > this.capacity || this.cursor + (end - start) > this.buffer.byteLength) return false;
    if (end > start) this.bytes.set(source.bytes.subarray(start, end), this.cursor);
    for (let i = from; i < to; i++) {
      this.cursor += source.valueEnd(i) - source.valueStart(i);
      this.record(source.offsets[i]!, source.partitions[i]!);
    }
    return true;
  }

  /** `appendRun` with an oversized value among them: message by message. */
  private appendEach(source: PackableMessages, from: number, to: number, maxBytes: number): boolean {
    let bytes = 0;
    for (let i = from; i < to; i++) {
      const n = source.valueEnd(i) - source.valueStart(i);
      if (n <= maxBytes) bytes += n;
    }
    if (this.count + (to - from) > this.capacity || this.cursor + bytes > this.buffer.byteLength) return false;
    for (let i = from; i < to; i++) {
      const a = source.valueStart(i);
      const b = source.valueEnd(i);
      this.append(b - a > maxBytes ? EMPTY : source.bytes.subarray(a, b), source.offsets[i]!, source.partitions[i]!);
    }
    return true;
  }

  private record(offset: number, partition: number): void {
    this.view.setUint32(HEADER_BYTES + 4 * this.count, this.cursor - this.dataStart, true);
    this.view.setUint32(this.partitionsAt + 4 * this.count, partition, true);
    this.view.setFloat64(this.offsetsAt + 8 * this.count, offset, true);
    this.count++;
  }

  get length(): number {
    return this.count;
  }

  get bytesUsed(): number {
    return this.cursor;
  }

  /** Seals the header; the buffer is then ready to be moved to a worker. */
  finish(): ArrayBuffer {
    this.view.setUint32(0, this.count, true);
    this.view.setUint32(4, this.capacity, true);
    return this.buffer;
  }
}

/**
 * A fresh, exactly sized batch of `values` with offsets `firstOffset, firstOffset + 1, ...` on one
 * partition (the worker's warm-up, tests and benchmarks; the pipeline packs into recycled buffers).
 */
export function packValues(values: readonly Uint8Array[], firstOffset = 0, partition = 0): ArrayBuffer {
  let bytes = 0;
  for (const v of values) bytes += v.byteLength;
  const buffer = new ArrayBuffer(packedSize(values.length, bytes));
  const packer = new BatchPacker(buffer);
  packer.reset(buffer, values.length);
  for (let i = 0; i < values.length; i++) packer.append(values[i]!, firstOffset + i, partition);
  return packer.finish();
}

/** Read side, used by the worker. Holds views only; `messageStart/End` index into `bytes`. */
export class PackedBatch {
  readonly bytes: Uint8Array;
  readonly count: number;
  private readonly view: DataView;
  private readonly dataStart: number;
  private readonly offsetsAt: number;
  private readonly partitionsAt: number;

  constructor(buffer: ArrayBuffer) {
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    this.count = this.view.getUint32(0, true);
    const capacity = this.view.getUint32(4, true);
    this.partitionsAt = partitionsStart(capacity);
    this.offsetsAt = offsetsStart(capacity);
    this.dataStart = this.offsetsAt + 8 * capacity;
    if (this.count > capacity || this.dataStart > buffer.byteLength) throw new HimariError(ErrorCode.INTERNAL, 'corrupt batch header');
  }

  offset(i: number): number {
    return this.view.getFloat64(this.offsetsAt + 8 * i, true);
  }

  partition(i: number): number {
    return this.view.getUint32(this.partitionsAt + 4 * i, true);
  }

  messageStart(i: number): number {
    return this.dataStart + (i === 0 ? 0 : this.view.getUint32(HEADER_BYTES + 4 * (i - 1), true));
  }

  messageEnd(i: number): number {
    return this.dataStart + this.view.getUint32(HEADER_BYTES + 4 * i, true);
  }

  /** Message i's bytes (a view, no copy). */
  value(i: number): Uint8Array {
    return this.bytes.subarray(this.messageStart(i), this.messageEnd(i));
  }
}
