import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Kafka from 'node-rdkafka';
import pino from 'pino';
import type { ConsumedBatch } from '../../src/source/consumed-batch.js';
import { KafkaSource, type SourceHandlers } from '../../src/source/kafka-source.js';
import type { CommitPoint } from '../../src/source/offset-tracker.js';
import { cleanup, committedOffsets, createTopics, produceRaw, testConfig, waitUntil } from '../helpers/services.js';

/** What the source hands over, as the pipeline would receive it. */
class Recorder implements SourceHandlers {
  readonly messages: Array<{ partition: number; offset: number }> = [];
  readonly owned = new Set<number>();
  readonly revoked: number[][] = [];
  readonly confirmed: CommitPoint[] = [];
  readonly failed: CommitPoint[] = [];
  /** onRevoked resolves only once this does: the pipeline draining the revoked partitions. */
  drained: Promise<void> = Promise.resolve();

  onMessages(batch: ConsumedBatch): void {
    for (let i = 0; i < batch.count; i++) this.messages.push({ partition: batch.partitions[i]!, offset: batch.offsets[i]! });
  }
  onAssigned(partitions: Kafka.TopicPartition[]): void { for (const p of partitions) this.owned.add(p.partition); }
  async onRevoked(partitions: Kafka.TopicPartition[]): Promise<void> {
    this.revoked.push(partitions.map((p) => p.partition).sort());
    await this.drained;
    for (const p of partitions) this.owned.delete(p.partition);
  }
  onCommitFailed(points: CommitPoint[]): void { this.failed.push(...points); }
  onCommitConfirmed(points: CommitPoint[]): void { this.confirmed.push(...points); }

  offsetsOf(partition: number): number[] {
    return this.messages.filter((m) => m.partition === partition).map((m) => m.offset);
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const sorted = (s: Iterable<number>) => [...s].sort((a, b) => a - b);
/** A committed offset, or null where the group has none (the broker's answer has no valid offset then). */
const committedOrNone = (o: number | undefined) => (o !== undefined && o >= 0 ? o : null);

describe('Kafka source (real broker)', { timeout: 120_000 }, () => {
  const { config } = testConfig({ HIMARI_KAFKA_SESSION_TIMEOUT_MS: '6000' });
  const topic = config.kafka.topics[0]!;
  const logLines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => { logLines.push(line); } });
  const opened: KafkaSource[] = [];
  const a = new Recorder();
  let source: KafkaSource;

  /** `perPartition` messages on each of the four partitions, acknowledged by the broker. */
  const produce = (perPartition: number, partitions = [0, 1, 2, 3]) => produceRaw(config, topic,
    partitions.flatMap((partition) => range(0, perPartition).map((i) => ({ key: `k${i}`, value: Buffer.from(`p${partition}-${i}`), partition }))));

  async function started(recorder: Recorder): Promise<KafkaSource> {
    const s = new KafkaSource(config.kafka, log, recorder);
    opened.push(s);
    await s.connect();
    s.start();
    return s;
  }

  before(async () => {
    await createTopics(config);
    source = await started(a);
  });
  after(async () => {
    for (const s of opened) await s.disconnect().catch(() => {});
    await cleanup(config);
  });

  it('is assigned every partition, hands over each message once in partition order, and commits only what it is told', async () => {
    await waitUntil('the four partitions to be assigned', async () => source.assigned.length === 4, 30_000, 50);
    assert.deepEqual(sorted(a.owned), [0, 1, 2, 3]);
    await produce(10);
    await waitUntil('40 messages', async () => a.messages.length >= 40, 30_000, 50);
    for (const p of [0, 1, 2, 3]) assert.deepEqual(a.offsetsOf(p), range(0, 10), `partition ${p}`);
    assert.equal(source.highWatermark(topic, 0), 10);

    // Auto commit is off: nothing is committed until the pipeline says so, and then only that.
    assert.deepEqual([...(await committedOffsets(config)).values()].map(committedOrNone), [null, null, null, null], 'nothing committed yet');
    source.commit([{ topic, partition: 0, offset: 5 }, { topic, partition: 2, offset: 10 }]);
    await waitUntil('the commit to be confirmed', async () => a.confirmed.length >= 2, 30_000, 50);
    assert.deepEqual(a.confirmed.map((p) => [p.partition, p.offset]).sort(), [[0, 5], [2, 10]]);
    assert.deepEqual(a.failed, []);
    const committed = await committedOffsets(config);
    assert.deepEqual([0, 1, 2, 3].map((p) => committedOrNone(committed.get(p))), [5, null, 10, null]);
  });

  it('while paused hands over nothing that librdkafka already fetched; resume hands it over', async () => {
    source.pause();
    assert.equal(source.paused, true);
    await produce(5);
    // The fetcher runs on while the loop stops consuming: once it has seen the new end offsets,
    // the messages sit in librdkafka's queue, and only the source's pause keeps them there.
    await waitUntil('librdkafka to fetch the new messages', async () => [0, 1, 2, 3].every((p) => source.highWatermark(topic, p) === 15), 30_000, 50);
    // Pausing does not cancel the consume call in flight: an idle source's takes one message.
    assert.ok(a.messages.length <= 41, `${a.messages.length - 40} of the 20 new messages handed over while paused`);
    source.resume();
    assert.equal(source.paused, false);
    await waitUntil('the 20 new messages', async () => a.messages.length >= 60, 30_000, 50);
    for (const p of [0, 1, 2, 3]) assert.deepEqual(a.offsetsOf(p), range(0, 15), `partition ${p}`);
  });

  it('a long pause pauses the partitions in librdkafka (the group membership is kept), and resume resumes them', async () => {
    source.pause();
    await waitUntil('the hard pause', async () => logLines.some((l) => l.includes('partitions paused')), 30_000, 100);
    await produce(5);
    source.resume();
    await waitUntil('partitions resumed', async () => logLines.some((l) => l.includes('partitions resumed')), 30_000, 50);
    await waitUntil('the 20 messages produced while paused', async () => a.messages.length >= 80, 30_000, 50);
    for (const p of [0, 1, 2, 3]) assert.deepEqual(a.offsetsOf(p), range(0, 20), `partition ${p}`);
    assert.equal(source.assigned.length, 4, 'still a member with every partition');
  });

  it('a second member: partitions are unassigned only after the revoked ones drained, then move; and come back when it leaves', async () => {
    let drain!: () => void;
    a.drained = new Promise((resolve) => { drain = resolve; });
    const b = new Recorder();
    const second = await started(b);
    await waitUntil('a revocation on the first member', async () => a.revoked.length > 0, 60_000, 50);
    const revoked = a.revoked[0]!;
    assert.ok(revoked.length > 0 && revoked.length < 4, `cooperative: some partitions move, not all (${revoked})`);
    assert.deepEqual(sorted(source.assigned.map((p) => p.partition)), [0, 1, 2, 3].filter((p) => !revoked.includes(p)), 'the source stops taking them at once');
    // Until the pipeline says they drained, the revoked partitions are still held: nobody else has them.
    const unassigned = () => logLines.filter((l) => l.includes('revoked partitions unassigned'));
    assert.deepEqual(unassigned(), []);
    assert.equal(b.owned.size, 0);
    drain();
    await waitUntil('the unassign after the drain', async () => unassigned().length > 0, 30_000, 20);
    assert.equal(JSON.parse(unassigned()[0]!).drained, true);
    await waitUntil('the second member to get the revoked partitions', async () => b.owned.size === revoked.length, 60_000, 50);
    assert.deepEqual(sorted(b.owned), revoked);
    assert.deepEqual(sorted([...a.owned, ...b.owned]), [0, 1, 2, 3], 'each partition has one owner');

    // Each member takes what is new on its own partitions, from the last commit (none: the start).
    await produce(1);
    await waitUntil('the new messages at their owners', async () =>
      revoked.every((p) => b.offsetsOf(p).includes(20)) && [...a.owned].every((p) => a.offsetsOf(p).includes(20)), 30_000, 50);
    for (const p of revoked) assert.equal(b.offsetsOf(p)[0], p === 0 ? 5 : p === 2 ? 10 : 0, `partition ${p} starts at its committed offset`);

    await second.disconnect();
    await waitUntil('the partitions to come back', async () => source.assigned.length === 4, 60_000, 50);
    assert.deepEqual(sorted(a.owned), [0, 1, 2, 3]);
  });

  it('the final commit after stop waits for the broker\'s answer; a disconnected source commits nothing', async () => {
    assert.equal(await source.brokerAnswers(10_000), true);
    await source.stop();
    const points = [0, 1, 2, 3].map((partition) => ({ topic, partition, offset: 21 }));
    assert.equal(await source.commitAndWait(points, 30_000), true);
    const committed = await committedOffsets(config);
    assert.deepEqual([0, 1, 2, 3].map((p) => committed.get(p)), [21, 21, 21, 21]);
    await source.disconnect();
    assert.equal(await source.brokerAnswers(1_000), false);
    assert.equal(await source.commitAndWait([{ topic, partition: 0, offset: 22 }], 1_000), false);
    assert.equal((await committedOffsets(config)).get(0), 21);
  });
});
