import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { produce } from '../../src/loadtest/generator.js';
import { cleanup, createTopics, redisClient, testConfig, waitUntil, withPg } from '../helpers/services.js';
import { ProcessorProcess, drainAndStop } from '../helpers/processor.js';
import { countedEvents } from '../helpers/redis.js';
import { freePort } from '../helpers/outage.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

async function readyz(port: number): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

/** PostgreSQL and Redis through proxies the test switches; the rest as in every integration test. */
async function proxiedSetup(overrides: Record<string, string> = {}) {
  const pgProxy = new TcpProxy('127.0.0.1', 5432);
  const redisProxy = new TcpProxy('127.0.0.1', 6379);
  const metricsPort = await freePort();
  const base = testConfig();
  const pgUrl = new URL(base.config.postgres.url);
  pgUrl.port = String(await pgProxy.listen());
  const redisUrl = new URL(base.config.redis.url);
  redisUrl.port = String(await redisProxy.listen());
  const { config, env } = testConfig({
    ...base.env,
    HIMARI_POSTGRES_URL: pgUrl.toString(), HIMARI_REDIS_URL: redisUrl.toString(), HIMARI_METRICS_PORT: String(metricsPort),
    // Short bounds, so that each scenario ends in seconds.
    HIMARI_SINK_PROBE_INTERVAL_MS: '1000', HIMARI_REDIS_COMMAND_TIMEOUT_MS: '1000', HIMARI_POSTGRES_QUERY_TIMEOUT_MS: '2000',
    HIMARI_SHUTDOWN_DEADLINE_MS: '10000', HIMARI_LOG_LEVEL: 'info',
    ...overrides,
  });
  // The test's own checks talk to the real services, not through the proxies.
  const direct = testConfig({ ...env, HIMARI_POSTGRES_URL: base.config.postgres.url, HIMARI_REDIS_URL: base.config.redis.url }).config;
  return { config, env, direct, pgProxy, redisProxy, metricsPort };
}

async function pgExact(direct: ReturnType<typeof testConfig>['config']): Promise<{ n: number; d: number }> {
  return withPg(direct, async (c) => (await c.query(
    `SELECT count(*)::int AS n, count(DISTINCT (src_partition, src_offset))::int AS d FROM ${direct.postgres.table}`)).rows[0]);
}

describe('readiness and shutdown at the edges (real broker, Redis and PostgreSQL behind TCP proxies)', { timeout: 300_000 }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  /** Topics made, the processor started through the proxies and ready; all removed after the suite. */
  async function startedProcessor(s: Awaited<ReturnType<typeof proxiedSetup>>): Promise<ProcessorProcess> {
    cleanups.push(() => cleanup(s.direct), () => s.pgProxy.close(), () => s.redisProxy.close());
    await createTopics(s.config);
    const p = new ProcessorProcess(s.env);
    cleanups.push(() => p.stop());
    await p.ready();
    return p;
  }

  it('a Redis that accepts and never answers turns /readyz to 503 with the reason; healed, it is 200 and every event lands once', async () => {
    const s = await proxiedSetup();
    const p = await startedProcessor(s);
    await waitUntil('ready', async () => (await readyz(s.metricsPort)).status === 200, 30_000);

    const first = await produce(s.config.kafka, { topic: s.config.kafka.topics[0]!, symbols: 10, venues: ['binance', 'okx'], rate: 2000, durationS: 2, bad: 0, seed: 3 });
    s.redisProxy.set('blackhole');
    // Idle or writing, the sink notices: the probe or the batch script times out.
    await waitUntil('/readyz 503 naming Redis', async () => {
      const r = await readyz(s.metricsPort);
      return r.status === 503 && /redis: failing/.test(r.body);
    }, 30_000);
    const second = await produce(s.config.kafka, { topic: s.config.kafka.topics[0]!, symbols: 10, venues: ['binance', 'okx'], rate: 2000, durationS: 2, bad: 0, seed: 4 });
    s.redisProxy.set('pass');
    await waitUntil('ready again', async () => (await readyz(s.metricsPort)).status === 200, 60_000);
    await drainAndStop(p, s.direct, 60_000);
    const produced = first.produced + second.produced;
    assert.deepEqual(await pgExact(s.direct), { n: produced, d: produced });
    const redis = redisClient(s.direct);
    try {
      const counted = await countedEvents(redis, s.direct.redis.keyPrefix);
      assert.equal(counted, produced, 'Redis applied every event once');
    } finally {
      redis.disconnect();
    }
  });

  for (const [what, mode] of [['refused', 'refuse'], ['black-holed', 'blackhole']] as const) {
    it(`SIGTERM while PostgreSQL is ${what}: the process exits by itself with code 3 at its deadline, and a restart delivers everything once`, async () => {
      const s = await proxiedSetup();
      const p = await startedProcessor(s);
      s.pgProxy.set(mode);
      const stats = await produce(s.config.kafka, { topic: s.config.kafka.topics[0]!, symbols: 10, venues: ['binance', 'okx'], rate: 2000, durationS: 2, bad: 0, seed: 5 });
      await waitUntil('/readyz 503 naming PostgreSQL', async () => /postgres: failing/.test((await readyz(s.metricsPort)).body), 30_000);
      p.kill('SIGTERM');
      // Bounded wait, not a timing assertion: the 10 s deadline, with a generous margin for a busy machine.
      const exit = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 40_000))]);
      assert.notEqual(exit, null, `still running 40 s after SIGTERM with a 10 s deadline:\n${p.stdout.slice(-3000)}`);
      assert.equal(exit!.code, 3, `exit code: ${JSON.stringify(exit)}\n${p.stderr}`);
      assert.match(p.stdout, /close deadline reached: unconfirmed batches abandoned|shutdown deadline passed/);

      s.pgProxy.set('pass');
      const again = new ProcessorProcess(s.env);
      cleanups.push(() => again.stop());
      await again.ready();
      await drainAndStop(again, s.direct, 90_000);
      assert.deepEqual(await pgExact(s.direct), { n: stats.produced, d: stats.produced });
    });
  }

  it('SIGTERM during start-up (Redis refusing connections: the sink\'s connect retries) exits 0, not "start failed"', async () => {
    const s = await proxiedSetup();
    cleanups.push(() => cleanup(s.direct), () => s.pgProxy.close(), () => s.redisProxy.close());
    await createTopics(s.config);
    s.redisProxy.set('refuse');
    const p = new ProcessorProcess(s.env);
    cleanups.push(() => p.stop());
    await waitUntil('the Redis connect to be retried', async () => p.stdout.includes('Redis not reachable yet; retrying'), 30_000, 50);
    p.kill('SIGTERM');
    const exit = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 40_000))]);
    assert.notEqual(exit, null, 'did not exit after SIGTERM during start-up');
    assert.equal(exit!.code, 0, p.stderr);
    assert.doesNotMatch(p.stderr, /start failed/);
  });
});
