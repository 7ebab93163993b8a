import Kafka from 'node-rdkafka';
import type { KafkaConfig } from '../config/schema.js';
import { isRetriable } from '../errors.js';
import { kafkaClientConfig } from '../kafka/client-config.js';
import { describeGroup, type GroupState } from '../kafka/group-state.js';
import { verifyKafkaAccess } from '../kafka/verify-access.js';
import { seconds, type CheckResult } from './check-result.js';
import { connectClient } from '../kafka/clients.js';

/** librdkafka's "no offset committed" (RD_KAFKA_OFFSET_INVALID). */
const OFFSET_INVALID = -1001;

/**
 * Kafka: the brokers answer and accept our credentials, the input, dead-letter and output topics
 * exist (with their partition counts), and the consumer group's state, committed offsets and lag.
 * Read-only: nothing is created and the group is not joined.
 */
export async function probeKafka(config: KafkaConfig, workerThreads: number, timeoutMs: number): Promise<CheckResult[]> {
  try {
    await verifyKafkaAccess(config, timeoutMs);
  } catch (err) {
    const why = (err as Error).message.replace(`Kafka at ${config.brokers}: `, '');
    if (!isRetriable(err)) {
      return [{
        name: 'kafka', status: 'fail', detail: why,
        fix: `check kafka.securityProtocol (${config.securityProtocol}), kafka.saslMechanism / saslUsername / saslPassword and the TLS files (kafka.sslCaFile, sslCertFile, sslKeyFile)`,
      }];
    }
    return [{
      name: 'kafka', status: 'fail', detail: `no broker answered at ${config.brokers} within ${seconds(timeoutMs)} (${why})`,
      fix: 'is the broker running? check kafka.brokers (host:port of its client listener) and the firewall',
    }];
  }
  const client = new Kafka.Producer(kafkaClientConfig(config, 'doctor'));
  try {
    await connectClient(client, config, timeoutMs);
    const meta = await new Promise<Kafka.Metadata>((resolve, reject) =>
      client.getMetadata({ timeout: timeoutMs }, (err, m) => (err ? reject(err) : resolve(m))));
    const results: CheckResult[] = [{
      name: 'kafka', status: 'ok',
      detail: `${meta.brokers.length} broker${meta.brokers.length === 1 ? '' : 's'} (${meta.brokers.map((b) => `${b.host}:${b.port}`).join(', ')}), ${config.securityProtocol}`,
    }];
    const partitions = new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
    for (const topic of config.topics) results.push(topicResult('topic', topic, partitions.get(topic), config, workerThreads));
    results.push(topicResult('dead-letter topic', config.deadLetterTopic, partitions.get(config.deadLetterTopic), config, 0));
    if (config.outputTopic !== undefined) results.push(topicResult('output topic', config.outputTopic, partitions.get(config.outputTopic), config, 0));
    results.push(await groupResult(config, client, config.topics.filter((t) => partitions.has(t)).map((t) => [t, partitions.get(t)!] as const), timeoutMs));
    return results;
  } catch (err) {
    return [{ name: 'kafka', status: 'fail', detail: `metadata from ${config.brokers}: ${(err as Error).message}`, fix: 'the broker answered the connection but not the metadata request: check its log' }];
  } finally {
    client.disconnect();
  }
}

function topicResult(what: string, topic: string, partitions: number | undefined, config: KafkaConfig, workerThreads: number): CheckResult {
  const name = `kafka ${what} ${topic}`;
  if (partitions === undefined) {
    return {
      name, status: 'warn', detail: 'does not exist',
      fix: `the processor creates it at start with kafka.topicPartitions (${config.topicPartitions}) partitions, if its user may; to choose: kafka-topics.sh --create --topic ${topic} --partitions N`,
    };
  }
  const detail = `${partitions} partition${partitions === 1 ? '' : 's'}`;
  // Each partition is pinned to one worker thread: fewer partitions leave threads idle.
  if (partitions < workerThreads) {
    return { name, status: 'warn', detail: `${detail}, fewer than the ${workerThreads} worker threads, so ${workerThreads - partitions} stay idle`, fix: `add partitions (kafka-topics.sh --alter --topic ${topic} --partitions ${workerThreads}) or lower workers.threads` };
  }
  return { name, status: 'ok', detail };
}

/**
 * The group's committed offsets against the partitions' high watermarks: the messages not yet
 * durably processed. `committed()` asks the group coordinator without joining the group.
 */
async function groupResult(config: KafkaConfig, client: Kafka.Producer, topics: ReadonlyArray<readonly [string, number]>, timeoutMs: number): Promise<CheckResult> {
  const name = `kafka group ${config.groupId}`;
  const state = describeGroup(config, config.groupId, timeoutMs).then((s) => s, (err: Error) => err);
  const parts = topics.flatMap(([topic, n]) => Array.from({ length: n }, (_, partition) => ({ topic, partition })));
  let committed: Kafka.TopicPartitionOffset[] = [];
  let marks: Array<{ low: number; high: number }> = [];
  let offsetsError = '';
  if (parts.length > 0) {
    const consumer = new Kafka.KafkaConsumer({ ...kafkaClientConfig(config, 'doctor'), 'group.id': config.groupId, 'enable.auto.commit': false }, {});
    try {
      await connectClient(consumer, config, timeoutMs);
      [committed, marks] = await Promise.all([
        new Promise<Kafka.TopicPartitionOffset[]>((resolve, reject) => consumer.committed(parts, timeoutMs, (err, tps) => (err ? reject(err) : resolve(tps)))),
        Promise.all(parts.map((p) => new Promise<{ low: number; high: number }>((resolve, reject) =>
          client.queryWatermarkOffsets(p.topic, p.partition, timeoutMs, (err, o) => (err ? reject(err) : resolve({ low: o.lowOffset, high: o.highOffset })))))),
      ]);
    } catch (err) {
      offsetsError = (err as Error).message;
    } finally {
      consumer.disconnect();
    }
  }
  const group = await state;
  const said: string[] = [];
  if (group instanceof Error) said.push(`state not readable (${group.message})`);
  // The coordinator calls a group it does not know Dead: nothing was ever committed under it.
  else said.push(group.state === 'Dead' ? 'unknown to the coordinator (never used)' : `${group.state}, ${describeMembers(group)}`);
  if (offsetsError !== '') {
    said.push(`offsets not readable (${offsetsError})`);
    return { name, status: 'warn', detail: said.join('; '), fix: 'the group\'s offsets need Describe on the group and the topics: check the broker\'s ACLs for kafka.groupId' };
  }
  let lag = 0;
  let worst = { at: '', lag: -1 };
  let withCommit = 0;
  const watermarks = new Map(parts.map((p, i) => [`${p.topic}[${p.partition}]`, marks[i]!]));
  for (const tp of committed) {
    const at = `${tp.topic}[${tp.partition}]`;
    const wm = watermarks.get(at);
    if (wm === undefined) continue;
    // No commit (node-rdkafka leaves the offset out; older versions: OFFSET_INVALID): the
    // processor starts such a partition from its beginning (auto.offset.reset earliest).
    const committedAt = typeof tp.offset !== 'number' || tp.offset === OFFSET_INVALID || tp.offset < 0 ? null : tp.offset;
    if (committedAt !== null) withCommit++;
    const l = Math.max(0, wm.high - (committedAt ?? wm.low));
    lag += l;
    if (l > worst.lag) worst = { at, lag: l };
  }
  if (parts.length === 0) said.push('no input topic yet');
  else said.push(`${withCommit === 0 ? 'nothing committed yet' : `committed on ${withCommit}/${parts.length} partitions`}, lag ${lag}${lag > 0 ? ` (worst ${worst.at}: ${worst.lag})` : ''}`);
  // Messages waiting and nobody consuming them: the processor is down.
  if (!(group instanceof Error) && group.members.length === 0 && lag > 0) {
    return { name, status: 'warn', detail: said.join('; '), fix: 'no processor is consuming while messages wait: start it (systemctl start himari-l0) and see its log' };
  }
  return { name, status: 'ok', detail: said.join('; ') };
}

function describeMembers(g: GroupState): string {
  if (g.members.length === 0) return 'no member (no processor connected)';
  const shown = g.members.slice(0, 3).map((m) => `${m.clientId}@${m.host}`).join(', ');
  return `${g.members.length} member${g.members.length === 1 ? '' : 's'} (${shown}${g.members.length > 3 ? ', ...' : ''})`;
}
