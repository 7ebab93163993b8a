import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import pino from 'pino';
import { PackedBatch, packValues } from '../src/batch/pack.js';
import { SyntheticMarket, symbolNames } from '../src/codec/synthetic.js';
import { encodeEvent } from '../src/codec/encode.js';
import { loadConfig } from '../src/config/load.js';
import { pgClientConfig } from '../src/db/client-config.js';
import { migrate } from '../src/db/migrate.js';
import { EventChunk } from '../src/sinks/chunk.js';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER, EVENT_COLUMN_NAMES } from '../src/sinks/pg-row.js';
import { PostgresSink } from '../src/sinks/postgres-sink.js';
import { RedisSink } from '../src/sinks/redis-sink.js';
import { OffsetTracker } from '../src/source/offset-tracker.js';
import { readRedisRecord } from '../src/sinks/redis-record.js';
import { checkBatch } from '../workers/check-worker.js';

/**
 * Sink throughput against the real PostgreSQL and Redis, each beside the raw capacity measured
 * in the same run (issue: keep at least half of it while staying exact). Writes
 * bench/sink-results.md. Run: `npm run bench:sinks` (needs scripts/services.sh start).
 */
const ROWS = Number(process.env.BENCH_ROWS ?? 200_000);
const BATCHES = [250, 2000];
const url = process.env.HIMARI_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const log = pino({ level: 'silent' });

function makeChunks(batchRows: number): EventChunk[] {
  const market = new SyntheticMarket(['binance', 'coinbase', 'okx', 'bybit', 'kraken'], symbolNames(50), 3);
  const now = Date.now() * 1000;
  const tracker = new OffsetTracker();
  const chunks: EventChunk[] = [];
  for (let base = 0; base < ROWS; base += batchRows) {
    const n = Math.min(batchRows, ROWS - base);
    const values = Array.from({ length: n }, (_, i) => encodeEvent(market.next(now + base + i)));
    const result = checkBatch({ batch: packValues(values, base), topic: 'bench', partition: 0 });
    const ticket = tracker.partition('bench', 0).track(base, base + n - 1, 1);
    chunks.push(new EventChunk(result, new PackedBatch(result.batch), 'bench', 0, 0, n, ticket, new Float64Array(n)));
  }
  return chunks;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

async function copyChunk(c: pg.Client, sql: string, chunk: EventChunk): Promise<void> {
  const stream = c.query(copyFrom(sql));
  await new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
    stream.write(BINARY_COPY_HEADER);
    stream.write(chunk.result.copyRows);
    stream.end(BINARY_COPY_TRAILER);
  });
}

const rate = (rows: number, s: number) => Math.round(rows / s);
const lines: string[] = [];

async function benchPostgres(batchRows: number): Promise<void> {
  const chunks = makeChunks(batchRows);
  const c = new pg.Client(pgClientConfig(template.postgres));
  await c.connect();
  const cols = EVENT_COLUMN_NAMES.join(', ');
  const suffix = `${batchRows}_${process.pid}`;
  try {
    // Raw capacity: COPY into an unindexed, unpartitioned table, one transaction per batch.
    await c.query(`CREATE TABLE bench_raw_${suffix} (LIKE bench_part_template_${process.pid} INCLUDING DEFAULTS)`);
    const raw = await timed(async () => { for (const ch of chunks) await copyChunk(c, `COPY bench_raw_${suffix} (${cols}) FROM STDIN (FORMAT binary)`, ch); });

    // Watermark: the production sink (partitioned, indexed table; COPY + watermark in one transaction).
    const wmConfig = loadConfig({ env: { HIMARI_POSTGRES_URL: url, HIMARI_POSTGRES_TABLE: `bench_wm_${suffix}` } });
    await migrate(wmConfig.postgres, log);
    const sink = new PostgresSink(wmConfig.postgres);
    await sink.connect();
    const wm = await timed(async () => { for (const ch of chunks) await sink.writeBatch([ch]); });
    const wmReplay = await timed(async () => { for (const ch of chunks) await sink.writeBatch([ch]); });
    await sink.close();

    // The same with postgres.uniqueSourceIndex: the cost of the unique index behind the claim.
    const uqConfig = loadConfig({ env: { HIMARI_POSTGRES_URL: url, HIMARI_POSTGRES_TABLE: `bench_uq_${suffix}`, HIMARI_POSTGRES_UNIQUE_SOURCE_INDEX: 'true' } });
    await migrate(uqConfig.postgres, log);
    const uqSink = new PostgresSink(uqConfig.postgres);
    await uqSink.connect();
    const uq = await timed(async () => { for (const ch of chunks) await uqSink.writeBatch([ch]); });
    await uqSink.close();

    // Staging: COPY into a temp table, then INSERT ... ON CONFLICT DO NOTHING on a unique key.
    const stConfig = loadConfig({ env: { HIMARI_POSTGRES_URL: url, HIMARI_POSTGRES_TABLE: `bench_st_${suffix}` } });
    await migrate(stConfig.postgres, log);
    const st = stConfig.postgres.table;
    await c.query(`CREATE UNIQUE INDEX ON ${st} (ts, src_partition, src_offset)`);
    await c.query(`CREATE TEMP TABLE stage_${suffix} (LIKE ${st} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`);
    const stageBatch = async (ch: EventChunk) => {
      await c.query('BEGIN');
      await copyChunk(c, `COPY stage_${suffix} (${cols}) FROM STDIN (FORMAT binary)`, ch);
      await c.query(`INSERT INTO ${st} SELECT * FROM stage_${suffix} ON CONFLICT DO NOTHING`);
      await c.query('COMMIT');
    };
    const staging = await timed(async () => { for (const ch of chunks) await stageBatch(ch); });
    const stagingReplay = await timed(async () => { for (const ch of chunks) await stageBatch(ch); });
    const counts = await c.query(`SELECT (SELECT count(*) FROM ${wmConfig.postgres.table})::int AS wm, (SELECT count(*) FROM ${st})::int AS st`);
    if (counts.rows[0].wm !== ROWS || counts.rows[0].st !== ROWS) throw new Error(`row counts wrong after replay: ${JSON.stringify(counts.rows[0])}`);

    lines.push(`| PostgreSQL, ${batchRows} rows/batch | raw COPY, unindexed plain table | ${rate(ROWS, raw)} rows/s | 100 % |`);
    lines.push(`| | **watermark** (COPY + offset row, one transaction; partitioned, indexed) | ${rate(ROWS, wm)} rows/s | ${Math.round((100 * raw) / wm)} % |`);
    lines.push(`| | watermark + unique index on (src_partition, src_offset, ts) (\`postgres.uniqueSourceIndex\`) | ${rate(ROWS, uq)} rows/s | ${Math.round((100 * raw) / uq)} % |`);
    lines.push(`| | staging + INSERT ON CONFLICT DO NOTHING (partitioned, indexed + unique key) | ${rate(ROWS, staging)} rows/s | ${Math.round((100 * raw) / staging)} % |`);
    lines.push(`| | replay of the same rows: watermark / staging | ${rate(ROWS, wmReplay)} / ${rate(ROWS, stagingReplay)} rows/s | |`);
    for (const t of [`bench_raw_${suffix}`, wmConfig.postgres.table, uqConfig.postgres.table, st]) await c.query(`DROP TABLE IF EXISTS ${t} CASCADE`);
    await c.query(`DELETE FROM himari_sink_offsets WHERE target LIKE 'bench_%'`);
  } finally {
    await c.end();
  }
}

async function benchRedis(batchRows: number): Promise<void> {
  const chunks = makeChunks(batchRows);
  const prefix = `bench:${process.pid}:`;
  const config = loadConfig({ env: { HIMARI_REDIS_KEY_PREFIX: prefix } });
  const client = new Redis(config.redis.url);
  // Client-side raw capacity: one pipeline per batch of plain SETs carrying the same JSON (keys
  // and bodies read out of the worker's records before the clock starts).
  const plain = chunks.map((ch) => Array.from({ length: ch.result.count }, (_, i) => readRedisRecord(ch.result.redisRecords, i === 0 ? 0 : ch.result.redisEnds[i - 1]!))
    .map((rec) => [`${prefix}raw:${rec.venue}:${rec.symbol}`, rec.json] as const));
  const raw = await timed(async () => {
    for (const batch of plain) {
      const p = client.pipeline();
      for (const [key, body] of batch) p.set(key, body);
      await p.exec();
    }
  });
  const sink = new RedisSink(config.redis);
  await sink.connect();
  // Redis's own time in the script (INFO commandstats): one Redis thread serves every writer, so
  // this per-event figure bounds the events per second one Redis instance can take.
  await client.config('RESETSTAT');
  const writer = await timed(async () => { for (const ch of chunks) await sink.writeBatch([ch]); });
  const serverUs = scriptMicros(await client.info('commandstats'));
  const replay = await timed(async () => { for (const ch of chunks) await sink.writeBatch([ch]); });
  await sink.close();
  const keys = await client.keys(`${prefix}*`);
  for (let i = 0; i < keys.length; i += 500) await client.del(...keys.slice(i, i + 500));
  client.disconnect();
  lines.push(`| Redis, ${batchRows} events/batch | raw: pipelined SET of the event JSON (client side) | ${rate(ROWS, raw)} events/s | 100 % |`);
  lines.push(`| | **writer**: one Lua call per batch (latest, recent, counters, watermark); Redis time ${(serverUs / ROWS).toFixed(2)} µs per event | ${rate(ROWS, writer)} events/s | ${Math.round((100 * raw) / writer)} % |`);
  lines.push(`| | replay of applied batches (skipped by the watermark) | ${rate(ROWS, replay)} events/s | |`);
}

/** Microseconds Redis spent in script calls since the last RESETSTAT. */
function scriptMicros(commandstats: string): number {
  let us = 0;
  for (const m of commandstats.matchAll(/cmdstat_(?:evalsha|eval):calls=\d+,usec=(\d+)/g)) us += Number(m[1]);
  return us;
}

function redisBenchmark(): string {
  try {
    const out = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-t', 'set', '-P', '64', '-d', '300', '-n', '500000', '-q'], { encoding: 'utf8' });
    const m = /SET: ([\d.]+) requests per second/.exec(out);
    return m ? `${Math.round(Number(m[1]))} SET/s` : out.trim();
  } catch (err) {
    return `redis-benchmark unavailable (${(err as Error).message})`;
  }
}

// The raw table copies its columns (types and defaults, no index, no partitions) from this one.
// The rest of HIMARI_POSTGRES_* (sslMode, CA, password) as the processor would read it.
const template = loadConfig({ env: { ...process.env, HIMARI_POSTGRES_URL: url, HIMARI_POSTGRES_TABLE: `bench_part_template_${process.pid}` } });
await migrate(template.postgres, log);
try {
  for (const b of BATCHES) await benchPostgres(b);
  for (const b of BATCHES) await benchRedis(b);
} finally {
  const d = new pg.Client(pgClientConfig(template.postgres));
  await d.connect();
  await d.query(`DROP TABLE IF EXISTS bench_part_template_${process.pid} CASCADE`);
  await d.end();
}
const rb = redisBenchmark();
const md = `# Sink benchmark results

\`npm run bench:sinks\`: ${ROWS} synthetic events (the worker's real COPY rows and JSON), PostgreSQL 15
and Redis 7 on the same 2-vCPU machine, one connection each, ${new Date().toISOString().slice(0, 10)}.
Single run: compare rows of the same run only. "share" = time of the raw row / time of this row.

| sink | strategy | throughput | share of raw |
|---|---|---|---|
${lines.join('\n')}

Server-side Redis capacity in the same run (\`redis-benchmark -t set -P 64 -d 300\`): ${rb}.
`;
writeFileSync(fileURLToPath(new URL('../../bench/sink-results.md', import.meta.url)), md);
process.stdout.write(md);
