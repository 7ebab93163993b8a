import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { produce } from '../../src/loadtest/generator.js';
import type { MarketEvent } from '../../src/codec/event.js';
import { migrate } from '../../src/db/migrate.js';
import { readPolicyJobs, runJob as runPolicyJob } from '../../src/db/timescale-jobs.js';
import { freePort } from '../helpers/outage.js';
import { PostgresSink } from '../../src/sinks/postgres-sink.js';
import { checkedChunk } from '../helpers/chunks.js';
import { storageDocQueries } from '../helpers/doc-queries.js';
import { CLI, ProcessorProcess, drainAndStop } from '../helpers/processor.js';
import { timescalePostgres } from '../helpers/secure-services.js';
import { cleanup, createTopics, testConfig, waitUntil, withPg } from '../helpers/services.js';

const HOUR = 3_600_000_000;
const DAY = 24 * HOUR;
const TOPIC = 'ts.topic';

/**
 * The hypertable path (issue #15) against a real TimescaleDB: 2.28.3 built from the vendored
 * source and a cluster of the project's own that preloads it (scripts/timescaledb.sh; built once,
 * then reused). Runs on every CI run: nothing here skips.
 */
describe('TimescaleDB: hypertable, policies, continuous aggregate (real TimescaleDB 2.28.3)', { timeout: 900_000 }, () => {
  let env: Record<string, string> = {};
  const used: Array<ReturnType<typeof testConfig>['config']> = [];
  const processes: ProcessorProcess[] = [];
  before(() => { env = timescalePostgres(); });
  after(async () => {
    for (const p of processes) await p.stop();
    for (const c of used) await cleanup(c).catch(() => {});
  });

  function config(extra: Record<string, string> = {}) {
    const made = testConfig({ ...env, ...extra });
    used.push(made.config);
    return made;
  }

  /** The ids of the table's policies: compression, retention, and the aggregate's refresh. */
  async function jobs(c: Parameters<Parameters<typeof withPg>[1]>[0], table: string): Promise<Record<string, number>> {
    // The aggregate's refresh policy is listed under the view's name.
    const r = await c.query(`SELECT proc_name, job_id FROM timescaledb_information.jobs WHERE hypertable_name IN ($1, $2)`, [table, `${table}_bars_1m`]);
    return Object.fromEntries(r.rows.map((row) => [row.proc_name as string, row.job_id as number]));
  }

  /** CALL run_job (retried while the scheduler holds the same job), asserting the job exists. */
  async function runJob(c: Parameters<Parameters<typeof withPg>[1]>[0], id: number | undefined): Promise<void> {
    assert.ok(id !== undefined, 'no such job');
    await runPolicyJob(c, id);
  }

  /** Trades of one symbol from `from`, `stepUs` apart, with prices that make distinct bars. */
  let offset = 0;
  function trades(from: number, n: number, stepUs: number, symbol: string): MarketEvent[] {
    return Array.from({ length: n }, (_, i) => {
      const ts = from + i * stepUs;
      const price = 100 + ((i * 7) % 13) - (i % 5 === 0 ? 3 : 0);
      return { v: 1, type: 'trade', venue: 'binance', symbol, ts, recvTs: ts + 2_000, id: String(offset + i), price, size: 0.5 + (i % 3), side: i % 2 ? 'buy' : 'sell' };
    });
  }

  it('migrates twice to the same schema: a hypertable, compression and retention policies, the 1-minute bars with their refresh policy', async () => {
    const { config: cfg } = config();
    const log = pino({ level: 'silent' });
    assert.equal((await migrate(cfg.postgres, log)).mode, 'timescaledb');
    assert.equal((await migrate(cfg.postgres, log)).mode, 'timescaledb');
    await withPg(cfg, async (c) => {
      const ht = await c.query(`SELECT count(*)::int AS n FROM timescaledb_information.hypertables WHERE hypertable_name = $1`, [cfg.postgres.table]);
      assert.equal(ht.rows[0].n, 1);
      assert.deepEqual(Object.keys(await jobs(c, cfg.postgres.table)).sort(), ['policy_compression', 'policy_refresh_continuous_aggregate', 'policy_retention']);
      const cagg = await c.query(`SELECT count(*)::int AS n FROM timescaledb_information.continuous_aggregates WHERE view_name = $1`, [`${cfg.postgres.table}_bars_1m`]);
      assert.equal(cagg.rows[0].n, 1);
    });
  });

  it('himari-l0 migrate reports the active path and the state of every policy', async () => {
    const { config: cfg, env: cliEnv } = config();
    const r = spawnSync(process.execPath, [CLI, 'migrate'], { env: { PATH: process.env.PATH ?? '', ...cliEnv }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { mode: string; policies: Array<{ policy: string; everyS: number }> };
    assert.equal(report.mode, 'timescaledb');
    assert.deepEqual(report.policies.map((p) => [p.policy, p.everyS]).sort(), [
      ['policy_compression', 1800], ['policy_refresh_continuous_aggregate', 60], ['policy_retention', 86_400]]);
    // And the example queries of docs/storage.md run on this path.
    await withPg(cfg, async (c) => { for (const q of storageDocQueries(cfg.postgres.table)) await c.query(q); });
  });

  it('compression keeps old rows readable and the sink writing; retention drops chunks past it; the bars equal an OHLCV of the raw rows', async () => {
    const { config: cfg } = config();
    await migrate(cfg.postgres, pino({ level: 'silent' }));
    const t = cfg.postgres.table;
    const now = Date.now() * 1000;
    const sink = new PostgresSink(cfg.postgres);
    const write = async (events: MarketEvent[]) => {
      const offsets = events.map(() => offset++);
      await sink.writeBatch([checkedChunk(events, offsets, 0, TOPIC)]);
    };
    try {
      // The server's scheduler is left out of this test (it runs each new policy at once, and its
      // runs fail here, though not always): the policies run in the foreground only, when the
      // test says. The next test is the one about a failing scheduler.
      await withPg(cfg, async (c) => {
        for (const id of Object.values(await jobs(c, t))) await c.query('SELECT alter_job($1, scheduled => false)', [id]);
      });
      const old = trades(now - 40 * DAY, 200, 1_000_000, 'BTC-USDT'); // past the 30-day retention
      const mid = trades(now - 3 * DAY, 200, 1_000_000, 'BTC-USDT'); // past the 1-day compression
      const recent = [...trades(now - 40 * 60_000_000, 600, 3_000_000, 'BTC-USDT'), ...trades(now - 40 * 60_000_000, 600, 3_000_000, 'ETH-USDT')];
      await write(old);
      await write(mid);
      await write(recent);
      await withPg(cfg, async (c) => {
        const count = async (where: string) => (await c.query(`SELECT count(*)::int AS n FROM ${t} WHERE ${where}`)).rows[0].n as number;
        assert.equal(await count('true'), 1_600);
        const ids = await jobs(c, t);

        // Compression, run in the foreground as the processor's fallback will (issue #15, item 3).
        await runJob(c, ids.policy_compression);
        const chunks = await c.query(`SELECT range_end, is_compressed FROM timescaledb_information.chunks WHERE hypertable_name = $1 ORDER BY range_start`, [t]);
        const compressed = chunks.rows.filter((r) => r.is_compressed === true);
        assert.ok(compressed.length >= 2, `old chunks compressed: ${JSON.stringify(chunks.rows)}`);
        for (const r of chunks.rows) assert.equal(r.is_compressed, (r.range_end as Date).getTime() * 1000 < now - DAY, JSON.stringify(r));
        assert.equal(await count(`ts < now() - interval '1 day'`), 400, 'compressed rows still readable');

        // The sink still writes, into a compressed chunk too (a late replay of an old tail).
        await write(trades(now - 3 * DAY + 300_000_000, 20, 1_000_000, 'SOL-USDT'));
        assert.equal(await count(`symbol = 'SOL-USDT'`), 20);

        // Retention: the 40-day-old chunk goes, nothing younger does.
        await runJob(c, ids.policy_retention);
        assert.equal(await count(`ts < now() - interval '30 days'`), 0);
        assert.equal(await count('true'), 1_420);

        // The bars: refreshed by their policy's job, equal to an OHLCV of the raw rows.
        await runJob(c, ids.policy_refresh_continuous_aggregate);
        const bars = await c.query(`SELECT bucket, venue, symbol, open, high, low, close, volume, trades::int, flagged::int
          FROM ${t}_bars_1m ORDER BY 1, 2, 3`);
        const direct = await c.query(`SELECT time_bucket(INTERVAL '1 minute', ts) AS bucket, venue, symbol,
            first(price, ts) AS open, max(price) AS high, min(price) AS low, last(price, ts) AS close,
            sum(size) AS volume, count(*)::int AS trades, (count(*) FILTER (WHERE verdict = 1))::int AS flagged
          FROM ${t} WHERE type = 'trade' AND verdict <> 2
            AND ts >= now() - interval '1 hour' AND time_bucket(INTERVAL '1 minute', ts) < time_bucket(INTERVAL '1 minute', now() - interval '1 minute')
          GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`);
        assert.ok(direct.rows.length >= 60, `${direct.rows.length} minutes of recent trades`);
        // The refresh window's first bucket may be partial on either side: compare whole buckets.
        const key = (r: { bucket: Date; symbol: string }) => `${r.bucket.toISOString()} ${r.symbol}`;
        const materialized = new Map(bars.rows.map((r) => [key(r), r]));
        let compared = 0;
        for (const d of direct.rows.slice(2)) {
          const b = materialized.get(key(d));
          assert.ok(b !== undefined, `no bar for ${key(d)}`);
          assert.deepEqual(b, d, key(d));
          compared++;
        }
        assert.ok(compared >= 50, `${compared} bars compared`);
      });
    } finally {
      await sink.close();
    }
  });

  it('exactly once after kill -9, writing into the hypertable', async () => {
    const { config: cfg, env: processorEnv } = config({ HIMARI_KAFKA_SESSION_TIMEOUT_MS: '6000', HIMARI_LOG_LEVEL: 'info' });
    await createTopics(cfg);
    const producing = produce(cfg.kafka, { topic: cfg.kafka.topics[0]!, symbols: 12, venues: ['binance', 'okx'], rate: 10_000, durationS: 3, bad: 0, seed: 7 });
    for (const delayMs of [700, 1_500]) {
      const p = new ProcessorProcess(processorEnv);
      processes.push(p);
      await p.ready(60_000);
      await waitUntil('the processor to consume', async () => p.stdout.includes('partitions assigned'), 60_000, 50);
      await new Promise((r) => setTimeout(r, delayMs));
      p.kill('SIGKILL');
      assert.equal((await p.exited).signal, 'SIGKILL');
    }
    const stats = await producing;
    assert.equal(stats.failed, 0);
    const last = new ProcessorProcess(processorEnv);
    processes.push(last);
    await last.ready(60_000);
    await drainAndStop(last, cfg, 180_000);
    await withPg(cfg, async (c) => {
      const r = await c.query(`SELECT count(*)::int AS n, count(DISTINCT (src_partition, src_offset))::int AS d FROM ${cfg.postgres.table}`);
      assert.equal(r.rows[0].n, stats.produced, 'every event once');
      assert.equal(r.rows[0].d, stats.produced);
      const ht = await c.query(`SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE hypertable_name = $1`, [cfg.postgres.table]);
      assert.ok(ht.rows[0].n >= 1, 'rows are in hypertable chunks');
    });
  });

  it('where the background scheduler fails, the running processor compresses, drops and refreshes on the policies\' schedules', async () => {
    const port = await freePort();
    const { config: cfg, env: processorEnv } = config({ HIMARI_POSTGRES_POLICY_CHECK_MS: '1000', HIMARI_LOG_LEVEL: 'info', HIMARI_METRICS_PORT: String(port) });
    await migrate(cfg.postgres, pino({ level: 'silent' }));
    const t = cfg.postgres.table;
    const now = Date.now() * 1000;
    const sink = new PostgresSink(cfg.postgres);
    try {
      const events = [...trades(now - 40 * DAY, 100, 1_000_000, 'BTC-USDT'), ...trades(now - 3 * DAY, 100, 1_000_000, 'BTC-USDT'),
        ...trades(now - 30 * 60_000_000, 300, 3_000_000, 'BTC-USDT')];
      await sink.writeBatch([checkedChunk(events, events.map(() => offset++), 0, TOPIC)]);
    } finally {
      await sink.close();
    }
    // This server's scheduler runs each new policy at once, and the run fails (the known defect;
    // most of the time: a run that succeeds is left to the server, as it should be).
    await waitUntil('the background scheduler to have run all three policies', async () => withPg(cfg, async (c) =>
      (await readPolicyJobs(c, t)).every((j) => j.lastRunStatus !== null)), 120_000, 500);
    const failing = await withPg(cfg, async (c) => (await readPolicyJobs(c, t)).filter((j) => j.lastRunStatus === 'Failed').map((j) => j.proc));
    assert.ok(failing.length > 0, 'the scheduler\'s runs did not fail: nothing for the processor to take over');
    await createTopics(cfg);
    const p = new ProcessorProcess(processorEnv);
    processes.push(p);
    await p.ready(60_000);
    await waitUntil('old chunks compressed, expired ones dropped, the bars refreshed', async () => withPg(cfg, async (c) => {
      const expired = (await c.query(`SELECT count(*)::int AS n FROM ${t} WHERE ts < now() - interval '30 days'`)).rows[0].n as number;
      const uncompressedOld = (await c.query(`SELECT count(*)::int AS n FROM timescaledb_information.chunks
        WHERE hypertable_name = $1 AND range_end < now() - interval '1 day' AND NOT is_compressed`, [t])).rows[0].n as number;
      const bars = (await c.query(`SELECT count(*)::int AS n FROM ${t}_bars_1m`)).rows[0].n as number;
      return expired === 0 && uncompressedOld === 0 && bars > 0;
    }), 120_000, 500);
    await withPg(cfg, async (c) => {
      assert.equal((await c.query(`SELECT count(*)::int AS n FROM ${t} WHERE ts < now() - interval '1 day'`)).rows[0].n, 100, 'compressed rows readable');
    });
    // Said once per failing policy, with the server's own error (which varies: "cannot drop
    // portal" most often, "cache lookup failed for relation" once on CI); and in the metrics.
    const said = p.stdout.split('\n').filter((l) => l.includes('background runs of this policy fail'));
    assert.equal(said.length, failing.length, said.join('\n'));
    for (const line of said) {
      const record = JSON.parse(line) as { policy?: unknown; lastError?: unknown };
      assert.ok(failing.includes(String(record.policy)), line);
      assert.ok(typeof record.lastError === 'string' && record.lastError.length > 0, `the server's error is in the line: ${line}`);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const policy of failing) {
      assert.match(metrics, new RegExp(`himari_timescaledb_policy_foreground_runs_total\\{policy="${policy}",result="ok"\\} [1-9]`), policy);
      assert.match(metrics, new RegExp(`himari_timescaledb_policy_last_success_timestamp_seconds\\{policy="${policy}"\\} [1-9]`), policy);
    }
    p.kill('SIGTERM');
    assert.equal((await p.exited).code, 0, p.stderr);
  });
});
