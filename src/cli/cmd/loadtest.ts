import { DEFAULT_VENUES } from '../../codec/synthetic.js';
import { SINK_STORES, type SinkStore } from '../../config/schema.js';
import { runLoadtest, type LatencySummaryMs, type LoadtestResult } from '../../loadtest/run.js';
import { parsePattern, type RateStep } from '../../loadtest/schedule.js';
import { machineBudgetText } from '../../loadtest/service-cpu.js';
import type { LoadtestArgs } from '../commands.js';
import { intOption, load, usageFail } from '../common.js';
import { Progress } from '../progress.js';

export async function cmdLoadtest({ values }: LoadtestArgs): Promise<void> {
  if (values.drain && values['find-max']) usageFail('loadtest', '--drain and --find-max are separate runs');
  if (values.pattern !== undefined && values.rate !== undefined) usageFail('loadtest', '--rate and --pattern exclude each other');
  const config = load(values.config);
  let steps: RateStep[];
  try {
    steps = values.pattern !== undefined ? parsePattern(values.pattern) : [{ fromS: 0, rate: intOption(values, 'rate', 10_000) }];
  } catch (err) {
    usageFail('loadtest', `--pattern: ${(err as Error).message}`);
  }
  const venues = values.venues === undefined ? [...DEFAULT_VENUES] : values.venues.split(',').map((s) => s.trim()).filter(Boolean);
  if (venues.length === 0) usageFail('loadtest', '--venues needs at least one venue');
  const durationS = intOption(values, 'duration', 30);
  if (durationS <= 0) usageFail('loadtest', '--duration must be positive');
  const threads = values.threads === undefined ? undefined : intOption(values, 'threads', 0);
  const processes = intOption(values, 'processes', 1);
  const stores = values.stores === undefined ? config.sink.stores : parseStores(values.stores);
  if (processes < 1) usageFail('loadtest', '--processes must be at least 1');
  if (processes > 1 && !values.drain) usageFail('loadtest', '--processes goes with --drain');
  if (values.stamped === true && !values.drain) usageFail('loadtest', '--stamped goes with --drain (the rate modes always stamp)');
  // On a terminal, a status line under the progress lines: sent, lag, CPU, RSS once a second.
  const progress = new Progress();
  const result = await runLoadtest(config, {
    mode: values.drain ? 'drain' : values['find-max'] ? 'find-max' : 'rate',
    steps, durationS,
    warmupS: Math.max(0, intOption(values, 'warmup', 5)), transitS: Math.max(0, intOption(values, 'transit', 10)),
    count: intOption(values, 'count', 2_000_000), processes, stampBacklog: values.stamped === true,
    symbols: Math.max(1, intOption(values, 'symbols', 20)), venues, seed: intOption(values, 'seed', 42),
    stepS: intOption(values, 'step-duration', 20), startRate: intOption(values, 'start-rate', 5000),
    maxRate: intOption(values, 'max-rate', 200_000), maxSteps: intOption(values, 'max-steps', 8),
    postgresUrl: values['pg-url'] ?? 'postgres://postgres@127.0.0.1:5432/himari_lt',
    redisUrl: values['redis-url'] ?? 'redis://127.0.0.1:6379/3',
    metricsPort: intOption(values, 'metrics-port', 9471),
    // One partition per worker, as on the production box: each partition costs the broker and
    // the generator a produce request per linger window (8 against 2 here: ~3,700 against ~990
    // requests/s at 10,000/s, and twice the broker's CPU).
    partitions: Math.max(1, intOption(values, 'partitions', threads ?? config.workers.threads)),
    ...(threads === undefined ? {} : { threads }),
    stores,
    outDir: values.out ?? 'results', ...(values.name === undefined ? {} : { name: values.name }),
    keep: values.keep === true,
    log: (line) => progress.print(`loadtest: ${line}`),
    ...(progress.active ? { progress: (status: string) => progress.update(status) } : {}),
  });
  progress.done();
  process.stdout.write(`${loadtestSummary(result)}\n`);
}

function parseStores(text: string): SinkStore[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(SINK_STORES as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) usageFail('loadtest', `--stores: ${unknown.length > 0 ? `unknown store ${unknown.join(', ')}` : 'none named'} (${SINK_STORES.join(', ')})`);
  return [...new Set(names as SinkStore[])];
}

function loadtestSummary(r: LoadtestResult): string {
  const lines = [`himari-l0 loadtest (${r.mode})`];
  const p = r.processor;
  lines.push(`  processor      ready after ${p.readyAfterMs} ms; ${p.messages} messages; ${p.cpuUsPerMessage} µs CPU per message; peak RSS ${Math.round(p.peakRssBytes / 1048576)} MB`);
  if (p.threads !== null) {
    const t = p.threads;
    lines.push(`  threads        µs CPU per event: main ${t.mainUsPerEvent}${t.pipelineUsPerEvent > 0 ? `, pipeline ${t.pipelineUsPerEvent}` : ''}, workers ${t.workerUsPerEvent.join(' / ')}, librdkafka ${t.librdkafkaUsPerEvent} (busiest thread ${t.librdkafkaBusiestUsPerEvent}), other ${t.otherUsPerEvent}`);
    const w = t.waiting;
    lines.push(`  no core        µs per event ready to run but waiting for a core: main ${w.mainUsPerEvent}${t.pipelineUsPerEvent > 0 ? `, pipeline ${w.pipelineUsPerEvent}` : ''}, workers ${w.workerUsPerEvent.join(' / ')}, librdkafka ${w.librdkafkaUsPerEvent}, other ${w.otherUsPerEvent}`);
    lines.push(`  ceiling        busiest thread ${t.busiestThread} at ${t.busiestUsPerEvent} µs per event: one process tops out near ${t.ceilingEventsPerSec} events/s with a core per thread`);
  }
  if (r.mode !== 'drain') lines.push(`  generator      ${r.generator.produced} sent (${r.generator.delivered} delivered) at ${r.generator.achievedRate}/s; send lateness p99 ${r.generator.lateness.p99} ms`);
  const latencyLine = (name: string, s: LatencySummaryMs) => `  ${name.padEnd(14)} n=${s.count}  p50 ${s.p50} ms  p90 ${s.p90} ms  p99 ${s.p99} ms  p99.9 ${s.p999} ms  max ${s.max} ms`;
  if (r.transit !== undefined) {
    lines.push(`  Kafka alone    ${r.transit.rate}/s, ${r.transit.partitions} partitions, bare consumer, before the processor started (${r.transit.warmupS} s warm-up, then ${r.transit.seconds} s):`);
    lines.push(latencyLine('transit', r.transit.latency));
  }
  if (r.warmup !== undefined) lines.push(`  measured       from the first whole second after a ${r.warmup.seconds} s warm-up (${r.warmup.messages} events, below)`);
  for (const [sink, l] of Object.entries(r.latency)) lines.push(latencyLine(sink, l.summary));
  if (r.warmup !== undefined) for (const [sink, s] of Object.entries(r.warmup.latency)) lines.push(latencyLine(`warm-up ${sink}`, s));
  for (const [sink, w] of Object.entries(r.sinkWrites)) {
    lines.push(`  ${(sink + ' writes').padEnd(14)} ${w.writes} writes, mean ${w.meanWriteMs} ms for ${w.meanRows} events, busy ${Math.round(w.busyShare * 100)} % of the run${w.connections > 1 ? ` on each of ${w.connections} connections` : ''}; flushes ${Object.entries(w.flushReasons).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  if (r.workerTasks !== undefined) {
    const t = r.workerTasks;
    lines.push(`  worker tasks   ${t.tasks} tasks, mean ${t.meanMessages} messages, round trip ${t.meanRoundTripMs} ms`);
  }
  if (r.loopDelays !== undefined && Object.keys(r.loopDelays).length > 0) {
    lines.push(`  event loops    seconds whose longest delay was over 20 / 50 / 100 ms (the whole run, start-up included): ${Object.entries(r.loopDelays)
      .map(([thread, d]) => `${thread} ${d.over20ms} / ${d.over50ms} / ${d.over100ms} of ${d.seconds}`).join(', ')}`);
  }
  if (r.drain !== undefined) {
    const d = r.drain;
    lines.push(`  drain          ${d.count} events in ${(d.drainMs / 1000).toFixed(1)} s = ${d.eventsPerSec}/s; ${d.cpuUsPerEvent} µs CPU per event; peak RSS ${Math.round(d.peakRssBytes / 1048576)} MB`);
    if (d.machineIdle !== null) lines.push(`  machine        ${(d.machineIdle * 100).toFixed(1)} % of its ${r.machine.cores} cores idle over the drain (/proc/stat)`);
    const budget = machineBudgetText(d, r.machine.cores);
    if (budget !== null) lines.push(`  budget         ${budget}`);
    if (d.processes !== undefined) {
      lines.push(`  processes      ${d.processes.length} of one group: consumed ${d.processes.map((p) => p.consumed).join(' / ')}; µs CPU per event they consumed ${d.processes.map((p) => p.cpuUsPerEvent).join(' / ')}`);
    }
    lines.push(`  read ceiling   ${Math.round((d.ceiling.messages * 1000) / d.ceiling.totalMs)}/s incl. joining (${Math.round(d.ceiling.eventsPerSec)}/s first to last); pipeline at ${(d.ratioToCeiling * 100).toFixed(1)} % of it; ${d.ceiling.cpuUsPerMessage} µs CPU per message (consume alone)`);
  }
  if (r.findMax !== undefined) {
    for (const s of r.findMax.steps) lines.push(`  step ${String(s.rate).padStart(7)}/s  ${s.passed ? 'bounded    ' : 'NOT bounded'}  ${s.verdict.reason}`);
    lines.push(`  found          ${r.findMax.foundRate} events/s with bounded lag`);
  }
  lines.push(`  report         ${r.files.html}`, `  result         ${r.files.json}`);
  return lines.join('\n');
}
