import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { Packr, unpack } from 'msgpackr';
import { Bench } from 'tinybench';
import { BatchPacker, PackedBatch, packValues, packedSize } from '../src/batch/pack.js';
import { ALL_CHECKS } from '../src/checks/registry.js';
import { CheckEngine } from '../src/checks/engine.js';
import { SyntheticMarket, symbolNames } from '../src/codec/synthetic.js';
import { decodeEvent } from '../src/codec/decode.js';
import { encodeEvent } from '../src/codec/encode.js';
import type { MarketEvent } from '../src/codec/event.js';
import { loadConfig } from '../src/config/load.js';
import type { CheckResult } from '../src/pool/task.js';
import { ByteWriter } from '../src/sinks/byte-writer.js';
import { EventChunk, type MessageSource } from '../src/sinks/chunk.js';
import { encodeCopyRow, writeBinaryRow } from '../src/sinks/pg-row.js';
import { RedisSink } from '../src/sinks/redis-sink.js';
import { OffsetTracker } from '../src/source/offset-tracker.js';
import { checkBatch } from '../workers/check-worker.js';
import { readRedisRecord } from '../src/sinks/redis-record.js';
import { writeEventJson } from '../src/sinks/event-json.js';
import { formatNs } from './stats.js';

/**
 * Micro-benchmarks of the hot stages, each beside its alternatives, on a realistic mix (60 %
 * trades, 37 % quotes, 3 % liquidations, 50 symbols, 5 venues): one event or one 1000-event
 * batch per iteration. Writes bench/results.md. Timing lives here, never in tests.
 * The Redis round-trip rows need Redis (HIMARI_REDIS_URL, default db 5); they are left out
 * when it does not answer.
 */
const N = 1000;
const market = new SyntheticMarket(['binance', 'coinbase', 'okx', 'bybit', 'kraken'], symbolNames(50), 1);
const now = Date.now() * 1000;
const events: MarketEvent[] = Array.from({ length: N }, (_, i) => market.next(now + i));
const msgpack = events.map((e) => encodeEvent(e));
const json = events.map((e) => Buffer.from(JSON.stringify(e)));
// Kafka message values each own their memory (node-rdkafka copies them out of librdkafka);
// msgpackr's Buffers are views of a shared slab, which structured clone would copy whole.
const owned = msgpack.map((b) => new Uint8Array(b));
const engine = new CheckEngine(ALL_CHECKS);
const outcome = { verdict: 0 as const, failedLo: 0, failedHi: 0, score: 1, resync: false };
const payloadBytes = msgpack.reduce((n, b) => n + b.length, 0);

function packed(): ArrayBuffer {
  return packValues(msgpack);
}
const packBuffer = new ArrayBuffer(packedSize(N, payloadBytes));
const packer = new BatchPacker(packBuffer);
const defaultUnpackr = new Packr({ useRecords: false });
let k = 0;

interface Row {
  stage: string;
  alternative: string;
  /** The production code path. */
  production: boolean;
  /** Events per iteration. */
  events: number;
}
const rows = new Map<string, Row>();
const bench = new Bench({ time: 1000, warmup: true });
function add(stage: string, alternative: string, production: boolean, events: number, fn: () => unknown): void {
  const name = `${stage} :: ${alternative}`;
  rows.set(name, { stage, alternative, production, events });
  bench.add(name, fn as () => void);
}

// --- decode -------------------------------------------------------------------------------
add('decode one event', 'decodeEvent: reused Unpackr({ useRecords:false }) + schema validation', true, 1, () => { const b = msgpack[k++ % N]!; decodeEvent(b, 0, b.length); });
add('decode one event', 'msgpackr unpack() (module default instance), no validation', false, 1, () => { unpack(msgpack[k++ % N]!); });
add('decode one event', 'reused Packr({ useRecords:false }).unpack(), no validation', false, 1, () => { defaultUnpackr.unpack(msgpack[k++ % N]!); });
add('decode one event', 'structuredClone of the event object (objects instead of bytes)', false, 1, () => { structuredClone(events[k++ % N]!); });
add('decode one event', 'decodeEvent of the JSON form', false, 1, () => { const b = json[k++ % N]!; decodeEvent(b, 0, b.length); });

// --- packing a batch for a worker ------------------------------------------------------------
const packChannel = new MessageChannel();
let recycled: ArrayBuffer = new ArrayBuffer(packedSize(N, payloadBytes));
add('pack 1000 messages for a worker', 'BatchPacker into a reused buffer', true, N, () => {
  packer.reset(packBuffer, N);
  for (let i = 0; i < N; i++) packer.append(msgpack[i]!, i);
  packer.finish();
});
add('pack 1000 messages for a worker', 'BatchPacker into a recycled buffer + postMessage (moved) + receive', true, N, () => {
  packer.reset(recycled, N);
  for (let i = 0; i < N; i++) packer.append(msgpack[i]!, i);
  const b = packer.finish();
  packChannel.port1.postMessage(b, [b]);
  recycled = receiveMessageOnPort(packChannel.port2)!.message as ArrayBuffer;
});
add('pack 1000 messages for a worker', 'Buffer.concat of the values + Uint32Array of ends', false, N, () => {
  const ends = new Uint32Array(N);
  let end = 0;
  for (let i = 0; i < N; i++) ends[i] = end += msgpack[i]!.length;
  Buffer.concat(msgpack, end);
});
add('pack 1000 messages for a worker', 'no packing: postMessage of the array of 1000 values (structured-clone copy) + receive', false, N, () => {
  packChannel.port1.postMessage(owned);
  receiveMessageOnPort(packChannel.port2);
});

// --- the worker boundary ---------------------------------------------------------------------
// An echo worker: sends back what it gets, moving the buffer back when it was moved in.
const echo = new Worker(`
  const { parentPort } = require('node:worker_threads');
  parentPort.on('message', (m) => m.move ? parentPort.postMessage(m, [m.buf]) : parentPort.postMessage(m));
`, { eval: true });
let settle: ((m: { buf: ArrayBuffer }) => void) | null = null;
echo.on('message', (m: { buf: ArrayBuffer }) => { const s = settle; settle = null; s?.(m); });
const roundTrip = (m: { buf: ArrayBuffer | null; move: boolean }, transfer: ArrayBuffer[]) =>
  new Promise<{ buf: ArrayBuffer }>((resolve) => { settle = resolve; echo.postMessage(m, transfer); });
let boundaryBuffer = packed();
const copySource = packed();
const batchKiB = Math.round(boundaryBuffer.byteLength / 1024);
add('worker round trip of one packed batch', `ArrayBuffer of ${batchKiB} KiB moved there and back (transfer list)`, true, N, async () => {
  const r = await roundTrip({ buf: boundaryBuffer, move: true }, [boundaryBuffer]);
  boundaryBuffer = r.buf;
});
add('worker round trip of one packed batch', `same ${batchKiB} KiB copied there and back (structured clone)`, false, N, async () => {
  await roundTrip({ buf: copySource, move: false }, []);
});
add('worker round trip of one packed batch', 'empty message there and back (the floor)', false, N, async () => {
  await roundTrip({ buf: null, move: false }, []);
});

// --- checks ---------------------------------------------------------------------------------
add('checks', `CheckEngine.evaluate, ${ALL_CHECKS.length} checks`, true, 1, () => { engine.evaluate(events[k++ % N]!, now); });

// --- COPY rows ------------------------------------------------------------------------------
const copyWriter = new ByteWriter(256 * 1024);
add('COPY rows for 1000 events', 'writeBinaryRow: binary COPY fields straight into one growing buffer + take()', true, N, () => {
  for (let i = 0; i < N; i++) writeBinaryRow(copyWriter, events[i]!, outcome, 0, i);
  copyWriter.take();
});
add('COPY rows for 1000 events', 'text rows: encodeCopyRow + ByteWriter (encodeInto one growing buffer) + take()', false, N, () => {
  for (let i = 0; i < N; i++) copyWriter.write(encodeCopyRow(events[i]!, outcome, 0, i));
  copyWriter.take();
});
add('COPY rows for 1000 events', 'text rows: encodeCopyRow + string concat + Buffer.from(string)', false, N, () => {
  let s = '';
  for (let i = 0; i < N; i++) s += encodeCopyRow(events[i]!, outcome, 0, i);
  Buffer.from(s);
});
add('COPY rows for 1000 events', 'text rows: encodeCopyRow + Buffer.from per row + Buffer.concat', false, N, () => {
  const parts: Buffer[] = new Array<Buffer>(N);
  for (let i = 0; i < N; i++) parts[i] = Buffer.from(encodeCopyRow(events[i]!, outcome, 0, i));
  Buffer.concat(parts);
});
// The events as the worker has them: decoded, in canonical field order.
const decodedEvents = msgpack.map((b) => { const r = decodeEvent(b, 0, b.length); if (!r.ok) throw new Error(r.failure.message); return r.event; });
const jsonWriter = new ByteWriter(256 * 1024);
const textEncoder = new TextEncoder();
add('event JSON for Redis, 1000 events', 'writeEventJson: fields straight into the worker\'s buffer + take()', true, N, () => {
  for (let i = 0; i < N; i++) writeEventJson(jsonWriter, decodedEvents[i]!, outcome);
  jsonWriter.take();
});
add('event JSON for Redis, 1000 events', 'JSON.stringify + verdict fields concatenated + encodeInto the buffer + take()', false, N, () => {
  for (let i = 0; i < N; i++) {
    const body = JSON.stringify(decodedEvents[i]!);
    jsonWriter.write(body.slice(0, -1) + ',"verdict":' + outcome.verdict + ',"failed":' + (outcome.failedHi * 4294967296 + outcome.failedLo) + ',"score":' + outcome.score + '}');
  }
  jsonWriter.take();
});
add('text into a ByteWriter, 1000 events (venue, symbol, type)', 'writeCounted: ASCII copied by a loop, else encodeInto', true, N, () => {
  for (let i = 0; i < N; i++) { const e = decodedEvents[i]!; jsonWriter.writeCounted(e.venue); jsonWriter.writeCounted(e.symbol); jsonWriter.writeCounted(e.type); }
  jsonWriter.take();
});
add('text into a ByteWriter, 1000 events (venue, symbol, type)', 'TextEncoder.encodeInto a subarray for every string', false, N, () => {
  let pos = 0;
  const buf = new Uint8Array(64 * 1024);
  for (let i = 0; i < N; i++) {
    const e = decodedEvents[i]!;
    pos += textEncoder.encodeInto(e.venue, buf.subarray(pos)).written;
    pos += textEncoder.encodeInto(e.symbol, buf.subarray(pos)).written;
    pos += textEncoder.encodeInto(e.type, buf.subarray(pos)).written;
  }
});

// --- Redis commands -------------------------------------------------------------------------
const result: CheckResult = checkBatch({ batch: packed(), topic: 't', partition: 0 });
class Offsets implements MessageSource {
  base = 0;
  offset(i: number): number { return this.base + i; }
  value(i: number): Uint8Array { return msgpack[i]!; }
}
const offsets = new Offsets();
// The sink reads offsets and bytes only; the ticket (acknowledgements) is never used here.
const chunk = () => new EventChunk(result, offsets, 'pl-micro', 0, 0, N,
  new OffsetTracker().partition('pl-micro', 0).track(offsets.base, offsets.base + N - 1, 1), new Float64Array(N));
const redisConfig = loadConfig({ env: { HIMARI_REDIS_URL: process.env.HIMARI_REDIS_URL ?? 'redis://127.0.0.1:6379/5', HIMARI_REDIS_KEY_PREFIX: 'pl:micro:' } }).redis;
const sink = new RedisSink(redisConfig);
const prefix = redisConfig.keyPrefix;
const sinkInternals = sink as unknown as { args: unknown[]; appendChunk(c: EventChunk): void };
const fixedChunk = chunk();
add('Redis commands for 1000 events (build only)', 'arguments of one EVALSHA (Lua applies the batch, watermark inside)', true, N, () => {
  sinkInternals.args.length = 0;
  sinkInternals.args.push(prefix, 1000, 'pl-micro', 100_000);
  sinkInternals.appendChunk(fixedChunk);
});
const names = ['accepted', 'flagged', 'rejected'];
// The fields the per-event alternative sends, read back from the worker's packed records.
const records = Array.from({ length: result.count }, (_, i) => readRedisRecord(result.redisRecords, i === 0 ? 0 : result.redisEnds[i - 1]!));
/** The per-event commands the Lua script issues, as an ioredis pipeline (no watermark, not atomic). */
function perEventPipeline(client: Redis, base: number) {
  const p = client.pipeline();
  const r = result;
  for (let i = 0; i < r.count; i++) {
    const v = r.verdicts[i]!;
    const rec = records[i]!;
    const vs = `${rec.venue}:${rec.symbol}`;
    const body = rec.json;
    if (v === 2) {
      p.xadd(`${prefix}quarantine`, 'MAXLEN', '~', 100_000, '*', 'venue', rec.venue, 'symbol', rec.symbol, 'offset', base + i, 'event', body);
    } else {
      const member = `${rec.venue}|${rec.eventKey}`;
      p.hset(`${prefix}latest:${vs}`, 'ts', rec.tsUs, 'offset', base + i, 'event', body);
      p.zadd(`${prefix}recent:${rec.symbol}`, rec.tsUs, member);
      p.hset(`${prefix}recent-events:${rec.symbol}`, member, body);
    }
    p.hincrby(`${prefix}quality:${vs}`, names[v]!, 1);
  }
  return p;
}
const offline = new Redis({ lazyConnect: true });
add('Redis commands for 1000 events (build only)', 'ioredis pipeline of per-event HSET/ZADD/HSET/HINCRBY (not sent)', false, N, () => {
  perEventPipeline(offline, 0);
});

let redisOnline = false;
try {
  await sink.connect();
  redisOnline = true;
} catch {
  process.stderr.write('Redis not reachable: round-trip rows left out\n');
}
const live = redisOnline ? new Redis(redisConfig.url) : null;
if (redisOnline && live !== null) {
  add('Redis write of 1000 events (round trip)', 'one EVALSHA per batch (RedisSink.writeBatch: exactly once, atomic)', true, N, async () => {
    offsets.base += N; // fresh offsets: the watermark would skip a replay
    await sink.writeBatch([chunk()]);
  });
  let pipelineBase = 0;
  add('Redis write of 1000 events (round trip)', 'pipeline of ~4 commands per event, exec (no watermark, not atomic)', false, N, async () => {
    await perEventPipeline(live, pipelineBase += N).exec();
  });
}

add('worker task body', 'checkBatch: decode + checks + COPY row + JSON, 1000 events', true, N, () => { checkBatch({ batch: packed(), topic: 't', partition: 0 }); });

await bench.run();
await echo.terminate();
offline.disconnect();
if (live !== null) {
  let cursor = '0';
  do {
    const [next, keys] = await live.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await live.del(...keys);
  } while (cursor !== '0');
  live.disconnect();
}
await sink.close().catch(() => {});

const lines: string[] = [];
let lastStage = '';
for (const t of bench.tasks) {
  const row = rows.get(t.name)!;
  const r = t.result as unknown as { latency?: { p50?: number; mean?: number } } | undefined;
  const p50ns = (r?.latency?.p50 ?? r?.latency?.mean ?? NaN) * 1e6;
  const alt = row.production ? `**${row.alternative}** (production)` : row.alternative;
  lines.push(`| ${row.stage === lastStage ? '' : row.stage} | ${alt} | ${formatNs(p50ns)} | ${formatNs(p50ns / row.events)} |`);
  lastStage = row.stage;
}
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const md = `# Micro-benchmark results

\`npm run bench\` on ${availableParallelism()} × ${cpu}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.
Median (p50) time per iteration (tinybench, 1 s per row after warm-up); per event = per iteration / events in
it. Single thread except the worker round trip. Numbers move by ±10-20 % between runs on this shared machine:
compare rows of one run. **Bold** = what the production code does.

| stage | alternative | p50 per iteration | per event |
|---|---|---|---|
${lines.join('\n')}

Notes. The decode alternatives without validation only parse; \`decodeEvent\` also checks the schema.
\`structuredClone\` stands for sending decoded objects across the worker boundary instead of bytes. The
array-of-values row clones ${N} separately owned \`Uint8Array\`s (as node-rdkafka hands them over); the
packing rows with a message port measure serialisation on one thread (\`receiveMessageOnPort\`), the worker round
trip rows a real thread hop. The per-event Redis pipeline is what the Lua script does, without the watermark
that makes the production write exactly once${redisOnline ? '' : '; its round-trip rows were left out (Redis not reachable)'}.
`;
writeFileSync(fileURLToPath(new URL('../../bench/results.md', import.meta.url)), md);
process.stdout.write(md);
