import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { produce } from '../../src/loadtest/generator.js';
import { cleanup, createTopics, readTopic, redisClient, testConfig, waitUntil, withPg } from '../helpers/services.js';
import { ProcessorProcess, drainAndStop } from '../helpers/processor.js';
import { countedEvents } from '../helpers/redis.js';

const EVENTS = 200_000;
const BAD = 25;
const KILLS = 5;

/** Deterministic "random" kill moments, so a failure can be reproduced. */
function killDelays(seed: number): number[] {
  let x = seed;
  return Array.from({ length: KILLS }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return 300 + (x % 2200);
  });
}

describe('kill -9 at random moments (exactly once in every sink)', { timeout: 600_000 }, () => {
  // A short session timeout: a killed member's partitions move to its successor sooner.
  const { config, env } = testConfig({ HIMARI_KAFKA_SESSION_TIMEOUT_MS: '6000', HIMARI_KAFKA_TOPIC_PARTITIONS: '8', HIMARI_LOG_LEVEL: 'info' });
  const processes: ProcessorProcess[] = [];
  after(async () => {
    for (const p of processes) await p.stop();
    await cleanup(config);
  });

  it(`${EVENTS} events, ${KILLS} SIGKILLs: PostgreSQL, Redis and the dead-letter topic hold each event once`, async () => {
    await createTopics(config);
    const producing = produce(config.kafka, {
      topic: config.kafka.topics[0]!, symbols: 40, venues: ['binance', 'okx', 'bybit', 'coinbase', 'kraken'],
      rate: 20_000, durationS: EVENTS / 20_000, bad: BAD, seed: 11,
    });
    const delays = killDelays(Number(process.env.HIMARI_TEST_SEED ?? 20261122));
    for (const [i, delay] of delays.entries()) {
      const p = new ProcessorProcess(env);
      processes.push(p);
      await p.ready();
      // Wait until it owns partitions and works, then kill it in the middle of whatever it does.
      await waitUntil('the processor to consume', async () => p.stdout.includes('partitions assigned'), 60_000, 50);
      await new Promise((r) => setTimeout(r, delay));
      p.kill('SIGKILL');
      const exit = await p.exited;
      assert.equal(exit.signal, 'SIGKILL', `run ${i} ended by itself: ${p.stderr}`);
    }
    const stats = await producing;
    assert.equal(stats.failed, 0);
    assert.equal(stats.produced + stats.bad, EVENTS);

    const last = new ProcessorProcess(env);
    processes.push(last);
    await last.ready();
    await drainAndStop(last, config, 300_000);

    // PostgreSQL: every valid event exactly once.
    const t = config.postgres.table;
    const rows = await withPg(config, async (c) => (await c.query(
      `SELECT count(*)::int AS n, count(DISTINCT (src_partition, src_offset))::int AS d FROM ${t}`)).rows[0]);
    assert.deepEqual(rows, { n: stats.produced, d: stats.produced });

    // Redis: the latest view per venue and symbol is the newest event PostgreSQL holds.
    const newest = await withPg(config, async (c) => (await c.query(
      `SELECT DISTINCT ON (venue, symbol) venue, symbol, (extract(epoch FROM ts) * 1000000)::bigint AS ts_us, src_offset
       FROM ${t} WHERE verdict <> 2 ORDER BY venue, symbol, ts DESC, src_offset DESC`)).rows as Array<{ venue: string; symbol: string; ts_us: string; src_offset: string }>);
    assert.equal(newest.length, 5 * 40);
    const redis = redisClient(config);
    try {
      for (const r of newest) {
        const h = await redis.hgetall(`${config.redis.keyPrefix}latest:${r.venue}:${r.symbol}`);
        assert.equal(h.ts, r.ts_us, `${r.venue}:${r.symbol}`);
      }
      const counted = await countedEvents(redis, config.redis.keyPrefix);
      assert.equal(counted, stats.produced, 'quality counters count every event once');
    } finally {
      redis.disconnect();
    }

    // Dead letters: exactly the injected bad messages, once each.
    const dlq = await readTopic(config, config.kafka.deadLetterTopic, BAD + 1, 15_000);
    const sources = new Set(dlq.map((m) => `${m.headers['x-source-partition']}:${m.headers['x-source-offset']}`));
    assert.equal(dlq.length, BAD, `dead letters: ${dlq.length}, distinct ${sources.size}`);
    assert.equal(sources.size, BAD);
  });
});
