import { BatchPacker, PackedBatch, packedSize } from '../../src/batch/pack.js';
import { encodeEvent } from '../../src/codec/encode.js';
import type { MarketEvent } from '../../src/codec/event.js';
import { DEFAULT_CHECK_CONFIG } from '../../src/checks/thresholds.js';
import { OffsetTracker } from '../../src/source/offset-tracker.js';
import { checkBatch, configureChecks } from '../../workers/check-worker.js';
import type { CheckResult } from '../../src/pool/task.js';
import { ByteWriter } from '../../src/sinks/byte-writer.js';
import { EventChunk } from '../../src/sinks/chunk.js';
import { writeRedisRecord } from '../../src/sinks/redis-record.js';
import type { BatchTicket } from '../../src/source/offset-tracker.js';

/** A worker result of `n` accepted events with offsets base..base+n-1 and one-byte rows. */
export function fakeResult(n: number, base = 0): { result: CheckResult; batch: PackedBatch } {
  const buffer = new ArrayBuffer(packedSize(n, n));
  const packer = new BatchPacker(buffer);
  packer.reset(buffer, n);
  for (let i = 0; i < n; i++) packer.append(Buffer.from([i & 0xff]), base + i);
  const batch = new PackedBatch(packer.finish());
  const ends = Uint32Array.from({ length: n }, (_, i) => i + 1);
  const records = new ByteWriter(1024);
  const recordEnds = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const trade: MarketEvent = { v: 1, type: 'trade', venue: 'v', symbol: 's', ts: 0, recvTs: 0, id: String(base + i), price: 1, size: 1, side: '' };
    writeRedisRecord(records, base + i, trade, { verdict: 0, failedLo: 0, failedHi: 0, score: 1 }, '');
    recordEnds[i] = records.length;
  }
  const result: CheckResult = {
    batch: buffer, count: n, verdicts: new Uint8Array(n), symbols: new Array<string>(n).fill('s'),
    copyRows: new Uint8Array(n), copyEnds: ends, redisRecords: records.take(), redisEnds: recordEnds, deadLetters: [],
    checkFailures: new Uint32Array(64),
    busyMs: 0,
    osThreadId: 0,
  };
  return { result, batch };
}

export function fakeChunk(n: number, base: number, ticket: BatchTicket, partition = 0): EventChunk {
  const { result, batch } = fakeResult(n, base);
  return new EventChunk(result, batch, 't', partition, 0, n, ticket, new Float64Array(n));
}

/**
 * Runs the real worker code over events at the given offsets and wraps the result in a chunk.
 * Each call checks with fresh state, as a restarted processor would (a replayed batch seen by
 * the same state would be rejected as duplicate trades, which is not what the sink tests are about).
 */
export function checkedChunk(events: MarketEvent[], offsets: number[], partition: number, topic: string): EventChunk {
  // Q7 off: synthetic trade ids are not contiguous per symbol (not what is tested with this).
  configureChecks({ ...DEFAULT_CHECK_CONFIG, disabled: ['Q7'] });
  const values = events.map((e) => encodeEvent(e));
  const buffer = new ArrayBuffer(packedSize(values.length, values.reduce((n, v) => n + v.length, 0)));
  const packer = new BatchPacker(buffer);
  packer.reset(buffer, values.length);
  values.forEach((v, i) => packer.append(v, offsets[i]!, partition));
  const result = checkBatch({ batch: packer.finish(), topic, partition });
  const ticket = new OffsetTracker().partition(topic, partition).track(offsets[0]!, offsets[offsets.length - 1]!, 1);
  return new EventChunk(result, new PackedBatch(result.batch), topic, partition, 0, events.length, ticket, new Float64Array(events.length));
}

/** Offsets (or ids) `from` .. `to - 1`. */
export const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** Exchange time of the sink tests' first event (µs). */
export const T0 = 1_790_000_000_000_000;

/** Trade `i` of the sink tests: binance, alternating BTC-USDT (odd) and ETH-USDT (even) unless given. */
export function sinkTrade(i: number, ts = T0 + i * 1000, symbol = i % 2 ? 'BTC-USDT' : 'ETH-USDT'): MarketEvent {
  return { v: 1, type: 'trade', venue: 'binance', symbol, ts, recvTs: ts + 100, id: String(i), price: 100 + i, size: 1, side: 'buy' };
}
