import { BatchPacker, PackedBatch, packedSize } from '../../src/batch/pack.js';
import type { CheckResult } from '../../src/pool/task.js';
import { EventChunk } from '../../src/sinks/chunk.js';
import type { BatchTicket } from '../../src/source/offset-tracker.js';

/** A worker result of `n` accepted events with offsets base..base+n-1 and one-byte rows. */
export function fakeResult(n: number, base = 0): { result: CheckResult; batch: PackedBatch } {
  const buffer = new ArrayBuffer(packedSize(n, n));
  const packer = new BatchPacker(buffer);
  packer.reset(buffer, n);
  for (let i = 0; i < n; i++) packer.append(Buffer.from([i & 0xff]), base + i);
  const batch = new PackedBatch(packer.finish());
  const ends = Uint32Array.from({ length: n }, (_, i) => i + 1);
  const result: CheckResult = {
    batch: buffer, count: n, verdicts: new Uint8Array(n), failedLo: new Uint32Array(n), failedHi: new Uint32Array(n),
    tsUs: new Float64Array(n), venues: new Array<string>(n).fill('v'), symbols: new Array<string>(n).fill('s'), eventKeys: Array.from({ length: n }, (_, i) => `t:${base + i}`), details: new Array<string>(n).fill(''),
    copyRows: new Uint8Array(n), copyEnds: ends, json: new Uint8Array(n), jsonEnds: ends.slice(), deadLetters: [],
    checkFailures: new Uint32Array(64),
  };
  return { result, batch };
}

export function fakeChunk(n: number, base: number, ticket: BatchTicket, partition = 0): EventChunk {
  const { result, batch } = fakeResult(n, base);
  return new EventChunk(result, batch, 't', partition, 0, n, ticket, new Float64Array(n));
}
