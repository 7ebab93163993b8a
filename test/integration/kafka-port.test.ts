import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MessageChannel, Worker } from 'node:worker_threads';
import pino from 'pino';
import { openLocalKafkaClients } from '../../src/kafka/kafka-clients.js';
import { serveKafkaClients } from '../../src/kafka/serve-clients.js';
import type { PortConsumerReport } from '../helpers/port-consumer-worker.js';
import { cleanup, committedOffsets, createTopics, endOffsets, produceRaw, testConfig } from '../helpers/services.js';

const WORKER = new URL('../helpers/port-consumer-worker.js', import.meta.url);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * node-rdkafka runs its callbacks on the process's main loop, so a consumer in a worker thread
 * crashes the process at its first rebalance. The pipeline in a worker gets its Kafka clients
 * over a port instead: this runs that shape, the clients served on the test's main thread and
 * the consuming end in a real worker thread.
 */
describe('Kafka clients served to a worker thread over a MessagePort (real broker)', { timeout: 120_000 }, () => {
  const { config } = testConfig();
  const perPartition = 250;

  before(async () => {
    await createTopics(config);
    await produceRaw(config, config.kafka.topics[0]!, range(4 * perPartition).map((i) => ({ key: null, partition: i % 4, value: Buffer.from(`m${i}`) })));
  });
  after(async () => { await cleanup(config); });

  it('consumes every message in partition order, commits and leaves the group from the worker; rebalances and commits answered on the main thread', async () => {
    const log = pino({ level: 'warn' });
    const { port1, port2 } = new MessageChannel();
    const served = serveKafkaClients(port1, await openLocalKafkaClients(config.kafka, log), log);
    const worker = new Worker(WORKER, { workerData: { port: port2, expect: 4 * perPartition, topic: config.kafka.topics[0] }, transferList: [port2] });
    const report = await new Promise<PortConsumerReport>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker exited (${code}) before reporting`)));
    });
    await served;
    assert.equal(report.assigned, 4, 'the rebalance callback ran: four partitions assigned');
    for (const p of range(4)) assert.deepEqual(report.offsets[p], range(perPartition), `partition ${p} in offset order, each once`);
    assert.equal(report.brokerAnswers, true);
    const ends = await endOffsets(config);
    const committed = await committedOffsets(config);
    for (const [p, end] of ends) assert.equal(committed.get(p), end, `partition ${p} committed to its end`);
    assert.ok(report.confirmed.length >= 4, 'the commit was confirmed through the port');
  });
});
