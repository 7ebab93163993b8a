import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { MarketEvent, Verdict } from '../../src/codec/event.js';
import { WATERMARK_MOVED_SQLSTATE, migrate } from '../../src/db/migrate.js';
import { maintainPartitions } from '../../src/db/partitions.js';
import { EventChunk } from '../../src/sinks/chunk.js';
import { SinkCore } from '../../src/sinks/core.js';
import { sinkPolicy } from '../../src/config/schema.js';
import { Metrics } from '../../src/obs/metrics.js';
import { PostgresSink } from '../../src/sinks/postgres-sink.js';
import { RedisSink } from '../../src/sinks/redis-sink.js';
import { checkById } from '../../src/checks/registry.js';
import { cleanup, redisClient, testConfig, withPg } from '../helpers/services.js';
import { checkedChunk } from '../helpers/chunks.js';
import { storageDocQueries } from '../helpers/doc-queries.js';
import { RECORDINGS_DIR, recordingFiles } from '../helpers/recordings.js';
import { normalizeRecording } from '../../src/replay/recording.js';
import { ByteWriter } from '../../src/sinks/byte-writer.js';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER, EVENT_COLUMNS, EVENT_COLUMN_NAMES, encodeCopyRow, writeBinaryRow } from '../../src/sinks/pg-row.js';
import { from as copyFrom } from 'pg-copy-streams';

const T0 = 1_790_000_000_000_000;
const TOPIC = 'replay.topic';

function trade(i: number, ts = T0 + i * 1000, symbol = i % 2 ? 'BTC-USDT' : 'ETH-USDT'): MarketEvent {
  return { v: 1, type: 'trade', venue: 'binance', symbol, ts, recvTs: ts + 100, id: String(i), price: 100 + i, size: 1, side: 'buy' };
}

/** The real worker code over events at the given offsets, as one chunk of TOPIC. */
function chunkOf(events: MarketEvent[], offsets: number[], partition = 0): EventChunk {
  return checkedChunk(events, offsets, partition, TOPIC);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Every key under `prefix`: hashes and sorted sets whole, streams by length. */
async function redisDump(redis: ReturnType<typeof redisClient>, prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const k of (await redis.keys(`${prefix}*`)).sort()) {
    const type = await redis.type(k);
    if (type === 'hash') out[k] = await redis.hgetall(k);
    else if (type === 'zset') out[k] = await redis.zrange(k, '0', '-1', 'WITHSCORES');
    else if (type === 'stream') out[k] = await redis.xlen(k);
  }
  return out;
}

describe('sinks replay exactly (real Redis and PostgreSQL)', { timeout: 60_000 }, () => {
  const { config } = testConfig();
  const pgSink = new PostgresSink(config.postgres);
  const redisSink = new RedisSink(config.redis);
  const redis = redisClient(config);

  before(async () => {
    await migrate(config.postgres, pino({ level: 'silent' }));
    await pgSink.connect();
    await redisSink.connect();
  });
  after(async () => {
    await pgSink.close();
    await redisSink.close();
    redis.disconnect();
    await cleanup(config);
  });

  async function pgState(): Promise<unknown> {
    return withPg(config, async (c) => (await c.query(
      `SELECT count(*)::int AS n, count(DISTINCT src_offset)::int AS d, min(src_offset)::int AS lo, max(src_offset)::int AS hi, sum(price) AS s FROM ${config.postgres.table}`)).rows[0]);
  }

  const redisState = () => redisDump(redis, config.redis.keyPrefix);

  it('a batch written twice changes nothing the second time; an overlapping one adds only its new tail', async () => {
    const first = range(0, 100);
    await pgSink.writeBatch([chunkOf(first.map((i) => trade(i)), first)]);
    await redisSink.writeBatch([chunkOf(first.map((i) => trade(i)), first)]);
    const pg1 = await pgState();
    const r1 = await redisState();
    assert.deepEqual(pg1, { n: 100, d: 100, lo: 0, hi: 99, s: 100 * 100 + (99 * 100) / 2 });

    // The same batch again (a replay after a crash before the offset commit).
    await pgSink.writeBatch([chunkOf(first.map((i) => trade(i)), first)]);
    await redisSink.writeBatch([chunkOf(first.map((i) => trade(i)), first)]);
    assert.deepEqual(await pgState(), pg1);
    assert.deepEqual(await redisState(), r1);

    // A fresh sink instance (a restarted process) reads the watermarks from the stores.
    const pgAgain = new PostgresSink(config.postgres);
    await pgAgain.connect();
    await pgAgain.writeBatch([chunkOf(first.map((i) => trade(i)), first)]);
    await pgAgain.close();
    assert.deepEqual(await pgState(), pg1);

    // Offsets 50..149: 50..99 are already applied, 100..149 are new.
    const overlap = range(50, 150);
    await pgSink.writeBatch([chunkOf(overlap.map((i) => trade(i)), overlap)]);
    await redisSink.writeBatch([chunkOf(overlap.map((i) => trade(i)), overlap)]);
    const pg2 = await pgState() as { n: number; d: number; hi: number };
    assert.deepEqual([pg2.n, pg2.d, pg2.hi], [150, 150, 149]);
    const q = await redis.hgetall(`${config.redis.keyPrefix}quality:binance:BTC-USDT`);
    assert.equal(Number(q.accepted), 75, 'quality counters count each event once');
    assert.equal(await redis.hget(`${config.redis.keyPrefix}applied:${TOPIC}`, '0'), '149');
  });

  it('a late event (older exchange time, newer offset) never moves the latest view back', async () => {
    const latestKey = `${config.redis.keyPrefix}latest:binance:BTC-USDT`;
    const before = await redis.hgetall(latestKey);
    const late = trade(1001, Number(before.ts) - 5_000_000, 'BTC-USDT');
    await redisSink.writeBatch([chunkOf([late], [150])]);
    assert.deepEqual(await redis.hgetall(latestKey), before);
    const newer = trade(1002, Number(before.ts) + 1, 'BTC-USDT');
    await redisSink.writeBatch([chunkOf([newer], [151])]);
    assert.equal(Number(await redis.hget(latestKey, 'ts')), newer.ts);
    // The late event is still recorded in the recent set (ordered by exchange time).
    const members = await redis.zrangebyscore(`${config.redis.keyPrefix}recent:BTC-USDT`, String(late.ts), String(late.ts));
    assert.deepEqual(members, ['binance|t:1001']);
    const json = await redis.hget(`${config.redis.keyPrefix}recent-events:BTC-USDT`, members[0]!);
    assert.equal((JSON.parse(json!) as { ts: number }).ts, late.ts);
  });

  it('keys the recent set by the venue\'s event id: a re-sent trade is held once, and the set stays bounded', async () => {
    const rk = `${config.redis.keyPrefix}recent:ETH-USDT`;
    const hk = `${config.redis.keyPrefix}recent-events:ETH-USDT`;
    const before = await redis.zcard(rk);
    const again = { ...trade(2000, T0 + 9_000_000, 'ETH-USDT'), recvTs: T0 + 9_000_500 };
    await redisSink.writeBatch([chunkOf([trade(2000, T0 + 9_000_000, 'ETH-USDT')], [160])]);
    await redisSink.writeBatch([chunkOf([again], [161])]);
    assert.equal(await redis.zcard(rk), before + 1);
    assert.equal(await redis.hlen(hk), await redis.zcard(rk));

    const small = new RedisSink({ ...config.redis, recentMax: 10 });
    await small.connect();
    const many = range(0, 30).map((i) => trade(3000 + i, T0 + 10_000_000 + i, 'ETH-USDT'));
    await small.writeBatch([chunkOf(many, range(162, 192))]);
    await small.close();
    assert.equal(await redis.zcard(rk), 10);
    assert.equal(await redis.hlen(hk), 10, 'evicted members leave the event hash too');
    assert.deepEqual(await redis.zrange(rk, '-1', '-1'), ['binance|t:3029']);
  });

  it('rejected events go to the quarantine stream, not to the latest view', async () => {
    const crossed: MarketEvent = { v: 1, type: 'quote', venue: 'okx', symbol: 'SOL-USDT', ts: T0, recvTs: T0, bid: 11, bidSize: 1, ask: 10, askSize: 1 };
    await redisSink.writeBatch([chunkOf([crossed], [200])]);
    await pgSink.writeBatch([chunkOf([crossed], [200])]);
    assert.equal(await redis.exists(`${config.redis.keyPrefix}latest:okx:SOL-USDT`), 0);
    const entries = await redis.xrange(`${config.redis.keyPrefix}quarantine`, '-', '+');
    assert.equal(entries.length, 1);
    assert.ok(entries[0]![1].includes('SOL-USDT'));
    const row = await withPg(config, async (c) => (await c.query(`SELECT verdict, failed_checks FROM ${config.postgres.table} WHERE src_offset = 200`)).rows[0]);
    assert.deepEqual(row, { verdict: 2, failed_checks: String(1 << checkById('M1')!.bit) });
  });
});

describe('sinks over several connections (real PostgreSQL and Redis)', { timeout: 60_000 }, () => {
  const { config } = testConfig();
  const pg2 = { ...config.postgres, connections: 2 };

  before(() => migrate(config.postgres, pino({ level: 'silent' })));
  after(() => cleanup(config));

  const perPartition = () => withPg(config, async (c) => (await c.query(
    `SELECT src_partition AS p, count(*)::int AS n, count(DISTINCT src_offset)::int AS d, max(src_offset)::int AS hi
       FROM ${config.postgres.table} GROUP BY 1 ORDER BY 1`)).rows);

  it('each connection writes its own partitions concurrently, exactly once across restarts with another connection count', async () => {
    const sink = new PostgresSink(pg2);
    await sink.connect();
    const batch = (partition: number, from: number, to: number) => chunkOf(range(from, to).map((i) => trade(i)), range(from, to), partition);
    // Partitions 0 and 2 are connection 0's, 1 and 3 connection 1's: both transactions are open at once.
    await Promise.all([sink.writeBatch([batch(0, 0, 50), batch(2, 0, 50)], 0), sink.writeBatch([batch(1, 0, 50), batch(3, 0, 50)], 1)]);
    await assert.rejects(sink.writeBatch([batch(1, 50, 60)], 0), /partition 1 is not written by connection 0 of 2/);
    await sink.close();
    assert.deepEqual(await perPartition(), [0, 1, 2, 3].map((p) => ({ p, n: 50, d: 50, hi: 49 })));

    // A restart with three connections: each loads the watermarks of its own partitions
    // (partition modulo 3) and skips what is applied; only the new tails land.
    const three = new PostgresSink({ ...config.postgres, connections: 3 });
    await three.connect();
    await Promise.all([
      three.writeBatch([batch(0, 40, 60), batch(3, 0, 60)], 0),
      three.writeBatch([batch(1, 0, 70)], 1),
      three.writeBatch([batch(2, 30, 80)], 2),
    ]);
    await three.close();
    assert.deepEqual(await perPartition(), [
      { p: 0, n: 60, d: 60, hi: 59 }, { p: 1, n: 70, d: 70, hi: 69 }, { p: 2, n: 80, d: 80, hi: 79 }, { p: 3, n: 60, d: 60, hi: 59 },
    ]);
  });

  it('a row the server refuses aborts only its own transaction; the core isolates it and the rest lands', async () => {
    await withPg(config, (c) => c.query(`ALTER TABLE ${config.postgres.table} ADD CONSTRAINT it_price_cap CHECK (price < 1000000) NOT VALID`));
    const failures: number[] = [];
    const sink = new SinkCore(new PostgresSink(pg2), {
      policy: { ...sinkPolicy(config.sink, 'postgres'), batchMaxRows: 100, batchMaxMs: 1, retry: { initialMs: 1, maxMs: 5 } },
      metrics: new Metrics({ defaultMetrics: false }), log: pino({ level: 'silent' }),
      onPermanentFailure: (chunk) => { failures.push(chunk.partition * 1000 + chunk.firstOffset); return true; },
    });
    await sink.connect();
    const offsets = range(100, 110);
    sink.push(chunkOf(offsets.map((i) => ({ ...trade(i), price: i === 105 ? 5_000_000 : 100 + i })), offsets, 0));
    sink.push(chunkOf(offsets.map((i) => trade(i)), offsets, 1));
    await sink.flush();
    await sink.close();
    await withPg(config, (c) => c.query(`ALTER TABLE ${config.postgres.table} DROP CONSTRAINT it_price_cap`));
    assert.deepEqual(failures, [105], 'partition 0, offset 105 refused (check_violation, class 23)');
    const landed = await withPg(config, async (c) => (await c.query(
      `SELECT src_partition AS p, array_agg(src_offset::int ORDER BY src_offset) AS o FROM ${config.postgres.table} WHERE src_offset >= 100 GROUP BY 1 ORDER BY 1`)).rows);
    assert.deepEqual(landed, [{ p: 0, o: offsets.filter((o) => o !== 105) }, { p: 1, o: offsets }]);
  });

  it('Redis: two connections apply their partitions concurrently; a replay over three changes nothing', async () => {
    const redis = redisClient(config);
    const state = () => redisDump(redis, config.redis.keyPrefix);
    // Each partition its own symbol, so every partition's events land in keys of their own.
    const batch = (partition: number, from: number, to: number) =>
      chunkOf(range(from, to).map((i) => trade(i, T0 + i * 1000, `P${partition}-USDT`)), range(from, to), partition);
    const two = new RedisSink({ ...config.redis, connections: 2 });
    await two.connect();
    await Promise.all([two.writeBatch([batch(0, 0, 40), batch(2, 0, 40)], 0), two.writeBatch([batch(1, 0, 40), batch(3, 0, 40)], 1)]);
    await assert.rejects(two.writeBatch([batch(0, 40, 50)], 1), /partition 0 is not written by connection 1 of 2/);
    await two.close();
    const written = await state();
    for (const p of [0, 1, 2, 3]) assert.equal((written[`${config.redis.keyPrefix}latest:binance:P${p}-USDT`] as Record<string, string>).offset, '39');

    const three = new RedisSink({ ...config.redis, connections: 3 });
    await three.connect();
    await Promise.all([three.writeBatch([batch(0, 0, 40), batch(3, 0, 40)], 0), three.writeBatch([batch(1, 0, 40)], 1), three.writeBatch([batch(2, 0, 40)], 2)]);
    await three.close();
    assert.deepEqual(await state(), written);
    redis.disconnect();
  });
});

describe('a partition that moves between instances (real PostgreSQL and Redis)', { timeout: 60_000 }, () => {
  const { config } = testConfig();
  const redis = redisClient(config);
  const opened: Array<{ close(): Promise<void> }> = [];
  async function pgInstance(): Promise<PostgresSink> {
    const s = new PostgresSink(config.postgres);
    await s.connect();
    opened.push(s);
    return s;
  }
  before(async () => { await migrate(config.postgres, pino({ level: 'silent' })); });
  after(async () => {
    for (const s of opened) await s.close();
    redis.disconnect();
    await cleanup(config);
  });

  const rowsOf = () => withPg(config, async (c) => (await c.query(
    `SELECT count(*)::int AS n, count(DISTINCT src_offset)::int AS d, max(src_offset)::int AS hi FROM ${config.postgres.table}`)).rows[0]);
  const batch = (from: number, to: number) => [chunkOf(range(from, to).map((i) => trade(i)), range(from, to))];
  const sqlState = (err: unknown) => (err as { code?: string }).code;

  it('an owner whose watermark is stale is refused before it writes, then writes only what is new', async () => {
    const survivor = await pgInstance();
    const other = await pgInstance();
    await survivor.writeBatch(batch(0, 100));
    // The partition moves to the other instance, which writes on (the survivor still caches 100).
    await other.writeBatch(batch(100, 200));
    // It moves back (the other one was killed before its offsets were committed): the survivor
    // replays from the last commit with its stale watermark.
    const refused = await survivor.writeBatch(batch(100, 250)).then(() => null, (err: unknown) => err);
    assert.equal(sqlState(refused), WATERMARK_MOVED_SQLSTATE, `expected the claim to refuse the batch, got ${String(refused)}`);
    assert.equal(survivor.isRetriable(refused), true);
    assert.deepEqual(await rowsOf(), { n: 200, d: 200, hi: 199 }, 'nothing of the refused batch landed');
    // The core retries: the watermark is read again and only 200..249 are new.
    await survivor.writeBatch(batch(100, 250));
    assert.deepEqual(await rowsOf(), { n: 250, d: 250, hi: 249 });
  });

  it('a released partition reads its watermark again: a replay of what another instance wrote writes nothing', async () => {
    const a = await pgInstance();
    const b = await pgInstance();
    await a.writeBatch(batch(250, 260));
    await b.writeBatch(batch(260, 300));
    a.release(TOPIC, 0);
    await a.writeBatch(batch(250, 300)); // no refusal: every row is below the watermark it reads
    assert.deepEqual(await rowsOf(), { n: 300, d: 300, hi: 299 });
  });

  it('two writers of one partition at once: one commits, the other is refused and then adds only its tail', async () => {
    const a = await pgInstance();
    const b = await pgInstance();
    await a.writeBatch(batch(300, 310));
    await b.writeBatch(batch(300, 310)); // both now cache 310
    const outcomes = await Promise.allSettled([a.writeBatch(batch(310, 400)), b.writeBatch(batch(310, 450))]);
    const refusedAt = outcomes.findIndex((o) => o.status === 'rejected');
    assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 1, 'exactly one writer is refused');
    assert.equal(sqlState((outcomes[refusedAt] as PromiseRejectedResult).reason), WATERMARK_MOVED_SQLSTATE);
    await (refusedAt === 0 ? a.writeBatch(batch(310, 400)) : b.writeBatch(batch(310, 450)));
    assert.deepEqual(await rowsOf(), { n: 450, d: 450, hi: 449 });
  });

  it('Redis: two instances replaying each other\'s ranges of one partition apply each event once', async () => {
    const a = new RedisSink(config.redis);
    const b = new RedisSink(config.redis);
    await a.connect();
    await b.connect();
    opened.push(a, b);
    await a.writeBatch(batch(0, 100));
    await b.writeBatch(batch(50, 200));
    await Promise.all([a.writeBatch(batch(100, 300)), b.writeBatch(batch(150, 300))]);
    const q = await redis.hgetall(`${config.redis.keyPrefix}quality:binance:BTC-USDT`);
    assert.equal(Number(q.accepted), 150, 'each of the 300 events counted once (half are BTC-USDT)');
    assert.equal(await redis.hget(`${config.redis.keyPrefix}applied:${TOPIC}`, '0'), '299');
  });
});

describe('binary COPY rows (real PostgreSQL)', { timeout: 120_000 }, () => {
  const { config } = testConfig();
  after(async () => {
    await cleanup(config);
  });

  it('load exactly what the text rows load, for every event of the real recordings', async (t) => {
    const files = recordingFiles();
    if (files.length === 0) return t.skip(`no recordings in ${RECORDINGS_DIR}`);
    // The recordings hold books, quotes and trades; liquidations and the optional fields are added.
    const events: MarketEvent[] = [...files.flatMap((f) => normalizeRecording(f)),
      { v: 1, type: 'liquidation', venue: 'binance-futures', symbol: 'BTC-USDT-PERP', ts: T0, recvTs: T0 + 5, id: 'liq\t"1"\\', posSide: 'long', price: 64123.5, size: 0.002 },
      { v: 1, type: 'liquidation', venue: 'bybit', symbol: 'ETH-USDT-PERP', ts: T0 + 1, recvTs: T0 + 6, posSide: 'short', price: 3000.25, size: 1e-8 },
      { v: 1, type: 'trade', venue: 'okx', symbol: 'BTC-USDT', ts: T0 + 2, recvTs: T0 + 7, id: 'é✓\n', price: 0.1 + 0.2, size: 123456789.123, side: '', offBook: true },
      { v: 1, type: 'quote', venue: 'kraken', symbol: 'BTC-USD', ts: T0 + 3, recvTs: T0 + 8, bid: 1, bidSize: 2, ask: 3, askSize: 4 },
    ];
    assert.equal(new Set(events.map((e) => e.type)).size, 4);
    // Verdict fields that exercise the sign bit of the bigint and a fractional real.
    const outcome = (i: number) => ({ verdict: (i % 3) as Verdict, failedLo: (i * 2654435761) >>> 0, failedHi: i % 5 === 0 ? 0x80000000 : i, score: (i % 100) / 64 });
    const text = new ByteWriter(1 << 20);
    const binary = new ByteWriter(1 << 20);
    events.forEach((e, i) => {
      text.write(encodeCopyRow(e, outcome(i), i % 7, i));
      writeBinaryRow(binary, e, outcome(i), i % 7, i);
    });
    await withPg(config, async (c) => {
      const cols = EVENT_COLUMNS.map(([n, type]) => `${n} ${type.replace(' NOT NULL', '')}`).join(', ');
      const names = EVENT_COLUMN_NAMES.join(', ');
      for (const table of ['rows_text', 'rows_binary']) await c.query(`CREATE TEMP TABLE ${table} (${cols})`);
      for (const [table, format, bytes] of [['rows_text', 'text', text.take()], ['rows_binary', 'binary', Buffer.concat([BINARY_COPY_HEADER, binary.take(), BINARY_COPY_TRAILER])]] as const) {
        const stream = c.query(copyFrom(`COPY ${table} (${names}) FROM STDIN (FORMAT ${format})`));
        await new Promise<void>((resolve, reject) => { stream.on('finish', resolve); stream.on('error', reject); stream.end(bytes); });
      }
      const n = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM rows_binary');
      assert.equal(n.rows[0]!.n, events.length);
      // jsonb compares by value; every other column exactly (floats included: both carry every bit).
      const diff = await c.query(`SELECT count(*)::int AS n FROM ((SELECT * FROM rows_text EXCEPT ALL SELECT * FROM rows_binary)
        UNION ALL (SELECT * FROM rows_binary EXCEPT ALL SELECT * FROM rows_text)) d`);
      assert.equal(diff.rows[0].n, 0);
    });
  });
});

describe('migrations', { timeout: 60_000 }, () => {
  const { config } = testConfig();
  after(async () => { await cleanup(config); });

  it('run twice in a row without error and create the partitioned layout', async () => {
    const log = pino({ level: 'silent' });
    const first = await migrate(config.postgres, log);
    const second = await migrate(config.postgres, log);
    assert.equal(second.mode, first.mode);
    assert.deepEqual(second.created, []);
    if (first.mode !== 'partitioned') return; // the TimescaleDB path: test/integration/timescaledb.test.ts
    assert.equal(first.created.length, config.postgres.partitionsAheadDays + 2);
    await withPg(config, async (c) => {
      const parts = await c.query(`SELECT count(*)::int AS n FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1`, [config.postgres.table]);
      assert.equal(parts.rows[0].n, config.postgres.partitionsAheadDays + 3, 'daily partitions + default');
      const view = await c.query(`SELECT count(*)::int AS n FROM ${config.postgres.table}_bars_1m`);
      assert.equal(view.rows[0].n, 0);
    });
  });

  it('the example queries of docs/storage.md run on this path', async () => {
    const { config: cfg } = testConfig();
    try {
      assert.equal((await migrate(cfg.postgres, pino({ level: 'silent' }))).mode, 'partitioned');
      await withPg(cfg, async (c) => { for (const q of storageDocQueries(cfg.postgres.table)) await c.query(q); });
    } finally {
      await cleanup(cfg);
    }
  });

  it('retention covers everything: expired daily partitions are dropped and the default partition\'s expired rows deleted', async () => {
    const { config: cfg } = testConfig({ HIMARI_POSTGRES_RETENTION_DAYS: '7' });
    try {
      const log = pino({ level: 'silent' });
      assert.equal((await migrate(cfg.postgres, log)).mode, 'partitioned');
      const t = cfg.postgres.table;
      await withPg(cfg, async (c) => {
        // A daily partition 10 days old (as if made back then), and rows no daily partition covers:
        // replayed history 40 and 3 days old, and one from the far future (a bad clock).
        const old = (await c.query<{ d: string }>(`SELECT to_char(current_date - 10, 'YYYYMMDD') AS d`)).rows[0]!.d;
        await c.query(`CREATE TABLE ${t}_p${old} PARTITION OF ${t} FOR VALUES FROM ('${old}') TO ('${old}'::date + 1)`);
        const row = (ts: string, offset: number) => c.query(`INSERT INTO ${t} (ts, recv_ts, venue, symbol, type, verdict, failed_checks, quality, src_partition, src_offset)
          VALUES (${ts}, now(), 'binance', 'BTC-USDT', 'trade', 0, 0, 1, 0, ${offset})`);
        await row(`'${old}'::timestamptz + interval '1 hour'`, 1);
        await row(`now() - interval '40 days'`, 2);
        await row(`now() - interval '39 days'`, 3);
        await row(`now() - interval '3 days'`, 4);
        await row(`now() + interval '400 days'`, 5);
        assert.equal((await c.query(`SELECT count(*)::int AS n FROM ${t}_default`)).rows[0].n, 4);
        const report = await maintainPartitions(c, cfg.postgres);
        assert.deepEqual(report.dropped, [`${t}_p${old}`]);
        assert.equal(report.purgedFromDefault, 2);
        const left = await c.query(`SELECT src_offset::int AS o FROM ${t} ORDER BY 1`);
        assert.deepEqual(left.rows.map((r) => r.o), [4, 5], 'the 3-day-old and the future row stay');
        // Nothing more to do the second time.
        const again = await maintainPartitions(c, cfg.postgres);
        assert.deepEqual([again.dropped, again.purgedFromDefault], [[], 0]);
      });
    } finally {
      await cleanup(cfg);
    }
  });
});
