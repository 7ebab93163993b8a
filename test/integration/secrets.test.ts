import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { produce } from '../../src/loadtest/generator.js';
import { ProcessorProcess, drainAndStop } from '../helpers/processor.js';
import { secureKafka, tlsPostgres } from '../helpers/secure-services.js';
import { cleanup, redisClient, testConfig } from '../helpers/services.js';

/** A fresh secret, long and random enough that finding it in the output means it leaked. */
const secret = (): string => `s3cr3t${randomBytes(12).toString('hex')}`;

/**
 * The processor run with every secret set, at log level trace, through start-up, traffic (dead
 * letters included), SIGTERM and a failed start-up, and its whole output searched for them. Kafka
 * is the secured broker (SASL password), PostgreSQL the TLS cluster (password in the URL and as
 * postgres.password), Redis the local server with an ACL user (password in the URL and as
 * redis.password). Where a password is set twice the key wins, so the URL's is a decoy: it must
 * not show either.
 */
describe('secrets never logged', { timeout: 150_000 }, () => {
  const redisUser = `himari_secrets_${randomBytes(3).toString('hex')}`;
  const secrets = { redis: secret(), redisUrlDecoy: secret(), postgresUrlDecoy: secret(), kafka: '', postgres: '' };
  let env: Record<string, string> = {};
  let config: ReturnType<typeof testConfig>['config'] | null = null;
  const processes: ProcessorProcess[] = [];
  const admin = redisClient(testConfig().config);

  before(async () => {
    const kafka = secureKafka('sasl_ssl');
    const pg = tlsPostgres();
    secrets.kafka = kafka.HIMARI_KAFKA_SASL_PASSWORD!;
    const pgUrl = new URL(pg.HIMARI_POSTGRES_URL!);
    secrets.postgres = decodeURIComponent(pgUrl.password);
    pgUrl.password = secrets.postgresUrlDecoy;
    const base = testConfig();
    await admin.call('ACL', 'SETUSER', redisUser, 'on', `>${secrets.redis}`, `~${base.config.redis.keyPrefix}*`, '+@all');
    ({ env, config } = testConfig({
      ...kafka, ...pg,
      HIMARI_POSTGRES_URL: pgUrl.toString(),
      HIMARI_POSTGRES_PASSWORD: secrets.postgres,
      HIMARI_REDIS_URL: `redis://${redisUser}:${secrets.redisUrlDecoy}@127.0.0.1:6379/0`,
      HIMARI_REDIS_PASSWORD: secrets.redis,
      HIMARI_REDIS_KEY_PREFIX: base.config.redis.keyPrefix,
      HIMARI_LOG_LEVEL: 'trace',
    }));
  });
  after(async () => {
    for (const p of processes) await p.stop();
    if (config !== null) await cleanup(config).catch(() => {});
    await admin.call('ACL', 'DELUSER', redisUser);
    admin.disconnect();
  });

  function assertNoSecret(output: string): void {
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(value.length >= 16, `${name} is set`);
      assert.ok(!output.includes(value), `the ${name} secret appears in the output`);
    }
  }

  it('a run at trace level (start, traffic, dead letters, SIGTERM) shows no secret, and the start-up line shows them redacted', async () => {
    const stats = await produce(config!.kafka, {
      topic: config!.kafka.topics[0]!, symbols: 6, venues: ['binance', 'okx'], rate: 0, durationS: 0, count: 500, bad: 2, seed: 9,
    });
    const processor = new ProcessorProcess(env);
    processes.push(processor);
    await processor.ready(60_000);
    await drainAndStop(processor, config!, 60_000);
    // Every secret was in use: the run read Kafka over SASL, and wrote Redis and PostgreSQL.
    assert.ok((await admin.keys(`${config!.redis.keyPrefix}latest:*`)).length > 0, 'the processor wrote Redis as the ACL user');
    assert.ok(stats.produced > 0);

    const output = processor.stdout + processor.stderr;
    assertNoSecret(output);
    const starting = processor.stdout.split('\n').filter((l) => l.includes('"msg":"starting"')).map((l) => JSON.parse(l) as { config: Record<string, Record<string, unknown>> });
    assert.equal(starting.length, 1, 'one start-up line with the effective config');
    const shown = starting[0]!.config;
    assert.equal(shown.log!.level, 'trace');
    assert.equal(shown.kafka!.saslPassword, '[redacted]');
    assert.equal(shown.redis!.password, '[redacted]');
    assert.equal(shown.postgres!.password, '[redacted]');
    assert.match(String(shown.redis!.url), new RegExp(`^redis://${redisUser}:redacted@`));
    assert.match(String(shown.postgres!.url), /^postgres:\/\/postgres:redacted@/);
  });

  it('a failed start-up (refused PostgreSQL password) names the problem, not the password', async () => {
    const { HIMARI_POSTGRES_PASSWORD: _real, ...decoyOnly } = env;
    const processor = new ProcessorProcess(decoyOnly);
    processes.push(processor);
    const exit = await processor.exited;
    assert.equal(exit.code, 1, processor.stderr);
    assert.match(processor.stderr, /start failed: dependencies not ready within 10 s, nothing was created: PostgreSQL at 127\.0\.0\.1:\d+ \(sslMode verify-full\): password authentication failed for user "postgres"/);
    assertNoSecret(processor.stdout + processor.stderr);
  });
});
