import { randomBytes } from 'node:crypto';
import { Packr } from 'msgpackr';
import { encodeEvent } from '../../../src/codec/encode.js';
import type { MarketEvent } from '../../../src/codec/event.js';

/** The codes a poison message must be dead-lettered with (`x-error-code`). */
export type PoisonCode = 'DECODE_FAILED' | 'SCHEMA_INVALID' | 'MESSAGE_TOO_LARGE' | 'WORKER_FAILED';

/** One kind of bad input: how to make its bytes and what the processor must call it. */
export interface PoisonKind {
  readonly name: string;
  readonly code: PoisonCode;
  /** The `n`-th message of the kind; null is a tombstone (no value at all). */
  make(n: number): Buffer | null;
}

/**
 * The processor's `kafka.maxMessageBytes` in every fault scenario: small, so that a message over
 * it costs 100 kB instead of 1 MiB.
 */
export const FAULT_MAX_MESSAGE_BYTES = 65_536;
/**
 * The dead-letter topic's `max.message.bytes` (and the processor's
 * `kafka.deadLetterMaxMessageBytes`, as an operator sets them): the large kinds below are stored
 * truncated.
 */
export const FAULT_DLQ_MAX_BYTES = 16_384;

/** Every poison message is keyed `poison/<kind>/<id>`: the dead letter keeps the key. */
export const POISON_KEY_PREFIX = 'poison/';

/** The key of a poison message; `id` is unique within a scenario. */
export function poisonKey(kind: string, id: string): string {
  return `${POISON_KEY_PREFIX}${kind}/${id}`;
}

/** The kind a dead letter's key names, or null when it is not one of ours. */
export function kindOfKey(key: string | null): string | null {
  if (key === null || !key.startsWith(POISON_KEY_PREFIX)) return null;
  return key.slice(POISON_KEY_PREFIX.length, key.lastIndexOf('/'));
}

// Plain maps, as the real producers send; a second instance so no state is shared with encodeEvent.
const packr = new Packr({ useRecords: false, variableMapSize: true });

/** A valid trade: the base that most kinds break in one way. Its time is now, so only the break is wrong. */
function trade(n: number): Record<string, unknown> {
  const ts = Date.now() * 1000;
  return { v: 1, type: 'trade', venue: 'binance', symbol: 'BTC-USDT', ts, recvTs: ts + 500, id: `p${n}`, price: 100.5, size: 0.25, side: 'buy' };
}

function quote(): Record<string, unknown> {
  const ts = Date.now() * 1000;
  return { v: 1, type: 'quote', venue: 'okx', symbol: 'ETH-USDT', ts, recvTs: ts + 500, bid: 99.5, bidSize: 1, ask: 100.5, askSize: 2 };
}

function msgpack(value: unknown): Buffer {
  return packr.pack(value);
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function without(e: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _dropped, ...rest } = e;
  return rest;
}

/** A msgpack event whose symbol's bytes are replaced by `bytes` (same length: the header stays right). */
function withSymbolBytes(symbol: string, bytes: number[]): Buffer {
  const b = encodeEvent({ ...trade(0), symbol } as unknown as MarketEvent);
  const at = b.indexOf(Buffer.from(symbol));
  if (at < 0 || bytes.length !== Buffer.byteLength(symbol)) throw new Error('symbol bytes not found');
  Buffer.from(bytes).copy(b, at);
  return b;
}

/** `depth` arrays inside each other around `inner`, as msgpack (0x91: a fixarray of one). */
function nestedMsgpack(depth: number, inner: Buffer): Buffer {
  return Buffer.concat([Buffer.alloc(depth, 0x91), inner]);
}

/** Undecodable bytes: 0xc1 is the one byte msgpack never uses, so no prefix of it is a value. */
function undecodable(size: number, n: number): Buffer {
  const b = randomBytes(size);
  b[0] = 0xc1;
  b.writeUInt32BE(n >>> 0, 1);
  return b;
}

/**
 * At least 25 kinds, each refused in its own way; the code is what the processor must give it.
 * Every kind is checked against the decoder itself in `test/faults/poison.test.ts`, and against
 * the running processor by the verifier after every scenario.
 */
export const POISON_KINDS: readonly PoisonKind[] = [
  // Not msgpack, not JSON.
  { name: 'random-bytes', code: 'DECODE_FAILED', make: (n) => undecodable(64 + (n % 200), n) },
  { name: 'truncated-msgpack', code: 'DECODE_FAILED', make: (n) => { const b = encodeEvent(trade(n) as unknown as MarketEvent); return b.subarray(0, b.length >> 1); } },
  { name: 'truncated-json', code: 'DECODE_FAILED', make: (n) => { const b = json(trade(n)); return b.subarray(0, b.length - 7); } },
  { name: 'json-syntax-error', code: 'DECODE_FAILED', make: (n) => Buffer.from(`{"v":1,"type":"trade",venue:binance,"n":${n}}`) },
  { name: 'empty-value', code: 'DECODE_FAILED', make: () => Buffer.alloc(0) },
  { name: 'tombstone', code: 'DECODE_FAILED', make: () => null },
  { name: 'str32-length-4gib', code: 'DECODE_FAILED', make: () => Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x41, 0x42]) },
  { name: 'map32-count-4g', code: 'DECODE_FAILED', make: () => Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x76, 0x01]) },
  { name: 'array32-count-2g', code: 'DECODE_FAILED', make: () => Buffer.from([0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x02]) },
  { name: 'bin32-length-4gib', code: 'DECODE_FAILED', make: () => Buffer.from([0xc6, 0xff, 0xff, 0xff, 0xff, 0x00]) },
  { name: 'json-invalid-utf8', code: 'DECODE_FAILED', make: () => Buffer.concat([Buffer.from('{"v":1,"type":"trade","venue":"binance","symbol":"BTC'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]) },
  // Decoded, but not a schema-v1 event.
  // 10,000 levels: msgpackr recurses per level, and the outcome must not depend on how much
  // stack the worker's (optimised or not) frames take: 45,000 still decode in a fresh worker.
  { name: 'deep-nesting-msgpack', code: 'SCHEMA_INVALID', make: () => nestedMsgpack(10_000, Buffer.from([0xc0])) },
  { name: 'not-a-map', code: 'SCHEMA_INVALID', make: (n) => msgpack([1, 'trade', n]) },
  { name: 'unknown-version', code: 'SCHEMA_INVALID', make: (n) => msgpack({ ...trade(n), v: 2 }) },
  { name: 'unknown-type', code: 'SCHEMA_INVALID', make: (n) => msgpack({ ...trade(n), type: 'candle' }) },
  { name: 'missing-symbol', code: 'SCHEMA_INVALID', make: (n) => msgpack(without(trade(n), 'symbol')) },
  { name: 'missing-ts', code: 'SCHEMA_INVALID', make: (n) => json(without(trade(n), 'ts')) },
  { name: 'missing-price', code: 'SCHEMA_INVALID', make: (n) => msgpack(without(trade(n), 'price')) },
  { name: 'wrong-type-price', code: 'SCHEMA_INVALID', make: (n) => json({ ...trade(n), price: 'one hundred' }) },
  { name: 'wrong-type-ts', code: 'SCHEMA_INVALID', make: (n) => msgpack({ ...trade(n), ts: 'yesterday' }) },
  { name: 'fractional-ts', code: 'SCHEMA_INVALID', make: (n) => msgpack({ ...trade(n), ts: 1.5e15 + 0.5 }) },
  { name: 'ts-over-2^53', code: 'SCHEMA_INVALID', make: (n) => msgpack({ ...trade(n), ts: 2 ** 60 }) },
  { name: 'nan-price', code: 'SCHEMA_INVALID', make: (n) => msgpack({ ...trade(n), price: Number.NaN }) },
  { name: 'infinity-size', code: 'SCHEMA_INVALID', make: (n) => msgpack({ ...trade(n), size: Number.POSITIVE_INFINITY }) },
  { name: 'minus-infinity-bid', code: 'SCHEMA_INVALID', make: () => msgpack({ ...quote(), bid: Number.NEGATIVE_INFINITY }) },
  { name: 'bad-liquidation-side', code: 'SCHEMA_INVALID', make: (n) => msgpack({ ...trade(n), type: 'liquidation', posSide: 'sideways' }) },
  { name: 'book-level-not-pair', code: 'SCHEMA_INVALID', make: (n) => msgpack({ ...without(trade(n), 'price'), type: 'book', action: 'delta', seq: n, bids: [[1]], asks: [] }) },
  { name: 'deep-nesting-in-field', code: 'SCHEMA_INVALID', make: () => Buffer.from(`{"v":1,"type":${'['.repeat(30_000)}${']'.repeat(30_000)},"venue":"binance"}`) },
  { name: 'nul-in-symbol', code: 'SCHEMA_INVALID', make: (n) => msgpack({ ...trade(n), symbol: 'BTC\u0000USDT' }) },
  { name: 'nul-in-venue', code: 'SCHEMA_INVALID', make: (n) => json({ ...trade(n), venue: 'binance\u0000' }) },
  { name: 'invalid-utf8-msgpack-short', code: 'SCHEMA_INVALID', make: () => withSymbolBytes('BTC-USDT', [0x42, 0x54, 0x43, 0xff, 0xfe, 0x53, 0x44, 0x54]) },
  { name: 'invalid-utf8-msgpack-long', code: 'SCHEMA_INVALID', make: () => withSymbolBytes(`${'X'.repeat(70)}-USDT`, [...Buffer.from('X'.repeat(70)), 0xc3, 0x28, 0xa0, 0xa1, 0xff]) },
  { name: 'unpaired-surrogate', code: 'SCHEMA_INVALID', make: () => Buffer.from('{"v":1,"type":"trade","venue":"binance","symbol":"BTC-\\ud800","ts":1,"recvTs":2,"id":"1","price":1,"size":1}') },
  { name: 'unknown-venue', code: 'SCHEMA_INVALID', make: (n) => msgpack({ ...trade(n), venue: 'nasdaq' }) },
  { name: 'overlong-symbol', code: 'SCHEMA_INVALID', make: (n) => msgpack({ ...trade(n), symbol: 'S'.repeat(300) }) },
  // Sizes: over the processor's cap (never decoded), and over the dead-letter topic's limit.
  { name: 'over-max-message-bytes', code: 'MESSAGE_TOO_LARGE', make: (n) => undecodable(FAULT_MAX_MESSAGE_BYTES + 40_000, n) },
  { name: 'over-dead-letter-limit', code: 'DECODE_FAILED', make: (n) => undecodable(FAULT_DLQ_MAX_BYTES * 2, n) },
];

/**
 * A message that makes the worker that decodes it run out of heap, for a processor started with a
 * small heap (`--max-old-space-size`): 3 million empty msgpack maps, 1 byte each on the wire, some
 * 60 bytes each once decoded. Not in `POISON_KINDS`: with the default heap it decodes (slowly) and
 * is refused as SCHEMA_INVALID. Its batch fails on every retry; the processor must dead-letter this
 * message alone (WORKER_FAILED) and still store its batch-mates.
 */
export const HEAP_BOMB: PoisonKind = {
  name: 'heap-bomb',
  code: 'WORKER_FAILED',
  make: () => {
    const count = 3_000_000;
    const b = Buffer.alloc(5 + count, 0x80);
    b[0] = 0xdd;
    b.writeUInt32BE(count, 1);
    return b;
  },
};

/** The size above which a kind's dead letter must be stored truncated (value + headers). */
export function truncatedAbove(): number {
  return FAULT_DLQ_MAX_BYTES - 1024;
}
