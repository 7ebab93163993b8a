import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import pino from 'pino';
import { PortKafkaClients } from '../../src/kafka/port-clients.js';
import type { CommitPoint } from '../../src/source/offset-tracker.js';

/**
 * A pipeline's end of the Kafka clients in a worker thread, as a processor off the main thread
 * has it: consumes `expect` messages through a `PortKafkaClients`, checks each partition's offsets
 * come in order, commits past the last, and reports what it saw and what the broker confirmed.
 * node-rdkafka runs at the other end, on the main thread (src/kafka/serve-clients.ts).
 */
export interface PortConsumerReport {
  offsets: Record<number, number[]>;
  confirmed: CommitPoint[];
  assigned: number;
  brokerAnswers: boolean;
}

const { port, expect } = workerData as { port: MessagePort; expect: number };
const kafka = new PortKafkaClients(port);
const offsets: Record<number, number[]> = {};
const confirmed: CommitPoint[] = [];
let seen = 0;
let done: () => void = () => {};
const allSeen = new Promise<void>((resolve) => { done = resolve; });
const source = kafka.source(pino({ level: 'warn' }).child({ stage: 'source' }), {
  onMessages: (batch) => {
    for (let i = 0; i < batch.count; i++) (offsets[batch.partitions[i]!] ??= []).push(batch.offsets[i]!);
    seen += batch.count;
    if (seen >= expect) done();
  },
  onAssigned: () => {},
  onRevoked: async () => {},
  onCommitConfirmed: (points) => { confirmed.push(...points); },
  onCommitFailed: () => {},
});
await source.connect();
source.start();
await allSeen;
const assigned = source.assigned.length;
await source.stop();
const points: CommitPoint[] = Object.entries(offsets).map(([p, o]) => ({ topic: (workerData as { topic: string }).topic, partition: Number(p), offset: o[o.length - 1]! + 1 }));
const committed = await source.commitAndWait(points, 10_000);
if (committed) confirmed.push(...points);
const brokerAnswers = await source.brokerAnswers(2_000);
await source.disconnect(true);
await kafka.close();
parentPort!.postMessage({ offsets, confirmed, assigned, brokerAnswers } satisfies PortConsumerReport);
