import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { produce } from '../../src/loadtest/generator.js';
import { describeTopicConfig } from '../../src/source/kafka-topic-config.js';
import { ProcessorProcess } from '../helpers/processor.js';
import { secureKafka, type SecureListener } from '../helpers/secure-services.js';
import { cleanup, endOffsets, readTopic, testConfig, waitGroupCommitted, withPg } from '../helpers/services.js';

/**
 * The processor against the secured broker (scripts/kafka-secure.sh), which has no plaintext
 * listener: SASL_SSL with SCRAM-SHA-512, and SSL with a required client certificate. Every client
 * the processor builds (consumer, dead-letter producer, admin) must carry the security settings,
 * or it cannot reach the broker at all. Sinks are the plain local Redis and PostgreSQL.
 */
describe('Kafka over SASL_SSL and SSL', { timeout: 150_000 }, () => {
  const env: Partial<Record<SecureListener, Record<string, string>>> = {};
  const processes: ProcessorProcess[] = [];
  const used: Array<ReturnType<typeof testConfig>['config']> = [];
  before(() => {
    env.sasl_ssl = secureKafka('sasl_ssl');
    env.ssl = secureKafka('ssl');
  });
  after(async () => {
    for (const p of processes) await p.stop();
    for (const config of used) await cleanup(config).catch(() => {});
  });

  for (const listener of ['sasl_ssl', 'ssl'] as const) {
    it(`consumes and dead-letters over ${listener}`, async () => {
      const { config, env: processorEnv } = testConfig(env[listener]);
      used.push(config);
      // The generator itself goes through the secured listener too (produce -> kafkaClientConfig).
      const stats = await produce(config.kafka, {
        topic: config.kafka.topics[0]!, symbols: 6, venues: ['binance', 'okx'], rate: 0, durationS: 0, count: 600, bad: 3, seed: 11,
      });
      assert.equal(stats.failed, 0);
      assert.equal(stats.bad, 3);

      const processor = new ProcessorProcess(processorEnv);
      processes.push(processor);
      await processor.ready(60_000);
      await waitGroupCommitted(config, await endOffsets(config), 60_000);

      const rows = await withPg(config, async (c) => (await c.query(`SELECT count(*)::int AS n FROM ${config.postgres.table}`)).rows[0].n as number);
      assert.equal(rows, stats.produced, 'every valid event reached PostgreSQL');
      const dead = await readTopic(config, config.kafka.deadLetterTopic, stats.bad);
      assert.equal(dead.length, stats.bad, 'the poison messages are in the dead-letter topic');
      for (const m of dead) assert.equal(m.headers['x-source-topic'], config.kafka.topics[0]);
      // The dead-letter topic's limit is read over the same listener (the processor's own Kafka
      // protocol client, not librdkafka), and the processor did too (a failure to is logged at warn).
      const entries = await describeTopicConfig(config.kafka, config.kafka.deadLetterTopic, ['max.message.bytes']);
      assert.ok(Number(entries.get('max.message.bytes')) > 0, JSON.stringify([...entries]));
      assert.doesNotMatch(processor.stdout, /could not read the dead-letter topic/);

      processor.kill('SIGTERM');
      const exit = await processor.exited;
      assert.equal(exit.code, 0, processor.stderr);
    });
  }

  it('a wrong SASL password stops start-up at once with the broker\'s reason (exit 1)', async () => {
    const { config, env: processorEnv } = testConfig({ ...env.sasl_ssl, HIMARI_KAFKA_SASL_PASSWORD: 'not-the-password' });
    used.push(config); // migrate runs beside the Kafka check and may have made its table
    const processor = new ProcessorProcess(processorEnv);
    processes.push(processor);
    const exit = await processor.exited;
    assert.equal(exit.code, 1, `${JSON.stringify(exit)}\n${processor.stderr}`);
    assert.match(processor.stderr, /himari-l0: start failed: dependencies not ready within 10 s, nothing was created: Kafka at 127\.0\.0\.1:\d+ \(sasl_ssl\) refused the connection: .*SASL authentication error.*invalid credentials/);
    // One attempt, reported once: no retry loop behind the failure, and never "ready".
    assert.equal(processor.stderr.match(/start failed/g)?.length, 1, processor.stderr);
    assert.doesNotMatch(processor.stderr, /ready in/);
    assert.doesNotMatch(processor.stdout + processor.stderr, /not-the-password/);
    await assert.rejects(describeTopicConfig(config.kafka, config.kafka.deadLetterTopic, ['max.message.bytes']), /SASL authentication failed \(broker error 58/);
  });

  it('the SSL listener refuses a client without a certificate, and start-up says so (exit 1)', async () => {
    const { HIMARI_KAFKA_SSL_CERT_FILE: _cert, HIMARI_KAFKA_SSL_KEY_FILE: _key, ...withoutCert } = env.ssl!;
    const { config, env: processorEnv } = testConfig(withoutCert);
    used.push(config);
    const processor = new ProcessorProcess(processorEnv);
    processes.push(processor);
    const exit = await processor.exited;
    assert.equal(exit.code, 1, `${JSON.stringify(exit)}\n${processor.stderr}`);
    assert.match(processor.stderr, /start failed: dependencies not ready within 10 s, nothing was created: Kafka at 127\.0\.0\.1:\d+ \(ssl\) refused the connection: .*bad certificate/);
  });
});
