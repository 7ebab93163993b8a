import type Kafka from 'node-rdkafka';
import { ErrorCode, HimariError } from '../errors.js';
import { wallClockMs } from '../obs/clock.js';
import type { LatencyReport } from '../obs/latency-report.js';
import { OpenLoopGenerator, type ProduceStats } from './generator.js';
import { measureReadCeiling } from './kafka-probe.js';
import type { LoadtestOptions, LoadtestResult } from './result.js';
import { waitCaughtUp, type GeneratorBase, type RunContext } from './run-context.js';
import { Sampler } from './sampler.js';
import { busyMs, idleShare, sampleMachineCpu, ticksPerSecond } from './proc-stats.js';
import { sampleServiceCpu, serviceUsPerEvent } from './service-cpu.js';
import { assemble, latencyRows, latencyTotals, stopAndSummarize, writeResult } from './summary.js';

// Drain mode: a backlog of `count` events first, then how fast the processor consumes it,
// compared with a bare consumer's read of the same topic (the Kafka read ceiling).

export interface Backlog {
  stats: ProduceStats;
  ms: number;
}

/** Produces the backlog before the processor starts, so that the generator does not compete with it for the cores. */
export async function produceBacklog(o: LoadtestOptions, producer: Kafka.Producer, genOptions: GeneratorBase): Promise<Backlog> {
  o.log(`producing a backlog of ${o.count} events${o.stampBacklog ? ', each stamped with its send time' : ''}`);
  const t = performance.now();
  const backlog = new OpenLoopGenerator(producer, { ...genOptions, rate: 0, durationS: 0, count: o.count, stamp: o.stampBacklog });
  const progress = o.progress;
  const ticker = progress === undefined ? null : setInterval(() => progress(`loadtest: backlog ${backlog.stats.produced} of ${o.count} events produced`), 250);
  const stats = await backlog.run().finally(() => { if (ticker !== null) clearInterval(ticker); });
  const pre = { stats, ms: performance.now() - t };
  if (stats.delivered !== o.count) throw new HimariError(ErrorCode.DELIVERY_FAILED, `backlog: delivered ${stats.delivered} of ${o.count}`);
  o.log(`backlog produced in ${(pre.ms / 1000).toFixed(1)} s (${Math.round((o.count * 1000) / pre.ms)}/s)`);
  return pre;
}

/** Messages a processor consumed since it started, from its `/debug/latency` (0 when it does not answer). */
async function consumedAt(metricsPort: number): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/debug/latency?after=0`);
    return ((await res.json()) as LatencyReport).consumed;
  } catch {
    return 0;
  }
}

export async function runDrain(ctx: RunContext, pre: Backlog): Promise<LoadtestResult> {
  const { config, o, names, child, others, atReady, probe, poller } = ctx;
  const t0 = wallClockMs();
  const othersAtStart = others.map((p) => p.child.sample());
  const { high } = await probe.ends();
  const sampler = new Sampler(child, probe, poller, t0, o.log, o.progress);
  await sampler.tick();
  sampler.start();
  const readyAt = performance.now();
  const machineAtStart = sampleMachineCpu();
  const servicesAtStart = sampleServiceCpu(ticksPerSecond());
  const done = await waitCaughtUp(probe, high, 1_800_000);
  const drainMs = performance.now() - readyAt;
  const machineAtEnd = sampleMachineCpu();
  const servicesAtEnd = sampleServiceCpu(ticksPerSecond());
  const atEnd = child.sample();
  const othersAtEnd = others.map((p) => p.child.sample());
  const consumedBy = await Promise.all([o.metricsPort, ...others.map((p) => p.metricsPort)].map(consumedAt));
  await sampler.stop();
  if (!done) throw new HimariError(ErrorCode.TIMEOUT, `the processor did not drain ${o.count} events within 30 minutes`);
  const summary = await stopAndSummarize(o, child, sampler, poller, atReady, atEnd);
  const eventsPerSec = (o.count * 1000) / drainMs;
  const otherCpuMs = others.map((_, i) => Math.max(0, (othersAtEnd[i]?.cpuMs ?? 0) - (othersAtStart[i]?.cpuMs ?? 0)));
  const cpuMs = summary.processor.cpuMs + otherCpuMs.reduce((a, b) => a + b, 0);
  o.log(`drained ${o.count} events in ${(drainMs / 1000).toFixed(1)} s (${Math.round(eventsPerSec)}/s); measuring the bare Kafka read ceiling`);
  const ceiling = await measureReadCeiling({ ...config.kafka, topics: [names.topic] }, names.topic, high);
  const result = assemble(ctx, summary, pre.stats, null, sampler.rows, latencyRows(poller, t0), latencyTotals(poller));
  result.drain = {
    count: o.count,
    produceMs: Math.round(pre.ms),
    produceRate: Math.round((o.count * 1000) / pre.ms),
    drainMs: Math.round(drainMs),
    eventsPerSec: Math.round(eventsPerSec),
    cpuUsPerEvent: Math.round((cpuMs * 1000 * 10) / o.count) / 10,
    peakRssBytes: summary.processor.peakRssBytes,
    ceiling,
    machineIdle: machineAtStart === null || machineAtEnd === null ? null : Math.round(idleShare(machineAtStart, machineAtEnd) * 1000) / 1000,
    machineUsPerEvent: machineAtStart === null || machineAtEnd === null ? null : Math.round((busyMs(machineAtStart, machineAtEnd) * 1000 * 10) / o.count) / 10,
    services: serviceUsPerEvent(servicesAtStart, servicesAtEnd, o.count),
    ratioToCeiling: ceiling.eventsPerSec > 0 ? Math.round((eventsPerSec / ((ceiling.messages * 1000) / ceiling.totalMs)) * 1000) / 1000 : 0,
    ...(others.length === 0 ? {} : {
      processes: [summary.processor.cpuMs, ...otherCpuMs].map((ms, i) => ({
        pid: i === 0 ? child.pid : others[i - 1]!.child.pid, consumed: consumedBy[i]!, cpuMs: Math.round(ms),
        cpuUsPerEvent: consumedBy[i]! > 0 ? Math.round((ms * 1000 * 10) / consumedBy[i]!) / 10 : 0,
      })),
    }),
  };
  return writeResult(o, result);
}
