import { wallClockMs } from '../obs/clock.js';
import { LatencyHistogram } from '../obs/latency-histogram.js';
import { OpenLoopGenerator, type ProduceStats } from './generator.js';
import { DEFAULT_LAG_CRITERION, judgeLag, nextSearchRate } from './lag.js';
import type { FindMaxStep, LatencySummaryMs, LoadtestResult } from './result.js';
import { sleep, waitCaughtUp, type RunContext } from './run-context.js';
import { Sampler } from './sampler.js';
import { assemble, latencyRows, latencyTotals, stopAndSummarize, summarizeMs, writeResult } from './summary.js';

/**
 * Find-max mode: steps of `stepS` seconds at rates that double until one fails the lag criterion
 * (`lag.ts`), then bisect; the highest rate that passed is the result.
 */
export async function runFindMax(ctx: RunContext): Promise<LoadtestResult> {
  const { o, child, atReady, probe, poller, producer, genOptions } = ctx;
  const t0 = wallClockMs();
  const sampler = new Sampler(child, probe, poller, t0, o.log, o.progress);
  let sentBefore = 0;
  let current: OpenLoopGenerator | null = null;
  sampler.sent = () => sentBefore + (current?.stats.produced ?? 0);
  await sampler.tick();
  sampler.start();
  const steps: FindMaxStep[] = [];
  const total: ProduceStats = { produced: 0, bad: 0, delivered: 0, failed: 0, elapsedMs: 0 };
  const lateness = new LatencyHistogram();
  const c = DEFAULT_LAG_CRITERION;
  for (let i = 0; i < o.maxSteps; i++) {
    const rate = nextSearchRate(steps.map((s) => ({ rate: s.rate, passed: s.passed })), { startRate: o.startRate, maxRate: o.maxRate, minRate: 100, precision: 0.1 });
    if (rate === null) break;
    const cpuBefore = child.sample();
    const startMs = wallClockMs();
    current = new OpenLoopGenerator(producer, { ...genOptions, seed: o.seed + i, rate, durationS: o.stepS });
    o.log(`step ${i + 1}: ${rate}/s for ${o.stepS} s`);
    const stats = await current.run();
    const endMs = wallClockMs();
    const cpuAfter = child.sample();
    sentBefore += stats.produced;
    lateness.merge(current.lateness);
    current = null;
    for (const k of ['produced', 'delivered', 'failed', 'elapsedMs'] as const) total[k] += stats[k];
    // The last lag sample of the step is taken within a second of its end: wait for it.
    await sleep(1100);
    const lagSamples = sampler.lagSince(startMs, endMs + 1100);
    const verdict = judgeLag(lagSamples, rate, c);
    const achievedRate = Math.round((stats.produced * 1000) / Math.min(stats.elapsedMs, o.stepS * 1000 + 1000));
    const generatorOk = achievedRate >= 0.95 * rate;
    const passed = verdict.bounded && generatorOk;
    if (!generatorOk) verdict.reason += `; the generator sent only ${achievedRate}/s`;
    // Recovery: let the backlog drain before the next step, so each step starts from an empty queue.
    const recoverStart = performance.now();
    const { high } = await probe.ends();
    const recovered = await waitCaughtUp(probe, high - c.floor, 90_000, 250);
    const recoveryS = recovered ? Math.round((performance.now() - recoverStart) / 100) / 10 : null;
    await sleep(1100);
    const latency: Record<string, LatencySummaryMs> = {};
    for (const s of poller.stages) latency[s] = summarizeMs(poller.merged(s, Math.floor(startMs / 1000), Math.ceil(endMs / 1000)));
    steps.push({
      rate, achievedRate, startT: Math.round(startMs - t0) / 1000, endT: Math.round(endMs - t0) / 1000, passed, verdict, lagSamples, latency,
      cpuUsPerMessage: cpuBefore !== null && cpuAfter !== null && stats.produced > 0 ? Math.round(((cpuAfter.cpuMs - cpuBefore.cpuMs) * 1000 * 10) / stats.produced) / 10 : 0,
      recoveryS,
    });
    o.log(`  ${passed ? 'bounded' : 'NOT bounded'}: ${verdict.reason}; lag slope ${Math.round(verdict.slopePerS)}/s, final ${verdict.finalLag}; recovered in ${recoveryS ?? '>90'} s`);
  }
  const summary = await stopAndSummarize(o, child, sampler, poller, atReady);
  const result = assemble(ctx, summary, total, { lateness }, sampler.rows, latencyRows(poller, t0), latencyTotals(poller));
  const passedRates = steps.filter((s) => s.passed).map((s) => s.rate);
  result.findMax = {
    criterion: `a step of ${o.stepS} s at rate R passes when the generator sends at least 0.95 R and the consumer lag is bounded: `
      + `its least-squares slope over the second half of the step is at most ${c.maxGrowthShare} R per second, and the lag at the end is at most `
      + `max(${c.floor}, ${c.maxBacklogS} s × R). Rates double from ${o.startRate}/s until a step fails, then bisect to within 10 %.`,
    foundRate: passedRates.length === 0 ? 0 : Math.max(...passedRates),
    steps,
  };
  return writeResult(o, result);
}
