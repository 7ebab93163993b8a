import { loadavg } from 'node:os';
import type { Config } from '../config/schema.js';
import { ensureDatabase } from '../db/migrate.js';
import { connectProducer, createProducer } from '../kafka/clients.js';
import { ensureTopics } from '../source/kafka-admin.js';
import { GroupLagProbe } from './kafka-probe.js';
import { LatencyPoller } from './latency-poller.js';
import { produceBacklog, runDrain, type Backlog } from './mode-drain.js';
import { runFindMax } from './mode-find-max.js';
import { runRate } from './mode-rate.js';
import { ProcessorChild } from './processor-child.js';
import type { LoadtestOptions, LoadtestResult } from './result.js';
import { childEnv, cleanupRun, runNames, runPostgres, transitTopic } from './run-context.js';
import { measureTransit } from './transit.js';

export type { FindMaxStep, LatencyRow, LatencySummaryMs, LoadtestMode, LoadtestOptions, LoadtestResult, SampleRow } from './result.js';
export { summarizeMs } from './summary.js';

/**
 * One load test: the run's own topic, table and key prefix; what its mode produces before the
 * processor starts (drain: the backlog; rate: the Kafka-alone phase); the processor as a child
 * process; then the mode's measurement (`mode-*.ts`). Everything the run made is removed after
 * it unless `o.keep`.
 */
export async function runLoadtest(config: Readonly<Config>, o: LoadtestOptions): Promise<LoadtestResult> {
  const names = runNames();
  const startedAt = new Date().toISOString();
  const loadavgAtStart = loadavg();
  o.log(`loadtest ${o.mode}: topic ${names.topic}, table ${names.table} in ${new URL(o.postgresUrl).pathname.slice(1)}, Redis ${o.redisUrl} prefix ${names.redisPrefix}`);
  await ensureDatabase(runPostgres(config, o));
  const kafka = { ...config.kafka, topics: [names.topic], groupId: names.group };
  await ensureTopics(kafka, [names.topic, `${names.topic}.dlq`], o.partitions);
  const producer = createProducer(kafka, 'loadtest');
  await connectProducer(producer, kafka);
  const genOptions = { topic: names.topic, symbols: o.symbols, venues: o.venues, bad: 0, seed: o.seed };
  let child: ProcessorChild | null = null;
  const others: Array<{ child: ProcessorChild; metricsPort: number }> = [];
  const probe = new GroupLagProbe(kafka, names.topic, names.group);
  try {
    const backlog: Backlog | null = o.mode === 'drain' ? await produceBacklog(o, producer, genOptions) : null;
    const transit = o.mode === 'rate' && o.transitS > 0 && (o.steps[0]?.rate ?? 0) > 0
      ? await measureTransit(kafka, o, transitTopic(names), producer, genOptions) : undefined;
    await probe.connect();
    child = new ProcessorChild(childEnv(o, config, names));
    // The others of the group start beside it; its readiness opens the measured window once all are ready.
    for (let i = 1; i < o.processes; i++) {
      const metricsPort = o.metricsPort + i;
      others.push({ child: new ProcessorChild({ ...childEnv(o, config, names), HIMARI_METRICS_PORT: String(metricsPort) }), metricsPort });
    }
    await Promise.all([child.ready(), ...others.map((p) => p.child.ready())]);
    const atReady = child.sample();
    o.log(`processor ready after ${Math.round(child.readyAfterMs)} ms (it reports ${child.reportedStartupMs} ms)`);
    const poller = new LatencyPoller(`http://127.0.0.1:${o.metricsPort}/debug/latency`);
    await poller.poll();

    const ctx = { config, o, names, startedAt, loadavgAtStart, child, others, atReady, probe, poller, producer, genOptions };
    if (o.mode === 'drain') return await runDrain(ctx, backlog!);
    if (o.mode === 'find-max') return await runFindMax(ctx);
    return await runRate(ctx, transit);
  } finally {
    await Promise.all(others.map((p) => p.child.stop()));
    if (child !== null) await child.stop();
    await probe.close().catch(() => {});
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
    if (!o.keep) await cleanupRun(config, o, names);
  }
}
