import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { MarketEvent } from '../../src/codec/event.js';
import { sinkPolicy } from '../../src/config/schema.js';
import { checkById } from '../../src/checks/registry.js';
import { WATERMARK_MOVED_SQLSTATE, WATERMARK_TABLE, migrate } from '../../src/db/migrate.js';
import { ErrorCode, HimariError } from '../../src/errors.js';
import { Metrics } from '../../src/obs/metrics.js';
import type { EventChunk } from '../../src/sinks/chunk.js';
import { SinkCore } from '../../src/sinks/core.js';
import { PostgresSink } from '../../src/sinks/postgres-sink.js';
import { T0, checkedChunk, range, sinkTrade as trade } from '../helpers/chunks.js';
import { cleanup, testConfig, waitUntil, withPg } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const TOPIC = 'replay.topic';
const silent = pino({ level: 'silent' });

/** The real worker code over events at the given offsets, as one chunk of TOPIC. */
function chunkOf(events: MarketEvent[], offsets: number[], partition = 0): EventChunk {
  return checkedChunk(events, offsets, partition, TOPIC);
}

const batch = (from: number, to: number, partition = 0) => [chunkOf(range(from, to).map((i) => trade(i)), range(from, to), partition)];
const sqlState = (err: unknown) => (err as { code?: string }).code;
type Cfg = ReturnType<typeof testConfig>['config'];

/** What the table holds: rows, distinct offsets, lowest and highest offset, and the sum of prices. */
const rowsOf = (config: Cfg) => withPg(config, async (c) => (await c.query(
  `SELECT count(*)::int AS n, count(DISTINCT src_offset)::int AS d, min(src_offset)::int AS lo, max(src_offset)::int AS hi, sum(price)::float8 AS s FROM ${config.postgres.table}`)).rows[0]);

describe('PostgreSQL sink: replays write nothing twice (real PostgreSQL)', { timeout: 60_000 }, () => {
  const { config } = testConfig();
  const sink = new PostgresSink(config.postgres);

  before(async () => {
    await migrate(config.postgres, silent);
    await sink.connect();
  });
  after(async () => {
    await sink.close();
    await cleanup(config);
  });

  it('a batch written twice leaves the table as if written once; an overlapping one adds only its new tail', async () => {
    await sink.writeBatch(batch(0, 100));
    const once = await rowsOf(config);
    assert.deepEqual(once, { n: 100, d: 100, lo: 0, hi: 99, s: 100 * 100 + (99 * 100) / 2 });

    // The same batch again (a replay after a crash before the offset commit).
    await sink.writeBatch(batch(0, 100));
    assert.deepEqual(await rowsOf(config), once);

    // A fresh sink instance (a restarted process) reads the watermarks from the table.
    const again = new PostgresSink(config.postgres);
    await again.connect();
    await again.writeBatch(batch(0, 100));
    await again.close();
    assert.deepEqual(await rowsOf(config), once);

    // Offsets 50..149: 50..99 are already applied, 100..149 are new.
    await sink.writeBatch(batch(50, 150));
    const after = await rowsOf(config) as { n: number; d: number; hi: number };
    assert.deepEqual([after.n, after.d, after.hi], [150, 150, 149]);
    const mark = await withPg(config, async (c) => (await c.query(
      `SELECT next_offset::int AS o FROM ${WATERMARK_TABLE} WHERE target = $1 AND topic = $2 AND partition = 0`, [config.postgres.table, TOPIC])).rows[0]);
    assert.deepEqual(mark, { o: 150 });
  });

  it('rejected events are kept as rows with their verdict and failed checks', async () => {
    const crossed: MarketEvent = { v: 1, type: 'quote', venue: 'okx', symbol: 'SOL-USDT', ts: T0, recvTs: T0, bid: 11, bidSize: 1, ask: 10, askSize: 1 };
    await sink.writeBatch([chunkOf([crossed], [200])]);
    const row = await withPg(config, async (c) => (await c.query(`SELECT verdict, failed_checks FROM ${config.postgres.table} WHERE src_offset = 200`)).rows[0]);
    assert.deepEqual(row, { verdict: 2, failed_checks: String(1 << checkById('M1')!.bit) });
  });
});

describe('PostgreSQL sink: lanes (real PostgreSQL)', { timeout: 60_000 }, () => {
  const { config } = testConfig();
  const pg2 = { ...config.postgres, connections: 2 };

  before(() => migrate(config.postgres, silent));
  after(() => cleanup(config));

  const perPartition = () => withPg(config, async (c) => (await c.query(
    `SELECT src_partition AS p, count(*)::int AS n, count(DISTINCT src_offset)::int AS d, max(src_offset)::int AS hi
       FROM ${config.postgres.table} GROUP BY 1 ORDER BY 1`)).rows);

  it('each connection writes its own partitions concurrently, exactly once across restarts with another connection count', async () => {
    const sink = new PostgresSink(pg2);
    await sink.connect();
    const part = (partition: number, from: number, to: number) => batch(from, to, partition)[0]!;
    // Partitions 0 and 2 are connection 0's, 1 and 3 connection 1's: both transactions are open at once.
    await Promise.all([sink.writeBatch([part(0, 0, 50), part(2, 0, 50)], 0), sink.writeBatch([part(1, 0, 50), part(3, 0, 50)], 1)]);
    await assert.rejects(sink.writeBatch([part(1, 50, 60)], 0), /partition 1 is not written by connection 0 of 2/);
    await sink.close();
    assert.deepEqual(await perPartition(), [0, 1, 2, 3].map((p) => ({ p, n: 50, d: 50, hi: 49 })));

    // A restart with three connections: each loads the watermarks of its own partitions
    // (partition modulo 3) and skips what is applied; only the new tails land.
    const three = new PostgresSink({ ...config.postgres, connections: 3 });
    await three.connect();
    await Promise.all([
      three.writeBatch([part(0, 40, 60), part(3, 0, 60)], 0),
      three.writeBatch([part(1, 0, 70)], 1),
      three.writeBatch([part(2, 30, 80)], 2),
    ]);
    await three.close();
    assert.deepEqual(await perPartition(), [
      { p: 0, n: 60, d: 60, hi: 59 }, { p: 1, n: 70, d: 70, hi: 69 }, { p: 2, n: 80, d: 80, hi: 79 }, { p: 3, n: 60, d: 60, hi: 59 },
    ]);
  });

  it('a row the server refuses is a data error (not retriable) that aborts only its own transaction; the core isolates it and the rest lands', async () => {
    await withPg(config, (c) => c.query(`ALTER TABLE ${config.postgres.table} ADD CONSTRAINT it_price_cap CHECK (price < 1000000) NOT VALID`));
    const offsets = range(100, 110);
    const poisoned = () => chunkOf(offsets.map((i) => ({ ...trade(i), price: i === 105 ? 5_000_000 : 100 + i })), offsets, 0);
    try {
      const direct = new PostgresSink(pg2);
      await direct.connect();
      const refused = await direct.writeBatch([poisoned()], 0).then(() => null, (e: unknown) => e);
      await direct.close();
      assert.equal(sqlState(refused), '23514', `check_violation, got ${String(refused)}`);
      assert.equal(direct.isRetriable(refused), false);

      const failures: number[] = [];
      const sink = new SinkCore(new PostgresSink(pg2), {
        policy: { ...sinkPolicy(config.sink, 'postgres'), batchMaxRows: 100, batchMaxMs: 1, retry: { initialMs: 1, maxMs: 5 } },
        metrics: new Metrics({ defaultMetrics: false }), log: silent,
        onPermanentFailure: (chunk) => { failures.push(chunk.partition * 1000 + chunk.firstOffset); return true; },
      });
      await sink.connect();
      sink.push(poisoned());
      sink.push(chunkOf(offsets.map((i) => trade(i)), offsets, 1));
      await sink.flush();
      await sink.close();
      assert.deepEqual(failures, [105], 'partition 0, offset 105 refused (check_violation, class 23)');
    } finally {
      await withPg(config, (c) => c.query(`ALTER TABLE ${config.postgres.table} DROP CONSTRAINT it_price_cap`));
    }
    const landed = await withPg(config, async (c) => (await c.query(
      `SELECT src_partition AS p, array_agg(src_offset::int ORDER BY src_offset) AS o FROM ${config.postgres.table} WHERE src_offset >= 100 GROUP BY 1 ORDER BY 1`)).rows);
    assert.deepEqual(landed, [{ p: 0, o: offsets.filter((o) => o !== 105) }, { p: 1, o: offsets }]);
  });
});

describe('PostgreSQL sink: a partition that moves between instances (real PostgreSQL)', { timeout: 60_000 }, () => {
  const { config } = testConfig();
  const opened: PostgresSink[] = [];
  async function instance(): Promise<PostgresSink> {
    const s = new PostgresSink(config.postgres);
    await s.connect();
    opened.push(s);
    return s;
  }
  before(async () => { await migrate(config.postgres, silent); });
  after(async () => {
    for (const s of opened) await s.close();
    await cleanup(config);
  });

  const counts = async () => {
    const { n, d, hi } = await rowsOf(config) as { n: number; d: number; hi: number };
    return { n, d, hi };
  };

  it('an owner whose watermark is stale is refused before it writes (retriable), then writes only what is new', async () => {
    const survivor = await instance();
    const other = await instance();
    await survivor.writeBatch(batch(0, 100));
    // The partition moves to the other instance, which writes on (the survivor still caches 100).
    await other.writeBatch(batch(100, 200));
    // It moves back (the other one was killed before its offsets were committed): the survivor
    // replays from the last commit with its stale watermark.
    const refused = await survivor.writeBatch(batch(100, 250)).then(() => null, (err: unknown) => err);
    assert.equal(sqlState(refused), WATERMARK_MOVED_SQLSTATE, `expected the claim to refuse the batch, got ${String(refused)}`);
    assert.equal(survivor.isRetriable(refused), true);
    assert.deepEqual(await counts(), { n: 200, d: 200, hi: 199 }, 'nothing of the refused batch landed');
    // The core retries: the watermark is read again and only 200..249 are new.
    await survivor.writeBatch(batch(100, 250));
    assert.deepEqual(await counts(), { n: 250, d: 250, hi: 249 });
  });

  it('a released partition reads its watermark again: a replay of what another instance wrote writes nothing', async () => {
    const a = await instance();
    const b = await instance();
    await a.writeBatch(batch(250, 260));
    await b.writeBatch(batch(260, 300));
    a.release(TOPIC, 0);
    await a.writeBatch(batch(250, 300)); // no refusal: every row is below the watermark it reads
    assert.deepEqual(await counts(), { n: 300, d: 300, hi: 299 });
  });

  it('release forgets only the partition named', async () => {
    const a = await instance();
    const b = await instance();
    await a.writeBatch([...batch(300, 310, 0), ...batch(0, 10, 1)]);
    await b.writeBatch([...batch(310, 320, 0), ...batch(10, 20, 1)]);
    a.release(TOPIC, 0);
    await a.writeBatch(batch(300, 320, 0));
    // Partition 1 is still cached at 10 on `a`: its replay is refused, as the stale owner's above.
    const refused = await a.writeBatch(batch(10, 20, 1)).then(() => null, (err: unknown) => err);
    assert.equal(sqlState(refused), WATERMARK_MOVED_SQLSTATE, `got ${String(refused)}`);
  });

  it('two writers of one partition at once: one commits, the other is refused and then adds only its tail', async () => {
    const a = await instance();
    const b = await instance();
    await a.writeBatch(batch(300, 310, 2));
    await b.writeBatch(batch(300, 310, 2)); // both now cache 310
    const outcomes = await Promise.allSettled([a.writeBatch(batch(310, 400, 2)), b.writeBatch(batch(310, 450, 2))]);
    const refusedAt = outcomes.findIndex((o) => o.status === 'rejected');
    assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 1, 'exactly one writer is refused');
    assert.equal(sqlState((outcomes[refusedAt] as PromiseRejectedResult).reason), WATERMARK_MOVED_SQLSTATE);
    await (refusedAt === 0 ? a.writeBatch(batch(310, 400, 2)) : b.writeBatch(batch(310, 450, 2)));
    const p2 = await withPg(config, async (c) => (await c.query(
      `SELECT count(*)::int AS n, count(DISTINCT src_offset)::int AS d, max(src_offset)::int AS hi FROM ${config.postgres.table} WHERE src_partition = 2`)).rows[0]);
    assert.deepEqual(p2, { n: 150, d: 150, hi: 449 });
  });
});

describe('PostgreSQL sink: a server that goes away (real PostgreSQL behind a proxy)', { timeout: 60_000 }, () => {
  const { config } = testConfig();
  const proxy = new TcpProxy('127.0.0.1', 5432);
  let proxied: typeof config.postgres;
  const opened: PostgresSink[] = [];
  before(async () => {
    await migrate(config.postgres, silent);
    const url = new URL(config.postgres.url);
    url.port = String(await proxy.listen());
    proxied = { ...config.postgres, url: url.toString() };
  });
  after(async () => {
    for (const s of opened) await s.close().catch(() => {});
    await proxy.close();
    await cleanup(config);
  });

  it('connect to a server that refuses: a retriable SERVICE_UNAVAILABLE', async () => {
    proxy.set('refuse');
    const s = new PostgresSink(proxied);
    opened.push(s);
    const err = await s.connect().then(() => null, (e: unknown) => e);
    proxy.set('pass');
    assert.ok(err instanceof HimariError, `got ${String(err)}`);
    assert.equal(err.code, ErrorCode.SERVICE_UNAVAILABLE);
    assert.equal(err.retriable, true);
  });

  it('probe fails while the server is down (a retriable error), then reconnects; a write while down fails retriably and its retry adds each row once', async () => {
    const s = new PostgresSink(proxied);
    opened.push(s);
    await s.connect();
    await s.writeBatch(batch(0, 10));
    proxy.set('refuse');
    const down = await s.probe(0).then(() => null, (e: unknown) => e);
    assert.ok(down instanceof Error, 'probe rejects while the server is down');
    assert.equal(s.isRetriable(down), true, down.message);
    const write = await s.writeBatch(batch(0, 20)).then(() => null, (e: unknown) => e);
    assert.ok(write instanceof Error && s.isRetriable(write), `a write while down fails retriably: ${String(write)}`);
    proxy.set('pass');
    await waitUntil('the probe to succeed', () => s.probe(0).then(() => true, () => false), 30_000, 100);
    await s.writeBatch(batch(0, 20));
    const { n, d, hi } = await rowsOf(config) as { n: number; d: number; hi: number };
    assert.deepEqual({ n, d, hi }, { n: 20, d: 20, hi: 19 });
  });
});
