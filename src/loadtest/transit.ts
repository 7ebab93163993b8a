import type Kafka from 'node-rdkafka';
import type { Config } from '../config/schema.js';
import { ensureTopics } from '../source/kafka-admin.js';
import { OpenLoopGenerator } from './generator.js';
import { TransitProbe } from './kafka-probe.js';
import type { LoadtestOptions, LoadtestResult } from './result.js';
import type { GeneratorBase } from './run-context.js';
import { RateSchedule, withWarmup } from './schedule.js';
import { summarizeMs } from './summary.js';

/**
 * Kafka alone at the run's first rate: the generator and a bare consumer (TransitProbe) on a
 * topic of its own with the same partitions, before the processor starts. What the processor's
 * latencies are to be compared with on this machine.
 */
export async function measureTransit(kafka: Config['kafka'], o: LoadtestOptions, topic: string, producer: Kafka.Producer,
  genOptions: GeneratorBase): Promise<NonNullable<LoadtestResult['transit']>> {
  await ensureTopics(kafka, [topic], o.partitions);
  const rate = o.steps[0]!.rate;
  const schedule = new RateSchedule(withWarmup([{ fromS: 0, rate }], o.warmupS), o.warmupS + o.transitS);
  const gen = new OpenLoopGenerator(producer, { ...genOptions, topic, rate: 0, durationS: schedule.durationS, schedule });
  const probe = new TransitProbe(kafka, topic, () => gen.startedMs + o.warmupS * 1000);
  await probe.start();
  o.log(`Kafka transit alone (no processor): ${rate}/s for ${o.warmupS} s of warm-up and ${o.transitS} s measured, a bare consumer`);
  let sent = 0;
  try {
    sent = (await gen.run()).produced;
  } finally {
    await probe.stop(sent);
  }
  if (probe.received < sent) o.log(`transit: the bare consumer got ${probe.received} of ${sent} messages`);
  return {
    topic, rate, seconds: o.transitS, warmupS: o.warmupS, partitions: o.partitions, received: probe.received,
    latency: summarizeMs(probe.latency), generatorLateness: summarizeMs(gen.lateness),
  };
}
