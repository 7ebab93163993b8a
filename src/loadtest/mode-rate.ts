import { wallClockMs } from '../obs/clock.js';
import { OpenLoopGenerator } from './generator.js';
import type { LatencySummaryMs, LoadtestResult } from './result.js';
import { waitCaughtUp, type RunContext } from './run-context.js';
import { Sampler } from './sampler.js';
import { RateSchedule, withWarmup } from './schedule.js';
import { assemble, latencyRows, latencyTotals, stopAndSummarize, summarizeMs, writeResult } from './summary.js';

/**
 * Rate mode: an open-loop generator at the scheduled rates (after a warm-up that is reported
 * apart), then the wait until the group committed everything; latencies per second and in total.
 * `transit` is the Kafka-alone phase measured before the processor started, if any.
 */
export async function runRate(ctx: RunContext, transit: LoadtestResult['transit']): Promise<LoadtestResult> {
  const { o, child, atReady, probe, poller, producer, genOptions } = ctx;
  const w = o.warmupS;
  const schedule = new RateSchedule(withWarmup(o.steps, w), w + o.durationS);
  // Messages due before the measured window: k < ∫rate over the warm-up.
  const warmupMessages = Math.ceil(schedule.expectedAt(w) - 1e-9);
  const gen = new OpenLoopGenerator(producer, { ...genOptions, rate: 0, durationS: schedule.durationS, schedule });
  // t = 0 is the measured window's start: the warm-up's seconds are negative in every series.
  const t0 = wallClockMs() + w * 1000;
  const sampler = new Sampler(child, probe, poller, t0, o.log, o.progress);
  sampler.sent = () => gen.stats.produced;
  await sampler.tick();
  sampler.start();
  if (w > 0) o.log(`warming up: ${warmupMessages} events over ${w} s at ${o.steps[0]!.rate}/s, not measured`);
  o.log(`sending ${schedule.total - warmupMessages} events over ${o.durationS} s (${o.steps.map((s) => `${s.fromS}s:${s.rate}/s`).join(', ')})`);
  let atWindow = atReady;
  const windowTimer = w > 0 ? setTimeout(() => { atWindow = child.sample() ?? atReady; }, w * 1000) : null;
  const stats = await gen.run().finally(() => { if (windowTimer !== null) clearTimeout(windowTimer); });
  const { high } = await probe.ends();
  const caughtUp = await waitCaughtUp(probe, high, 120_000);
  if (!caughtUp) o.log('the processor did not catch up within 120 s after the generator stopped');
  const summary = await stopAndSummarize(o, child, sampler, poller, atWindow, undefined, warmupMessages);
  // The window's totals start at its first whole second: events confirmed before it count as warm-up.
  const fromSec = w > 0 ? Math.ceil(t0 / 1000) : -Infinity;
  const result = assemble(ctx, summary, stats, gen, sampler.rows, latencyRows(poller, t0), latencyTotals(poller, fromSec));
  if (w > 0) {
    const latency: Record<string, LatencySummaryMs> = {};
    for (const s of poller.stages) latency[s] = summarizeMs(poller.merged(s, -Infinity, fromSec));
    result.warmup = { seconds: w, messages: warmupMessages, latency };
  }
  if (transit !== undefined) result.transit = transit;
  return writeResult(o, result);
}
