import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { produce } from '../../src/loadtest/generator.js';
import { cleanup, createTopics, readTopic, redisClient, testConfig, waitUntil, withPg } from '../helpers/services.js';
import { ProcessorProcess, drainAndStop } from '../helpers/processor.js';
import { canControlServices, freePort, startPostgres, startRedis, stopPostgres, stopRedis } from '../helpers/outage.js';

const OUTAGE_MS = 20_000;

async function readyz(port: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
  } catch {
    return 0;
  }
}

describe('sink outages: Redis down 20 s, then PostgreSQL down 20 s', { timeout: 600_000 }, () => {
  let env: Record<string, string> = {};
  let config: ReturnType<typeof testConfig>['config'];
  const processes: ProcessorProcess[] = [];
  after(async () => {
    for (const p of processes) await p.stop();
    // Whatever happened, leave the services running.
    try { startRedis(); } catch { /* already running */ }
    try { startPostgres(); } catch { /* already running */ }
    await new Promise((r) => setTimeout(r, 1000));
    if (config !== undefined) await cleanup(config);
  });

  it('stops consuming during each outage, reports not ready, and completes with nothing lost or dead-lettered', async (t) => {
    if (!canControlServices()) { t.skip('needs local redis-server and pg_ctlcluster to stop and start the services'); return; }
    const port = await freePort();
    ({ config, env } = testConfig({ HIMARI_METRICS_PORT: String(port) }));
    await createTopics(config);
    const p = new ProcessorProcess(env);
    processes.push(p);
    await p.ready();
    await waitUntil('ready', async () => (await readyz(port)) === 200, 30_000);

    // 2,500 events/s for 60 s, 10 of them poison, while the sinks go away and come back.
    const producing = produce(config.kafka, {
      topic: config.kafka.topics[0]!, symbols: 30, venues: ['binance', 'okx', 'bybit'], rate: 2500, durationS: 60, bad: 10, seed: 5,
    });
    const rows = () => withPg(config, async (c) => (await c.query(`SELECT count(*)::int AS n FROM ${config.postgres.table}`)).rows[0].n as number);

    await new Promise((r) => setTimeout(r, 5000));
    stopRedis();
    await waitUntil('/readyz to report the Redis outage', async () => (await readyz(port)) === 503, 15_000);
    const duringRedis = await rows();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    // Backpressure: PostgreSQL may run ahead of Redis only by the in-flight budget, not by the outage.
    const aheadOfRedis = (await rows()) - duringRedis;
    assert.ok(aheadOfRedis <= config.sink.maxInFlightBatches * config.sink.batchMaxRows + 2 * config.workers.maxBatchMessages * config.workers.threads,
      `PostgreSQL took ${aheadOfRedis} rows while Redis was down: consumption did not stop`);
    startRedis();
    await waitUntil('ready again after Redis', async () => (await readyz(port)) === 200, 60_000);

    await new Promise((r) => setTimeout(r, 3000));
    stopPostgres();
    await waitUntil('/readyz to report the PostgreSQL outage', async () => (await readyz(port)) === 503, 15_000);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    startPostgres();
    await waitUntil('ready again after PostgreSQL', async () => (await readyz(port)) === 200, 60_000);

    const stats = await producing;
    assert.equal(stats.failed, 0);
    await drainAndStop(p, config, 180_000);

    const final = await withPg(config, async (c) => (await c.query(
      `SELECT count(*)::int AS n, count(DISTINCT (src_partition, src_offset))::int AS d FROM ${config.postgres.table}`)).rows[0]);
    assert.deepEqual(final, { n: stats.produced, d: stats.produced }, 'every valid event once in PostgreSQL');

    // Redis lost its contents when it restarted (it keeps nothing on disk); the events after it
    // came back rebuilt the latest view, which must match the newest events in PostgreSQL.
    const newest = await withPg(config, async (c) => (await c.query(
      `SELECT DISTINCT ON (venue, symbol) venue, symbol, (extract(epoch FROM ts) * 1000000)::bigint AS ts_us
       FROM ${config.postgres.table} WHERE verdict <> 2 ORDER BY venue, symbol, ts DESC, src_offset DESC`)).rows as Array<{ venue: string; symbol: string; ts_us: string }>);
    const redis = redisClient(config);
    try {
      for (const r of newest) assert.equal(await redis.hget(`${config.redis.keyPrefix}latest:${r.venue}:${r.symbol}`, 'ts'), r.ts_us);
    } finally {
      redis.disconnect();
    }

    const dlq = await readTopic(config, config.kafka.deadLetterTopic, 11, 10_000);
    assert.equal(dlq.length, 10, 'only the poison messages were dead-lettered');
    for (const m of dlq) assert.doesNotMatch(m.headers['x-error-code']!, /^SINK_/);
  });
});
