import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import Kafka from 'node-rdkafka';
import pino from 'pino';
import { sinkPolicy } from '../../src/config/schema.js';
import { ErrorCode } from '../../src/errors.js';
import { kafkaClientConfig } from '../../src/kafka/client-config.js';
import { Metrics } from '../../src/obs/metrics.js';
import { SinkCore } from '../../src/sinks/core.js';
import { LocalSinkProducer } from '../../src/kafka/local-clients.js';
import { DeadLetterDriver, PendingDeadLetter, type DeadLetter } from '../../src/sinks/dead-letter.js';
import { cleanup, readTopic, testConfig } from '../helpers/services.js';

function createTopic(config: ReturnType<typeof testConfig>['config'], topic: string, partitions: number, topicConfig: Record<string, string>): Promise<void> {
  const admin = Kafka.AdminClient.create(kafkaClientConfig(config.kafka, 'test-admin'));
  return new Promise<void>((resolve, reject) => admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1, config: topicConfig }, 15_000,
    (err) => { admin.disconnect(); if (err) reject(err); else resolve(); }));
}

function letter(sourcePartition: number, sourceOffset: number, key: string | null, value: Buffer): DeadLetter {
  return { code: ErrorCode.DECODE_FAILED, message: 'not msgpack', sourceTopic: 'src', sourcePartition, sourceOffset, key: key === null ? null : Buffer.from(key), value };
}

/** A ticket of one expected acknowledgement: records whether it came. */
function ticket(): { acked: boolean; ack(): void } {
  const t = { acked: false, ack() { t.acked = true; } };
  return t;
}

async function sample(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return value?.value ?? 0;
}

/**
 * The dead-letter topic's driver under a sink core, against the real broker: what the core's
 * retry loop, bisection and acknowledgements do with what the broker answers.
 */
describe('dead letters under the sink core (real broker)', { timeout: 120_000 }, () => {
  const { config } = testConfig({ HIMARI_KAFKA_DEAD_LETTER_MAX_ATTEMPTS: '3' });
  after(async () => { await cleanup(config); });

  it('a refused dead letter is retried by the core, then left unacknowledged (no delivery, no ack); its batch-mate is acknowledged and stored once', async () => {
    // A compacted topic refuses a record without a key (INVALID_RECORD): a refusal no retry heals.
    await createTopic(config, config.kafka.deadLetterTopic, 2, { 'cleanup.policy': 'compact' });
    const metrics = new Metrics({ defaultMetrics: false });
    const log = pino({ level: 'silent' });
    const driver = new DeadLetterDriver(config.kafka, log, new LocalSinkProducer(config.kafka, 'dlq', log));
    const refused: Array<{ offset: number; code: unknown }> = [];
    const core = new SinkCore(driver, {
      // One batch for both (no write at once when idle), and short retry delays.
      policy: { ...sinkPolicy(config.sink, driver.name), flushWhenIdle: false, batchMaxMs: 20, retry: { initialMs: 10, maxMs: 50 } },
      metrics, log,
      onPermanentFailure: (dl, err) => { refused.push({ offset: dl.firstOffset, code: (err as { code?: unknown }).code }); return false; },
    });
    await core.connect();
    try {
      // Source partitions 0 and 1 go to dead-letter partitions 0 and 1: separate record batches,
      // so the refusal of one is not its batch-mate's.
      const keyed = ticket();
      const keyless = ticket();
      assert.equal(core.push(new PendingDeadLetter(letter(0, 50, null, Buffer.from([0xc1])), keyless)), true);
      assert.equal(core.push(new PendingDeadLetter(letter(1, 7, 'BTC-USDT', Buffer.from([0xc1, 0xc1])), keyed)), true);
      await core.flush();

      assert.equal(keyed.acked, true, 'the stored dead letter is acknowledged');
      assert.equal(keyless.acked, false, 'the refused one never is: its offset must not be committed');
      assert.deepEqual(refused, [{ offset: 50, code: ErrorCode.DEAD_LETTER_FAILED }], 'refused for good after kafka.deadLetterMaxAttempts');
      const labels = { sink: 'dead-letter' };
      assert.equal(await sample(metrics, 'himari_sink_retries_total', labels), config.kafka.deadLetterMaxAttempts - 1, 'the core retried the refusals');
      assert.equal(await sample(metrics, 'himari_sink_errors_total', { ...labels, retriable: 'true' }), config.kafka.deadLetterMaxAttempts - 1);
      assert.ok(await sample(metrics, 'himari_sink_errors_total', { ...labels, retriable: 'false' }) >= 1, 'and isolated the last one');
      assert.equal(await sample(metrics, 'himari_sink_written_events_total', labels), 1);

      const stored = await readTopic(config, config.kafka.deadLetterTopic, 2, 5_000);
      assert.equal(stored.length, 1, 'the batch-mate was not produced again by the retries');
      assert.equal(stored[0]!.headers['x-source-offset'], '7');
      assert.equal(stored[0]!.partition, 1);
      assert.equal(core.healthy, true, 'a refusal is an answer: no outage left behind');
    } finally {
      await core.close();
    }
  });
});
