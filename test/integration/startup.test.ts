import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import Kafka from 'node-rdkafka';
import { freePort } from '../helpers/outage.js';
import { ProcessorProcess } from '../helpers/processor.js';
import { cleanup, testConfig, withPg } from '../helpers/services.js';

function topicNames(brokers: string): Promise<string[]> {
  const producer = new Kafka.Producer({ 'metadata.broker.list': brokers });
  return new Promise<string[]>((resolve, reject) => producer.connect({ timeout: 10_000 }, (err, metadata) => {
    if (err) { reject(err); return; }
    producer.disconnect();
    resolve(metadata.topics.map((t) => t.name));
  }));
}

/**
 * Start-up reaches every dependency before it creates anything: with one of them down, `run`
 * fails within the reach deadline (10 s), names what did not answer, and leaves no topic, table
 * or partition behind.
 */
describe('start-up with a dependency down (real broker, Redis, PostgreSQL)', { timeout: 120_000 }, () => {
  const configs: Array<Readonly<ReturnType<typeof testConfig>['config']>> = [];
  const processes: ProcessorProcess[] = [];
  after(async () => {
    for (const p of processes) await p.stop();
    for (const c of configs) await cleanup(c);
  });

  async function startWith(overrides: Record<string, string>): Promise<{ p: ProcessorProcess; config: ReturnType<typeof testConfig>['config']; code: number | null }> {
    // The topics and the table of the test's own config: what the processor would have created.
    const { config, env } = testConfig();
    configs.push(config);
    const p = new ProcessorProcess({ ...env, HIMARI_LOG_LEVEL: 'info', ...overrides });
    processes.push(p);
    const { code } = await p.exited;
    return { p, config, code };
  }

  async function nothingCreated(config: Readonly<ReturnType<typeof testConfig>['config']>): Promise<void> {
    const table = await withPg(config, async (c) => (await c.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [config.postgres.table])).rows[0]!.t);
    assert.equal(table, null, 'no table was created');
    const topics = await topicNames(config.kafka.brokers);
    assert.ok(!topics.includes(config.kafka.topics[0]!) && !topics.includes(config.kafka.deadLetterTopic), 'no topic was created');
  }

  it('Redis on a closed port: exit 1 naming Redis, after retrying, with nothing created', async () => {
    const port = await freePort();
    const { p, config, code } = await startWith({ HIMARI_REDIS_URL: `redis://127.0.0.1:${port}/0` });
    assert.equal(code, 1, p.stderr);
    assert.match(p.stderr, new RegExp(`start failed: dependencies not ready within 10 s, nothing was created: Redis at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    assert.doesNotMatch(p.stderr, /Kafka:|PostgreSQL:/);
    assert.match(p.stdout, /Redis not reachable yet; retrying until the start-up deadline/);
    await nothingCreated(config);
  });

  it('the broker unreachable: exit 1 naming Kafka, and no PostgreSQL table or partition made', async () => {
    const port = await freePort();
    const { p, config, code } = await startWith({ HIMARI_KAFKA_BROKERS: `127.0.0.1:${port}` });
    assert.equal(code, 1, p.stderr);
    assert.match(p.stderr, new RegExp(`start failed: dependencies not ready within 10 s, nothing was created: Kafka at 127\\.0\\.0\\.1:${port}`));
    await nothingCreated(config);
  });

  it('topics missing with kafka.createTopics off (production): exit 1 naming them, the schema untouched', async () => {
    const { p, config, code } = await startWith({ HIMARI_KAFKA_CREATE_TOPICS: 'false' });
    assert.equal(code, 1, p.stderr);
    assert.match(p.stderr, new RegExp(`start failed: Kafka at .*: topics ${config.kafka.topics[0]!.replaceAll('.', '\\.')}, ${config.kafka.deadLetterTopic.replaceAll('.', '\\.')} do not exist: .*or set kafka\\.createTopics=true`));
    await nothingCreated(config);
  });

  it('PostgreSQL refusing a missing database and Redis down: both named in one message', async () => {
    const port = await freePort();
    const { p, code } = await startWith({
      HIMARI_REDIS_URL: `redis://127.0.0.1:${port}/0`,
      HIMARI_POSTGRES_URL: 'postgres://postgres@127.0.0.1:5432/himari_no_such_database',
    });
    assert.equal(code, 1, p.stderr);
    assert.match(p.stderr, /start failed: dependencies not ready within 10 s, nothing was created: .*Redis at .*ECONNREFUSED.*; PostgreSQL at 127\.0\.0\.1:5432 .*database "himari_no_such_database" does not exist/);
  });
});
