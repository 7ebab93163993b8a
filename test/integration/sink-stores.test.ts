import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { produce } from '../../src/loadtest/generator.js';
import { freePort } from '../helpers/outage.js';
import { ProcessorProcess, drainAndStop } from '../helpers/processor.js';
import { countedEvents } from '../helpers/redis.js';
import { cleanup, createTopics, redisClient, testConfig, withPg } from '../helpers/services.js';

/**
 * `sink.stores`: a consumer group per store. Each group's other store sits on a closed port, so a
 * start-up that still reached it, or a sink that still wrote it, would fail the run.
 */
describe('one consumer group per store (sink.stores; real broker, Redis and PostgreSQL)', { timeout: 180_000 }, () => {
  const base = testConfig();
  const processes: ProcessorProcess[] = [];
  after(async () => {
    for (const p of processes) await p.stop();
    await cleanup(base.config);
  });

  it('a Redis-only group and a PostgreSQL-only group on one topic each write every event once, neither reaching the other store', async () => {
    const closed = await freePort();
    const redisOnly = testConfig({
      ...base.env, HIMARI_KAFKA_GROUP_ID: `${base.config.kafka.groupId}-redis`, HIMARI_SINK_STORES: 'redis',
      HIMARI_POSTGRES_URL: `postgres://postgres@127.0.0.1:${closed}/postgres`,
    });
    const postgresOnly = testConfig({
      ...base.env, HIMARI_KAFKA_GROUP_ID: `${base.config.kafka.groupId}-postgres`, HIMARI_SINK_STORES: 'postgres',
      HIMARI_REDIS_URL: `redis://127.0.0.1:${closed}/0`,
    });
    await createTopics(base.config);
    const stats = await produce(base.config.kafka, { topic: base.config.kafka.topics[0]!, symbols: 10, venues: ['binance', 'okx'], rate: 2000, durationS: 2, bad: 0, seed: 11 });
    assert.ok(stats.produced > 0);

    const a = new ProcessorProcess(redisOnly.env);
    const b = new ProcessorProcess(postgresOnly.env);
    processes.push(a, b);
    await Promise.all([a.ready(), b.ready()]);
    assert.match(a.stderr, /ready in \d+ ms \(2 worker threads, Redis only\)/);
    assert.match(b.stderr, /ready in \d+ ms \(2 worker threads, \w+ storage\)/);
    await Promise.all([drainAndStop(a, redisOnly.config, 60_000), drainAndStop(b, postgresOnly.config, 60_000)]);

    const redis = redisClient(base.config);
    try {
      assert.equal(await countedEvents(redis, base.config.redis.keyPrefix), stats.produced, 'Redis applied every event once');
    } finally {
      redis.disconnect();
    }
    const rows = await withPg(base.config, async (c) => (await c.query<{ n: number; d: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT (src_partition, src_offset))::int AS d FROM ${base.config.postgres.table}`)).rows[0]!);
    assert.deepEqual(rows, { n: stats.produced, d: stats.produced }, 'PostgreSQL holds every event once');

    // The run summaries name the stores; each wrote and waited for its own only.
    assert.match(a.stderr, /stores {9}redis\n/);
    assert.match(b.stderr, /stores {9}postgres \(\w+ storage, table /);
    assert.doesNotMatch(a.stderr, /^ {4}postgres /m, 'the Redis group reports no PostgreSQL latency');
    assert.doesNotMatch(b.stderr, /^ {4}redis /m, 'the PostgreSQL group reports no Redis latency');
  });
});
