import { ErrorCode, HimariError } from '../errors.js';
import { intendedSendMs } from './intended-send.js';

/**
 * A consumed message as node-rdkafka hands it over (structurally `Kafka.Message`): what the
 * source packs, and what tests build batches from. Typed here so that nothing past the source
 * needs node-rdkafka, which loads in one thread of a process only.
 */
export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: number;
  value: Buffer | null;
  key?: Buffer | string | null | undefined;
  timestamp?: number | undefined;
  headers?: Array<{ [key: string]: string | Buffer }> | undefined;
}

const HEADER_BYTES = 8;
const VALUE_NULL = 1;
const KEY_NULL = 2;
const EMPTY = new Uint8Array(0);

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Where each table of a batch of `count` messages starts. */
function layoutOf(count: number): { offsets: number; timestamps: number; sent: number; partitions: number; valueEnds: number; keyEnds: number; topics: number; flags: number; data: number } {
  const offsets = HEADER_BYTES;
  const timestamps = offsets + 8 * count;
  const sent = timestamps + 8 * count;
  const partitions = sent + 8 * count;
  const valueEnds = partitions + 4 * count;
  const keyEnds = valueEnds + 4 * count;
  const topics = keyEnds + 4 * count;
  const flags = topics + count;
  return { offsets, timestamps, sent, partitions, valueEnds, keyEnds, topics, flags, data: align8(flags + count) };
}

/**
 * One consume call's messages in one buffer: the node-rdkafka message objects are read once,
 * here, and dropped. Offsets, timestamps, send times (the `x-intended-ns` header, else the Kafka
 * timestamp) and partitions sit in typed tables; the values follow each other in one run, so a
 * partition's messages copy into a worker batch with one `set`; the keys follow the values.
 * A plain ArrayBuffer with the topic names beside it: the form a batch can be moved between
 * threads in, and the only form of a consumed message past the source.
 *
 * Layout (little endian): u32 count | u32 value bytes | f64 offset[n] | f64 timestamp ms[n] (-1:
 * none) | f64 sent ms[n] (0: unknown) | u32 partition[n] | u32 value end[n] | u32 key end[n] |
 * u8 topic index[n] | u8 flags[n] (1: null value, 2: null key) | padding to 8 | values | keys.
 */
export class ConsumedBatch {
  readonly count: number;
  readonly bytes: Uint8Array;
  readonly offsets: Float64Array;
  readonly timestamps: Float64Array;
  /** When each message was sent, Unix ms (fractional): its intended send time, else its Kafka timestamp; 0 if neither. */
  readonly sentMs: Float64Array;
  readonly partitions: Uint32Array;
  private readonly valueEnds: Uint32Array;
  private readonly keyEnds: Uint32Array;
  private readonly topicIndex: Uint8Array;
  private readonly flags: Uint8Array;
  private readonly dataStart: number;
  private readonly keysStart: number;

  constructor(readonly buffer: ArrayBuffer, readonly topics: readonly string[]) {
    const view = new DataView(buffer);
    if (buffer.byteLength < HEADER_BYTES) throw new HimariError(ErrorCode.INTERNAL, 'corrupt consumed batch: no header');
    const n = view.getUint32(0, true);
    const l = layoutOf(n);
    const valueBytes = view.getUint32(4, true);
    if (l.data + valueBytes > buffer.byteLength) throw new HimariError(ErrorCode.INTERNAL, `corrupt consumed batch: ${n} messages do not fit ${buffer.byteLength} bytes`);
    this.count = n;
    this.bytes = new Uint8Array(buffer);
    this.offsets = new Float64Array(buffer, l.offsets, n);
    this.timestamps = new Float64Array(buffer, l.timestamps, n);
    this.sentMs = new Float64Array(buffer, l.sent, n);
    this.partitions = new Uint32Array(buffer, l.partitions, n);
    this.valueEnds = new Uint32Array(buffer, l.valueEnds, n);
    this.keyEnds = new Uint32Array(buffer, l.keyEnds, n);
    this.topicIndex = new Uint8Array(buffer, l.topics, n);
    this.flags = new Uint8Array(buffer, l.flags, n);
    this.dataStart = l.data;
    this.keysStart = l.data + valueBytes;
  }

  topic(i: number): string {
    return this.topics[this.topicIndex[i]!]!;
  }

  /** Same topic and partition as message `j`. */
  samePartition(i: number, j: number): boolean {
    return this.partitions[i] === this.partitions[j] && this.topicIndex[i] === this.topicIndex[j];
  }

  /** Where message i's value starts in `bytes`. */
  valueStart(i: number): number {
    return this.dataStart + (i === 0 ? 0 : this.valueEnds[i - 1]!);
  }

  valueEnd(i: number): number {
    return this.dataStart + this.valueEnds[i]!;
  }

  valueLength(i: number): number {
    return this.valueEnds[i]! - (i === 0 ? 0 : this.valueEnds[i - 1]!);
  }

  valueIsNull(i: number): boolean {
    return (this.flags[i]! & VALUE_NULL) !== 0;
  }

  /** Message i's value (a view; empty for a null value, see `valueIsNull`). */
  value(i: number): Uint8Array {
    return this.valueIsNull(i) ? EMPTY : this.bytes.subarray(this.valueStart(i), this.valueEnd(i));
  }

  /** Message i's key (a copy), or null. */
  key(i: number): Buffer | null {
    if ((this.flags[i]! & KEY_NULL) !== 0) return null;
    const from = this.keysStart + (i === 0 ? 0 : this.keyEnds[i - 1]!);
    return Buffer.from(this.bytes.subarray(from, this.keysStart + this.keyEnds[i]!));
  }

  timestampMs(i: number): number | undefined {
    const t = this.timestamps[i]!;
    return t < 0 ? undefined : t;
  }
}

/**
 * Packs one consume call's messages (`Kafka.Message`s) into a `ConsumedBatch`. `topics` is the
 * consumer's topic list (extended when a message names another): its order is the topic index.
 */
export function packConsumed(messages: readonly ConsumedMessage[], topics: string[] = []): ConsumedBatch {
  const n = messages.length;
  let valueBytes = 0;
  let keyBytes = 0;
  for (let i = 0; i < n; i++) {
    const m = messages[i]!;
    if (m.value !== null) valueBytes += m.value.length;
    const k = m.key;
    if (k !== null && k !== undefined) keyBytes += typeof k === 'string' ? Buffer.byteLength(k) : k.length;
  }
  const l = layoutOf(n);
  const buffer = new ArrayBuffer(l.data + valueBytes + keyBytes);
  const bytes = Buffer.from(buffer);
  const offsets = new Float64Array(buffer, l.offsets, n);
  const timestamps = new Float64Array(buffer, l.timestamps, n);
  const sent = new Float64Array(buffer, l.sent, n);
  const partitions = new Uint32Array(buffer, l.partitions, n);
  const valueEnds = new Uint32Array(buffer, l.valueEnds, n);
  const keyEnds = new Uint32Array(buffer, l.keyEnds, n);
  const topicIndex = new Uint8Array(buffer, l.topics, n);
  const flags = new Uint8Array(buffer, l.flags, n);
  const header = new DataView(buffer, 0, HEADER_BYTES);
  header.setUint32(0, n, true);
  header.setUint32(4, valueBytes, true);
  let valueAt = 0;
  let keyAt = 0;
  const keysStart = l.data + valueBytes;
  let lastTopic = '';
  let lastIndex = -1;
  for (let i = 0; i < n; i++) {
    const m = messages[i]!;
    if (m.topic !== lastTopic) {
      lastTopic = m.topic;
      lastIndex = topics.indexOf(m.topic);
      if (lastIndex < 0) {
        if (topics.length >= 256) throw new HimariError(ErrorCode.INTERNAL, 'a consumed batch holds at most 256 topics');
        lastIndex = topics.push(m.topic) - 1;
      }
    }
    topicIndex[i] = lastIndex;
    offsets[i] = m.offset;
    partitions[i] = m.partition;
    const ts = m.timestamp ?? -1;
    timestamps[i] = ts;
    // node-rdkafka hands over headers only when a message has some: the common case costs one check.
    const intended = m.headers === undefined ? -1 : intendedSendMs(m.headers);
    sent[i] = intended >= 0 ? intended : ts > 0 ? ts : 0;
    let f = 0;
    if (m.value === null) f |= VALUE_NULL;
    else {
      bytes.set(m.value, l.data + valueAt);
      valueAt += m.value.length;
    }
    valueEnds[i] = valueAt;
    const k = m.key;
    if (k === null || k === undefined) f |= KEY_NULL;
    else if (typeof k === 'string') keyAt += bytes.write(k, keysStart + keyAt);
    else {
      bytes.set(k, keysStart + keyAt);
      keyAt += k.length;
    }
    keyEnds[i] = keyAt;
    flags[i] = f;
  }
  return new ConsumedBatch(buffer, topics);
}
