import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { wallClockMs } from '../obs/clock.js';
import { LatencyHistogram } from '../obs/latency-histogram.js';
import type { OpenLoopGenerator, ProduceStats } from './generator.js';
import type { LatencyPoller } from './latency-poller.js';
import { threadBreakdown, type ProcSample } from './proc-stats.js';
import type { ProcessorChild } from './processor-child.js';
import { loopDelayStats, sinkWriteStats, workerTaskStats, type LoopDelayStats, type SinkWriteStats, type WorkerTaskStats } from './prom-scrape.js';
import { renderReport } from './report.js';
import type { LatencyRow, LatencySummaryMs, LoadtestOptions, LoadtestResult, SampleRow } from './result.js';
import { sleep, type RunContext } from './run-context.js';
import type { Sampler } from './sampler.js';

// The end of every mode: stop the processor, sum up what it did, assemble the result and write
// it (JSON and HTML).

const PERCENTILES = [0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999, 1];

export function summarizeMs(h: LatencyHistogram): LatencySummaryMs {
  const s = h.summary();
  const ms = (us: number) => Math.round(us) / 1000;
  return { count: s.count, p50: ms(s.p50), p90: ms(s.p90), p99: ms(s.p99), p999: ms(s.p999), max: ms(s.max), mean: ms(s.mean) };
}

export function latencyRows(poller: LatencyPoller, t0Ms: number): LatencyRow[] {
  const secs = new Set<number>();
  for (const s of poller.stages) for (const sec of poller.seconds.get(s)!.keys()) secs.add(sec);
  return [...secs].sort((a, b) => a - b).map((sec) => {
    const sinks: Record<string, LatencySummaryMs> = {};
    for (const s of poller.stages) {
      const h = poller.seconds.get(s)!.get(sec);
      if (h !== undefined) sinks[s] = summarizeMs(h);
    }
    return { t: Math.round(sec * 1000 + 500 - t0Ms) / 1000, sinks };
  });
}

/** Every stage's latencies confirmed in Unix seconds [fromSec, ∞). */
export function latencyTotals(poller: LatencyPoller, fromSec = -Infinity): LoadtestResult['latency'] {
  const out: LoadtestResult['latency'] = {};
  for (const s of poller.stages) {
    const h = poller.merged(s, fromSec);
    out[s] = {
      summary: summarizeMs(h),
      percentiles: PERCENTILES.map((p) => ({ p, ms: h.total === 0 ? 0 : (p === 0 ? h.min : h.quantile(p)) / 1000 })),
      histogram: h.encode(),
      processorTotalCount: poller.processorTotals.get(s)?.total ?? 0,
    };
  }
  return out;
}

export interface ProcessorSummary {
  processor: LoadtestResult['processor'];
  sinkWrites: Record<string, SinkWriteStats>;
  workerTasks?: WorkerTaskStats;
  loopDelays?: Record<string, LoopDelayStats>;
}

async function scrapeMetrics(o: LoadtestOptions, child: ProcessorChild, sinks: string[]): Promise<Pick<ProcessorSummary, 'sinkWrites' | 'workerTasks' | 'loopDelays'>> {
  const sinkWrites: Record<string, SinkWriteStats> = {};
  try {
    const res = await fetch(`http://127.0.0.1:${o.metricsPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    const wallMs = performance.now() - child.readyAt;
    for (const s of sinks) sinkWrites[s] = sinkWriteStats(text, s, wallMs);
    return { sinkWrites, workerTasks: workerTaskStats(text), loopDelays: loopDelayStats(text) };
  } catch (err) {
    o.log(`metrics scrape failed: ${(err as Error).message}`);
    return { sinkWrites };
  }
}

/** Waits for the processor's clock to pass into the next second, then takes the last seconds. */
async function finalPoll(poller: LatencyPoller): Promise<void> {
  await sleep(1000 - (wallClockMs() % 1000) + 100);
  await poller.poll();
}

/**
 * Stops sampling, takes the last latency and sink numbers, stops the processor and sums it up;
 * its CPU is counted from `fromSample` (ready, or the measured window's start) up to `endSample` (default:
 * after the last latency poll), for the messages it consumed less `skipMessages` (a warm-up's).
 */
export async function stopAndSummarize(o: LoadtestOptions, child: ProcessorChild, sampler: Sampler, poller: LatencyPoller, fromSample: ProcSample | null,
  endSample?: ProcSample | null, skipMessages = 0): Promise<ProcessorSummary> {
  await sampler.stop();
  await finalPoll(poller);
  const atEnd = endSample === undefined ? child.sample() : endSample;
  const scraped = await scrapeMetrics(o, child, poller.sinks);
  const stopped = await child.stop();
  const messages = Math.max(0, poller.consumed - skipMessages);
  const processor = processorSummary(child, fromSample, atEnd ?? stopped.last, Math.max(sampler.peakRss, stopped.last?.hwmBytes ?? 0), messages, stopped.code);
  processor.threads = threadBreakdown(fromSample?.threads ?? [], (atEnd ?? stopped.last)?.threads ?? [], poller.pid, poller.workerThreadIds, messages, poller.pipelineThreadId);
  return { processor, ...scraped };
}

function processorSummary(child: ProcessorChild, atStart: ProcSample | null, atEnd: ProcSample | null, peakRss: number, messages: number, exitCode: number | null): LoadtestResult['processor'] {
  const cpuMs = (atEnd?.cpuMs ?? 0) - (atStart?.cpuMs ?? 0);
  return {
    threads: null,
    readyAfterMs: Math.round(child.readyAfterMs),
    reportedStartupMs: child.reportedStartupMs,
    cpuMsAtStart: atStart?.cpuMs ?? 0,
    cpuMs,
    messages,
    cpuUsPerMessage: messages > 0 ? Math.round((cpuMs * 1000 * 10) / messages) / 10 : 0,
    peakRssBytes: Math.max(peakRss, atEnd?.hwmBytes ?? 0),
    exitCode,
  };
}

export function assemble(
  { o, names, startedAt, loadavgAtStart }: Pick<RunContext, 'o' | 'names' | 'startedAt' | 'loadavgAtStart'>, { processor, sinkWrites, workerTasks, loopDelays }: ProcessorSummary,
  stats: ProduceStats, gen: Pick<OpenLoopGenerator, 'lateness'> | null, samples: SampleRow[], latencyOverTime: LatencyRow[], latency: LoadtestResult['latency'],
): LoadtestResult {
  const { log: _log, progress: _progress, ...options } = o;
  const durationS = stats.elapsedMs / 1000;
  return {
    version: 1, mode: o.mode, startedAt, options,
    machine: { cores: availableParallelism(), node: process.version, loadavgAtStart },
    names, processor,
    generator: { ...stats, durationS, achievedRate: durationS > 0 ? Math.round(stats.produced / durationS) : 0, lateness: summarizeMs(gen?.lateness ?? new LatencyHistogram()) },
    sinkWrites, ...(workerTasks === undefined ? {} : { workerTasks }), ...(loopDelays === undefined ? {} : { loopDelays }), latency, samples, latencyOverTime,
    files: { json: '', html: '' },
  };
}

/** Writes the result as JSON and HTML under `o.outDir` (stamped, latest, and `o.name` if given). */
export function writeResult(o: LoadtestOptions, result: LoadtestResult): LoadtestResult {
  mkdirSync(o.outDir, { recursive: true });
  const stamp = result.startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = join(o.outDir, `loadtest-${stamp}`);
  result.files = { json: `${base}.json`, html: `${base}.html` };
  const json = JSON.stringify(result, null, 1);
  const html = renderReport(result);
  writeFileSync(result.files.json, json);
  writeFileSync(result.files.html, html);
  writeFileSync(join(o.outDir, 'loadtest-latest.json'), json);
  writeFileSync(join(o.outDir, 'loadtest-latest.html'), html);
  if (o.name !== undefined) {
    writeFileSync(join(o.outDir, `${o.name}.json`), json);
    writeFileSync(join(o.outDir, `${o.name}.html`), html);
  }
  return result;
}
