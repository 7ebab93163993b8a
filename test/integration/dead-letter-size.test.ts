import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import Kafka from 'node-rdkafka';
import { encodeEvent } from '../../src/codec/encode.js';
import type { MarketEvent } from '../../src/codec/event.js';
import { describeTopicConfig } from '../../src/source/kafka-topic-config.js';
import { cleanup, committedOffsets, produceRaw, readTopic, testConfig, waitUntil, withPg } from '../helpers/services.js';
import { freePort } from '../helpers/outage.js';
import { ProcessorProcess, drainAndStop } from '../helpers/processor.js';

const DLQ_LIMIT = 20_000;
const INPUT_LIMIT = 3_000_000;

function createTopic(brokers: string, topic: string, partitions: number, maxMessageBytes: number): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'metadata.broker.list': brokers });
  return new Promise<void>((resolve, reject) => admin.createTopic(
    { topic, num_partitions: partitions, replication_factor: 1, config: { 'max.message.bytes': String(maxMessageBytes) } }, 15_000,
    (err) => { admin.disconnect(); if (err) reject(err); else resolve(); }));
}

function trade(i: number): MarketEvent {
  const ts = 1_790_000_000_000_000 + i * 1000;
  return { v: 1, type: 'trade', venue: 'binance', symbol: 'BTC-USDT', ts, recvTs: ts + 100, id: String(i), price: 100 + (i % 7), size: 1, side: 'buy' };
}

describe('DescribeConfigs against the real broker', { timeout: 60_000 }, () => {
  const { config } = testConfig();
  after(async () => { await cleanup(config); });
  it('reads a topic\'s max.message.bytes; an unknown topic is an error naming it', async () => {
    await createTopic(config.kafka.brokers, config.kafka.deadLetterTopic, 1, 12_345);
    const entries = await describeTopicConfig(config.kafka, config.kafka.deadLetterTopic, ['max.message.bytes', 'cleanup.policy']);
    assert.equal(entries.get('max.message.bytes'), '12345');
    assert.equal(entries.get('cleanup.policy'), 'delete');
    await assert.rejects(describeTopicConfig({ ...config.kafka, brokers: `127.0.0.1:1,${config.kafka.brokers}` }, `${config.kafka.deadLetterTopic}.missing`, ['max.message.bytes']),
      /DescribeConfigs of topic .*missing.*broker error 3/);
  });
});

describe('dead letters larger than the dead-letter topic takes (real broker)', { timeout: 180_000 }, () => {
  const { config, env } = testConfig({ HIMARI_KAFKA_TOPIC_PARTITIONS: '2', HIMARI_LOG_LEVEL: 'info' });
  const processes: ProcessorProcess[] = [];
  after(async () => {
    for (const p of processes) await p.stop();
    await cleanup(config);
  });

  it('are stored truncated with their size and hash, and the partition commits past them', async () => {
    // The input topic takes 3 MB messages; the dead-letter topic only 20 kB (its own limit, not
    // the producer's): the broker's refusal is what the processor meets.
    await createTopic(config.kafka.brokers, config.kafka.topics[0]!, 2, INPUT_LIMIT);
    await createTopic(config.kafka.brokers, config.kafka.deadLetterTopic, 2, DLQ_LIMIT);
    const poison = [
      { key: 'BTC-USDT', value: Buffer.alloc(60_000, 0xc1) }, // undecodable, larger than the DLQ takes
      { key: 'BTC-USDT', value: Buffer.alloc(1_500_000, 0x20) }, // over kafka.maxMessageBytes (1 MiB), never decoded
      { key: 'BTC-USDT', value: Buffer.from([0xc1, 0xc1]) }, // small: stored whole
    ];
    const valid = Array.from({ length: 300 }, (_, i) => ({ key: 'BTC-USDT', value: encodeEvent(trade(i)) }));
    await produceRaw(config, config.kafka.topics[0]!, [...valid.slice(0, 100), poison[0]!, ...valid.slice(100, 200), poison[1]!, poison[2]!, ...valid.slice(200)],
      { 'message.max.bytes': INPUT_LIMIT });

    const p = new ProcessorProcess(env);
    processes.push(p);
    await p.ready();
    await drainAndStop(p, config, 90_000);

    assert.match(p.stdout, /"topicMaxMessageBytes":20000,"maxMessageBytes":20000,"msg":"dead-letter topic limit read"/, 'the limit was read from the broker');
    const rows = await withPg(config, async (c) => (await c.query(`SELECT count(*)::int AS n FROM ${config.postgres.table}`)).rows[0].n);
    assert.equal(rows, 300);
    const dlq = await readTopic(config, config.kafka.deadLetterTopic, 4, 15_000);
    assert.equal(dlq.length, 3);
    const bySize = new Map(dlq.map((m) => [Number(m.headers['x-original-size'] ?? m.value.length), m]));
    for (const original of poison) {
      const m = bySize.get(original.value.length);
      assert.ok(m !== undefined, `no dead letter for the ${original.value.length}-byte message`);
      assert.ok(m.value.length < DLQ_LIMIT, 'what is stored fits the topic');
      if (original.value.length > DLQ_LIMIT) {
        assert.equal(m.headers['x-truncated'], 'true');
        assert.equal(m.headers['x-original-sha256'], createHash('sha256').update(original.value).digest('hex'));
        assert.deepEqual(m.value, original.value.subarray(0, m.value.length), 'the kept part is the message\'s head');
      } else {
        assert.equal(m.headers['x-truncated'], undefined);
        assert.deepEqual(m.value, original.value);
      }
    }
    assert.equal(bySize.get(1_500_000)!.headers['x-error-code'], 'MESSAGE_TOO_LARGE');
    assert.equal(bySize.get(60_000)!.headers['x-error-code'], 'DECODE_FAILED');
  });
});

describe('a dead letter the broker refuses for good (real broker)', { timeout: 180_000 }, () => {
  const port = freePort();
  const setup = port.then((p) => testConfig({ HIMARI_KAFKA_TOPIC_PARTITIONS: '2', HIMARI_LOG_LEVEL: 'info', HIMARI_METRICS_PORT: String(p) }));
  const processes: ProcessorProcess[] = [];
  after(async () => {
    for (const p of processes) await p.stop();
    await cleanup((await setup).config);
  });

  it('stops its partition with the reason in the log, /readyz and a metric; the other partition goes on', async () => {
    const { config, env } = await setup;
    const metricsPort = await port;
    await createTopic(config.kafka.brokers, config.kafka.topics[0]!, 2, INPUT_LIMIT);
    // A compacted topic refuses records without a key (INVALID_RECORD): a refusal no retry heals.
    const admin = Kafka.AdminClient.create({ 'metadata.broker.list': config.kafka.brokers });
    await new Promise<void>((resolve, reject) => admin.createTopic(
      { topic: config.kafka.deadLetterTopic, num_partitions: 2, replication_factor: 1, config: { 'cleanup.policy': 'compact' } }, 15_000,
      (err) => { admin.disconnect(); if (err) reject(err); else resolve(); }));
    const valid = (i: number, partition: number) => ({ key: 'BTC-USDT', value: encodeEvent(trade(i)), partition });
    await produceRaw(config, config.kafka.topics[0]!, [
      ...Array.from({ length: 50 }, (_, i) => valid(i, 0)),
      { key: null, value: Buffer.from([0xc1, 0xc1]), partition: 0 }, // undecodable, no key
      ...Array.from({ length: 50 }, (_, i) => valid(50 + i, 0)),
      ...Array.from({ length: 100 }, (_, i) => valid(1000 + i, 1)),
    ]);
    const p = new ProcessorProcess(env);
    processes.push(p);
    await p.ready();
    await waitUntil('partition 0 to stop', async () => p.stdout.includes('partition stopped: its dead letter could not be stored'), 90_000, 100);
    const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /partition .*\[0\] stopped: dead letter of offset 50 could not be stored/);
    assert.match(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(), /^himari_partitions_stopped 1$/m);
    // Partition 1 commits to its end; partition 0 stays before the message it could not store.
    await waitUntil('partition 1 committed', async () => (await committedOffsets(config)).get(1) === 100, 60_000);
    assert.ok(((await committedOffsets(config)).get(0) ?? -1) <= 50, 'partition 0 never commits past offset 50');
    p.kill('SIGTERM');
    const exit = await p.exited;
    assert.equal(exit.code, 3, `${JSON.stringify(exit)}: the stopped partition's batch is left for a replay`);
  });
});
