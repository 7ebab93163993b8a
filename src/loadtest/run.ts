import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import Kafka from 'node-rdkafka';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import { OpenLoopGenerator, type ProduceStats } from './generator.js';
import { connectProducer, createProducer } from '../kafka/clients.js';
import { pgClientConfig } from '../db/client-config.js';
import { WATERMARK_TABLE, ensureDatabase } from '../db/migrate.js';
import { wallClockMs } from '../obs/clock.js';
import { LatencyHistogram, type EncodedHistogram } from '../obs/latency-histogram.js';
import { ensureTopics } from '../source/kafka-admin.js';
import { kafkaClientConfig } from '../kafka/client-config.js';
import { GroupLagProbe, TransitProbe, measureReadCeiling, type ReadCeiling } from './kafka-probe.js';
import { DEFAULT_LAG_CRITERION, judgeLag, nextSearchRate, type LagSample, type LagVerdict } from './lag.js';
import { LatencyPoller } from './latency-poller.js';
import { ProcessorChild } from './processor-child.js';
import { sinkWriteStats, workerTaskStats, type SinkWriteStats, type WorkerTaskStats } from './prom-scrape.js';
import { threadBreakdown, type ProcSample } from './proc-stats.js';
import { renderReport } from './report.js';
import { RateSchedule, withWarmup, type RateStep } from './schedule.js';
import { ErrorCode, HimariError } from '../errors.js';
import type { FindMaxStep, LatencyRow, LatencySummaryMs, LoadtestOptions, LoadtestResult, SampleRow } from './result.js';

export type { FindMaxStep, LatencyRow, LatencySummaryMs, LoadtestMode, LoadtestOptions, LoadtestResult, SampleRow } from './result.js';

const PERCENTILES = [0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999, 1];

export function summarizeMs(h: LatencyHistogram): LatencySummaryMs {
  const s = h.summary();
  const ms = (us: number) => Math.round(us) / 1000;
  return { count: s.count, p50: ms(s.p50), p90: ms(s.p90), p99: ms(s.p99), p999: ms(s.p999), max: ms(s.max), mean: ms(s.mean) };
}

/** What every generator of a run shares (each phase adds its topic, rate and schedule). */
interface GeneratorBase {
  topic: string;
  symbols: number;
  venues: string[];
  bad: number;
  seed: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per-run names: topic, group, table and key prefix nobody else uses. */
function runNames(): LoadtestResult['names'] & { id: string } {
  const id = `${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}${randomBytes(2).toString('hex')}`;
  return { id, topic: `lt-${id}`, group: `lt-${id}`, table: `lt_${id}`, redisPrefix: `lt:${id}:` };
}

/**
 * The run's PostgreSQL: the load test's database URL with the configured credentials and TLS
 * (the processor child gets the same: every HIMARI_* setting passes through).
 */
function runPostgres(config: Readonly<Config>, o: LoadtestOptions): Config['postgres'] {
  return { ...config.postgres, url: o.postgresUrl };
}

async function cleanupRun(config: Readonly<Config>, o: LoadtestOptions, names: LoadtestResult['names']): Promise<void> {
  const c = new pg.Client(pgClientConfig(runPostgres(config, o)));
  await c.connect().then(async () => {
    await c.query(`DROP TABLE IF EXISTS ${names.table} CASCADE`);
    await c.query(`DELETE FROM ${WATERMARK_TABLE} WHERE target = $1`, [names.table]).catch(() => {});
  }).catch((err: Error) => o.log(`cleanup: PostgreSQL: ${err.message}`)).finally(() => c.end().catch(() => {}));
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: 3 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${names.redisPrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch (err) {
    o.log(`cleanup: Redis: ${(err as Error).message}`);
  } finally {
    redis.disconnect();
  }
  const admin = Kafka.AdminClient.create(kafkaClientConfig(config.kafka, 'loadtest-admin'));
  for (const topic of [names.topic, `${names.topic}.dlq`, transitTopic(names)]) await new Promise<void>((resolve) => admin.deleteTopic(topic, 10_000, () => resolve()));
  admin.disconnect();
}

function childEnv(o: LoadtestOptions, config: Readonly<Config>, names: LoadtestResult['names']): Record<string, string> {
  return {
    // Processor settings under test (HIMARI_SINK_BATCH_MAX_ROWS=2000 ...) and Node flags
    // (NODE_OPTIONS) pass through; the names that isolate this run below win.
    ...Object.fromEntries(Object.entries(process.env).filter((kv): kv is [string, string] => (kv[0].startsWith('HIMARI_') || kv[0] === 'NODE_OPTIONS') && kv[1] !== undefined)),
    HIMARI_KAFKA_BROKERS: config.kafka.brokers,
    HIMARI_KAFKA_TOPICS: names.topic,
    HIMARI_KAFKA_DEAD_LETTER_TOPIC: `${names.topic}.dlq`,
    HIMARI_KAFKA_GROUP_ID: names.group,
    HIMARI_KAFKA_TOPIC_PARTITIONS: String(o.partitions),
    HIMARI_KAFKA_CREATE_TOPICS: 'true',
    HIMARI_POSTGRES_URL: o.postgresUrl,
    HIMARI_POSTGRES_TABLE: names.table,
    HIMARI_REDIS_URL: o.redisUrl,
    HIMARI_REDIS_KEY_PREFIX: names.redisPrefix,
    HIMARI_METRICS_PORT: String(o.metricsPort),
    HIMARI_LOG_LEVEL: 'warn',
    ...(o.threads === undefined ? {} : { HIMARI_WORKERS_THREADS: String(o.threads) }),
  };
}

/**
 * Once a second: the processor's CPU and RSS (/proc), the group's lag and committed offsets
 * (Kafka), what the generator sent, and the processor's per-second latencies (/debug/latency).
 * Ticks never overlap: a slow one delays the next.
 */
class Sampler {
  readonly rows: SampleRow[] = [];
  readonly lags: Array<{ atMs: number; lag: number }> = [];
  peakRss = 0;
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> = Promise.resolve();
  private prev: { atMs: number; cpuMs: number; sent: number; committed: number } | null = null;
  sent = () => 0;

  constructor(
    private readonly child: ProcessorChild, private readonly probe: GroupLagProbe, readonly poller: LatencyPoller, readonly t0Ms: number,
    private readonly log: (l: string) => void, private readonly progress?: (status: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => { this.busy = this.busy.then(() => this.tick()); }, 1000);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    await this.busy;
  }

  async tick(): Promise<void> {
    try {
      const proc = this.child.sample();
      const offsets = await this.probe.sample();
      await this.poller.poll();
      const atMs = wallClockMs();
      const sent = this.sent();
      if (proc !== null) this.peakRss = Math.max(this.peakRss, proc.hwmBytes);
      this.lags.push({ atMs, lag: offsets.lag });
      if (this.prev !== null && proc !== null) {
        const dt = (atMs - this.prev.atMs) / 1000;
        this.rows.push({
          t: Math.round((atMs - this.t0Ms) / 100) / 10,
          sentPerS: Math.round((sent - this.prev.sent) / dt),
          committedPerS: Math.round((offsets.committed - this.prev.committed) / dt),
          lag: offsets.lag,
          cpuPct: Math.round(((proc.cpuMs - this.prev.cpuMs) / (dt * 1000)) * 1000) / 10,
          cpuMs: proc.cpuMs,
          rssMb: Math.round(proc.rssBytes / 1048576),
        });
      }
      if (proc !== null) this.prev = { atMs, cpuMs: proc.cpuMs, sent, committed: offsets.committed };
      const row = this.rows[this.rows.length - 1];
      if (this.progress !== undefined && row !== undefined) {
        this.progress(`loadtest: ${row.t} s: sent ${sent} (${row.sentPerS}/s), committed ${row.committedPerS}/s, lag ${row.lag}, processor CPU ${row.cpuPct} %, RSS ${row.rssMb} MB`);
      }
    } catch (err) {
      this.log(`sample failed: ${(err as Error).message}`);
    }
  }

  lagSince(fromMs: number, toMs: number): LagSample[] {
    return this.lags.filter((l) => l.atMs >= fromMs && l.atMs <= toMs).map((l) => ({ t: Math.round(l.atMs - fromMs) / 1000, lag: l.lag }));
  }
}

function latencyRows(poller: LatencyPoller, t0Ms: number): LatencyRow[] {
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
function latencyTotals(poller: LatencyPoller, fromSec = -Infinity): LoadtestResult['latency'] {
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

async function scrapeMetrics(o: LoadtestOptions, child: ProcessorChild, sinks: string[]): Promise<Pick<ProcessorSummary, 'sinkWrites' | 'workerTasks'>> {
  const sinkWrites: Record<string, SinkWriteStats> = {};
  try {
    const res = await fetch(`http://127.0.0.1:${o.metricsPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    const wallMs = performance.now() - child.readyAt;
    for (const s of sinks) sinkWrites[s] = sinkWriteStats(text, s, wallMs);
    return { sinkWrites, workerTasks: workerTaskStats(text) };
  } catch (err) {
    o.log(`metrics scrape failed: ${(err as Error).message}`);
    return { sinkWrites };
  }
}

/** Waits until the group committed everything produced, or the timeout; true when it did. */
async function waitCaughtUp(probe: GroupLagProbe, end: number, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if ((await probe.committed()) >= end) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}

/** Waits for the processor's clock to pass into the next second, then takes the last seconds. */
async function finalPoll(poller: LatencyPoller): Promise<void> {
  await sleep(1000 - (wallClockMs() % 1000) + 100);
  await poller.poll();
}

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
  const probe = new GroupLagProbe(kafka, names.topic, names.group);
  try {
    let drainPre: { stats: ProduceStats; ms: number } | null = null;
    if (o.mode === 'drain') {
      // The backlog first, so that the generator does not compete with the processor for the cores.
      o.log(`producing a backlog of ${o.count} events`);
      const t = performance.now();
      const backlog = new OpenLoopGenerator(producer, { ...genOptions, rate: 0, durationS: 0, count: o.count });
      const progress = o.progress;
      const ticker = progress === undefined ? null : setInterval(() => progress(`loadtest: backlog ${backlog.stats.produced} of ${o.count} events produced`), 250);
      const stats = await backlog.run().finally(() => { if (ticker !== null) clearInterval(ticker); });
      drainPre = { stats, ms: performance.now() - t };
      if (stats.delivered !== o.count) throw new HimariError(ErrorCode.DELIVERY_FAILED, `backlog: delivered ${stats.delivered} of ${o.count}`);
      o.log(`backlog produced in ${(drainPre.ms / 1000).toFixed(1)} s (${Math.round((o.count * 1000) / drainPre.ms)}/s)`);
    }
    const transit = o.mode === 'rate' && o.transitS > 0 && (o.steps[0]?.rate ?? 0) > 0
      ? await measureTransit(kafka, o, transitTopic(names), producer, genOptions) : undefined;
    await probe.connect();
    child = new ProcessorChild(childEnv(o, config, names));
    await child.ready();
    const atReady = child.sample();
    o.log(`processor ready after ${Math.round(child.readyAfterMs)} ms (it reports ${child.reportedStartupMs} ms)`);
    const poller = new LatencyPoller(`http://127.0.0.1:${o.metricsPort}/debug/latency`);
    await poller.poll();

    if (o.mode === 'drain') return await finishDrain(config, o, names, startedAt, loadavgAtStart, child, atReady, probe, poller, drainPre!);
    if (o.mode === 'find-max') return await findMax(o, names, startedAt, loadavgAtStart, child, atReady, probe, poller, producer, genOptions);

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
    const windowTimer = w > 0 ? setTimeout(() => { atWindow = child!.sample() ?? atReady; }, w * 1000) : null;
    const stats = await gen.run().finally(() => { if (windowTimer !== null) clearTimeout(windowTimer); });
    const { high } = await probe.ends();
    const caughtUp = await waitCaughtUp(probe, high, 120_000);
    if (!caughtUp) o.log('the processor did not catch up within 120 s after the generator stopped');
    const summary = await stopAndSummarize(o, child, sampler, poller, atWindow, undefined, warmupMessages);
    // The window's totals start at its first whole second: events confirmed before it count as warm-up.
    const fromSec = w > 0 ? Math.ceil(t0 / 1000) : -Infinity;
    const result = assemble(o, names, startedAt, loadavgAtStart, summary, stats, gen, sampler.rows, latencyRows(poller, t0), latencyTotals(poller, fromSec));
    if (w > 0) {
      const latency: Record<string, LatencySummaryMs> = {};
      for (const s of poller.stages) latency[s] = summarizeMs(poller.merged(s, -Infinity, fromSec));
      result.warmup = { seconds: w, messages: warmupMessages, latency };
    }
    if (transit !== undefined) result.transit = transit;
    return write(o, result);
  } finally {
    if (child !== null) await child.stop();
    await probe.close().catch(() => {});
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
    if (!o.keep) await cleanupRun(config, o, names);
  }
}

interface ProcessorSummary {
  processor: LoadtestResult['processor'];
  sinkWrites: Record<string, SinkWriteStats>;
  workerTasks?: WorkerTaskStats;
}

/**
 * Stops sampling, takes the last latency and sink numbers, stops the processor and sums it up;
 * its CPU is counted from `fromSample` (ready, or the measured window's start) up to `endSample` (default:
 * after the last latency poll), for the messages it consumed less `skipMessages` (a warm-up's).
 */
async function stopAndSummarize(o: LoadtestOptions, child: ProcessorChild, sampler: Sampler, poller: LatencyPoller, fromSample: ProcSample | null,
  endSample?: ProcSample | null, skipMessages = 0): Promise<ProcessorSummary> {
  await sampler.stop();
  await finalPoll(poller);
  const atEnd = endSample === undefined ? child.sample() : endSample;
  const scraped = await scrapeMetrics(o, child, poller.sinks);
  const stopped = await child.stop();
  const messages = Math.max(0, poller.consumed - skipMessages);
  const processor = processorSummary(child, fromSample, atEnd ?? stopped.last, Math.max(sampler.peakRss, stopped.last?.hwmBytes ?? 0), messages, stopped.code);
  processor.threads = threadBreakdown(fromSample?.threads ?? [], (atEnd ?? stopped.last)?.threads ?? [], poller.pid, poller.workerThreadIds, messages);
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

function assemble(
  o: LoadtestOptions, names: LoadtestResult['names'], startedAt: string, loadavgAtStart: number[], { processor, sinkWrites, workerTasks }: ProcessorSummary,
  stats: ProduceStats, gen: OpenLoopGenerator | null, samples: SampleRow[], latencyOverTime: LatencyRow[], latency: LoadtestResult['latency'],
): LoadtestResult {
  const { log: _log, progress: _progress, ...options } = o;
  const durationS = stats.elapsedMs / 1000;
  return {
    version: 1, mode: o.mode, startedAt, options,
    machine: { cores: availableParallelism(), node: process.version, loadavgAtStart },
    names, processor,
    generator: { ...stats, durationS, achievedRate: durationS > 0 ? Math.round(stats.produced / durationS) : 0, lateness: summarizeMs(gen?.lateness ?? new LatencyHistogram()) },
    sinkWrites, ...(workerTasks === undefined ? {} : { workerTasks }), latency, samples, latencyOverTime,
    files: { json: '', html: '' },
  };
}

function write(o: LoadtestOptions, result: LoadtestResult): LoadtestResult {
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

function transitTopic(names: LoadtestResult['names']): string {
  return `${names.topic}.transit`;
}

/**
 * Kafka alone at the run's first rate: the generator and a bare consumer (TransitProbe) on a
 * topic of its own with the same partitions, before the processor starts. What the processor's
 * latencies are to be compared with on this machine.
 */
async function measureTransit(kafka: Config['kafka'], o: LoadtestOptions, topic: string, producer: Kafka.Producer,
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

async function finishDrain(
  config: Readonly<Config>, o: LoadtestOptions, names: LoadtestResult['names'], startedAt: string, loadavgAtStart: number[],
  child: ProcessorChild, atReady: ProcSample | null, probe: GroupLagProbe, poller: LatencyPoller, pre: { stats: ProduceStats; ms: number },
): Promise<LoadtestResult> {
  const t0 = wallClockMs();
  const { high } = await probe.ends();
  const sampler = new Sampler(child, probe, poller, t0, o.log, o.progress);
  await sampler.tick();
  sampler.start();
  const readyAt = performance.now();
  const done = await waitCaughtUp(probe, high, 1_800_000);
  const drainMs = performance.now() - readyAt;
  const atEnd = child.sample();
  await sampler.stop();
  if (!done) throw new HimariError(ErrorCode.TIMEOUT, `the processor did not drain ${o.count} events within 30 minutes`);
  const summary = await stopAndSummarize(o, child, sampler, poller, atReady, atEnd);
  const eventsPerSec = (o.count * 1000) / drainMs;
  o.log(`drained ${o.count} events in ${(drainMs / 1000).toFixed(1)} s (${Math.round(eventsPerSec)}/s); measuring the bare Kafka read ceiling`);
  const ceiling = await measureReadCeiling({ ...config.kafka, topics: [names.topic] }, names.topic, high);
  const result = assemble(o, names, startedAt, loadavgAtStart, summary, pre.stats, null, sampler.rows, latencyRows(poller, t0), latencyTotals(poller));
  result.drain = {
    count: o.count,
    produceMs: Math.round(pre.ms),
    produceRate: Math.round((o.count * 1000) / pre.ms),
    drainMs: Math.round(drainMs),
    eventsPerSec: Math.round(eventsPerSec),
    cpuUsPerEvent: Math.round((summary.processor.cpuMs * 1000 * 10) / o.count) / 10,
    peakRssBytes: summary.processor.peakRssBytes,
    ceiling,
    ratioToCeiling: ceiling.eventsPerSec > 0 ? Math.round((eventsPerSec / ((ceiling.messages * 1000) / ceiling.totalMs)) * 1000) / 1000 : 0,
  };
  return write(o, result);
}

async function findMax(
  o: LoadtestOptions, names: LoadtestResult['names'], startedAt: string, loadavgAtStart: number[], child: ProcessorChild, atReady: ProcSample | null,
  probe: GroupLagProbe, poller: LatencyPoller, producer: Kafka.Producer, genOptions: GeneratorBase,
): Promise<LoadtestResult> {
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
  const gen = { lateness } as unknown as OpenLoopGenerator;
  const result = assemble(o, names, startedAt, loadavgAtStart, summary, total, gen, sampler.rows, latencyRows(poller, t0), latencyTotals(poller));
  const passedRates = steps.filter((s) => s.passed).map((s) => s.rate);
  result.findMax = {
    criterion: `a step of ${o.stepS} s at rate R passes when the generator sends at least 0.95 R and the consumer lag is bounded: `
      + `its least-squares slope over the second half of the step is at most ${c.maxGrowthShare} R per second, and the lag at the end is at most `
      + `max(${c.floor}, ${c.maxBacklogS} s × R). Rates double from ${o.startRate}/s until a step fails, then bisect to within 10 %.`,
    foundRate: passedRates.length === 0 ? 0 : Math.max(...passedRates),
    steps,
  };
  return write(o, result);
}
