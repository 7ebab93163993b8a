#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { App } from './app.js';
import { ALL_CHECKS, checkByBit } from './checks/registry.js';
import { SCHEMA_CHECKS } from './checks/schema.js';
import { checksMarkdownTable } from './checks/docs.js';
import { DEFAULT_VENUES } from './codec/synthetic.js';
import { doctorCommand } from './cli/doctor.js';
import { produce } from './cli/produce.js';
import { topCommand } from './cli/top.js';
import { VERDICT_NAMES } from './codec/event.js';
import { configMarkdownTable, listConfigKeys, loadConfig, redactConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { connectPostgres } from './db/client-config.js';
import { migrate } from './db/migrate.js';
import { grantProcessorRole } from './db/roles.js';
import { readRecordingEvents, recordingFailure, type RecordingReport } from './replay/recording.js';
import { replay } from './replay/replay.js';
import { describeTimescalePolicies } from './db/timescale-jobs.js';
import { runLoadtest, type LatencySummaryMs, type LoadtestResult } from './loadtest/run.js';
import { parsePattern, type RateStep } from './loadtest/schedule.js';
import { HimariError } from './errors.js';
import { createLogger } from './obs/log.js';

const HELP = `himari-l0: Layer 0 market-data processor (Kafka -> checks -> Redis + PostgreSQL)

Usage: himari-l0 <command> [options]

Commands:
  run        Run the processor until SIGTERM/SIGINT (a second signal exits at once).
               --stop-when-idle MS   exit after no message arrived for MS (after the first one)
               --max-seconds S       exit after S seconds
  produce    Load generator: synthetic ticks keyed by symbol.
               --symbols N (20)  --venues a,b,.. (${DEFAULT_VENUES.join(',')})
               --rate EVENTS_PER_S (10000; 0 = as fast as possible)
               --duration S (10)  --count N (instead of a duration)
               --bad N (0): poison messages spread through the run
               --json: send JSON instead of msgpack   --topic T (first input topic)
  loadtest   Start the processor as a child, load it, and report latency, throughput, lag,
             CPU and memory (JSON and HTML in --out). One of:
               --rate R --duration S          open loop at R events/s (default 10000 for 30 s)
               --pattern 0:1000,30:10000,...  rate steps SECOND:RATE (with --duration)
                 --warmup S (5)    first rate for S s before the measured window, reported apart
                 --transit S (10)  first: Kafka alone at the first rate, a bare consumer (0 skips)
               --drain --count N              backlog of N (2000000) first, then time the drain,
                                              and a bare Kafka consume loop over it (read ceiling)
               --find-max                     highest rate whose consumer lag stays bounded
                 --step-duration S (20) --start-rate R (5000) --max-rate R (200000) --max-steps N (8)
             --symbols N (20) --venues a,b  --seed N  --threads N  --partitions N (one per worker thread)
             --pg-url URL (postgres://postgres@127.0.0.1:5432/himari_lt; database created if missing)
             --redis-url URL (redis://127.0.0.1:6379/3)  --metrics-port P (9471)
             --out DIR (results)  --name NAME (also NAME.json/.html)  --keep (keep topic, table, keys)
  replay     Normalize cryptofeed recordings (FILE...) and produce them to Kafka. Prints per
             file where every message went (events, ignored by channel, not understood with the
             line) and exits 1 when a file gives no events, cannot be read, or has messages it
             did not understand (the events it could read are still produced).
               --speed X: recorded pace times X (default 0 = as fast as possible)
               --topic T (first input topic)   --dry-run: only read and report, no Kafka
  migrate    Create or update the PostgreSQL/TimescaleDB schema (idempotent), as its owner.
               --grant-to ROLE   also grant ROLE what the processor needs, nothing more
                                 (run the processor as ROLE with postgres.migrateOnStart off)
  doctor     Check what the processor needs, in a few seconds: config, Kafka (brokers, topics,
             group offsets and lag), Redis (auth, version, script, write), PostgreSQL (database,
             TimescaleDB, schema, the role's rights). One line per check: ok, warn or FAIL with
             the fix; exit 0 when nothing failed, 1 otherwise.
               --json: the same as JSON   --timeout S (3): each probe's network calls
  top        Live view of a running processor from its /metrics: consumed/s, events/s by
             verdict, lag, end-to-end p50/p99 per sink, worker use, check failures, dead
             letters, freshness per venue, ready. Redraws on a terminal; one block per interval
             into a pipe.
               --url URL (http://127.0.0.1:9464)  --interval S (2)
               --once: one block (two scrapes an interval apart), exit 1 when unreachable
  config     Print every config key with its env var and default (--markdown for docs).
  checks     List the data-quality checks (--json, --markdown for docs/checks.md).
  help       This text.

Common options:
  --config FILE   JSON config file (also HIMARI_CONFIG). Environment variables
                  HIMARI_<SECTION>_<KEY> override it; 'himari-l0 config' lists them.

Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration, 3 stopped at the shutdown
deadline (shutdown.deadlineMs) with unconfirmed batches left to be replayed on the next start.
`;

/** Exit code of a stop that reached `shutdown.deadlineMs` and abandoned unconfirmed batches. */
const EXIT_DEADLINE = 3;

function fail(message: string, code = 2): never {
  process.stderr.write(`himari-l0: ${message}\n`);
  process.exit(code);
}

function intOption(values: Record<string, unknown>, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) fail(`--${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return n;
}

function load(file: string | undefined, overrides: Record<string, unknown> = {}): Readonly<Config> {
  try {
    return loadConfig({ file, overrides });
  } catch (err) {
    if (err instanceof HimariError) fail(err.message);
    throw err;
  }
}

async function cmdRun(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, 'stop-when-idle': { type: 'string' }, 'max-seconds': { type: 'string' } } });
  const config = load(values.config);
  const log = createLogger(config.log.level);
  log.info({ config: redactConfig(config) }, 'starting');
  const app = new App(config, log);
  const startedAt = Date.now();
  let stopping = false;
  let ready = false;
  const exit = (code: number) => { log.flush(); setTimeout(() => process.exit(code), 50); };
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ why, deadlineMs: config.shutdown.deadlineMs }, 'stopping');
    // The deadline holds even if a step of the close hangs in native code: exit regardless.
    setTimeout(() => {
      log.error({ deadlineMs: config.shutdown.deadlineMs }, 'shutdown deadline passed; exiting now (unconfirmed batches are replayed on the next start)');
      log.flush();
      // Node joins libuv's threads at exit, and a native Kafka call that waits for a broker that
      // is gone would hold the exit with it: a detached watchdog kills what is left 2 s later.
      spawn('sh', ['-c', `sleep 2; kill -9 ${process.pid} 2>/dev/null`], { detached: true, stdio: 'ignore' }).unref();
      process.exit(EXIT_DEADLINE);
    }, config.shutdown.deadlineMs).unref();
    app.close().then(
      (outcome) => {
        if (ready) printSummary(app, Date.now() - startedAt);
        exit(outcome === 'drained' ? 0 : EXIT_DEADLINE);
      },
      (err: Error) => { log.error({ err }, 'close failed'); exit(1); },
    );
  };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (stopping) { log.warn({ sig }, 'second signal: exiting now'); log.flush(); process.exit(130); }
      stop(sig);
    });
  }
  try {
    await app.start();
  } catch (err) {
    // A signal during start-up: the close it started ends the process (exit 0: nothing was taken).
    if (stopping) return;
    log.fatal({ err }, 'start failed');
    process.stderr.write(`himari-l0: start failed: ${(err as Error).message}\n`);
    await app.close(5_000).catch(() => {});
    log.flush();
    process.exit(1);
  }
  if (stopping) return;
  ready = true;
  log.info({ startupMs: Math.round(app.startupMs), threads: config.workers.threads, storage: app.migration?.mode }, 'ready');
  // Also said on stderr whatever the log level: scripts and tests wait for this line.
  process.stderr.write(`himari-l0: ready in ${Math.round(app.startupMs)} ms (${config.workers.threads} worker threads, ${app.migration?.mode} storage)\n`);
  const maxSeconds = intOption(values, 'max-seconds', 0);
  if (maxSeconds > 0) setTimeout(() => stop('max-seconds'), maxSeconds * 1000).unref();
  const idleMs = intOption(values, 'stop-when-idle', 0);
  if (idleMs > 0) {
    let lastCount = -1;
    let lastChange = Date.now();
    setInterval(() => {
      const consumed = app.pipeline.totals.consumed;
      if (consumed !== lastCount) { lastCount = consumed; lastChange = Date.now(); return; }
      if (consumed > 0 && Date.now() - lastChange >= idleMs) stop('idle');
    }, Math.min(200, idleMs)).unref();
  }
}

function printSummary(app: App, elapsedMs: number): void {
  const t = app.pipeline.totals;
  const c = app.config;
  const lines: string[] = [];
  const rate = elapsedMs > 0 ? Math.round((t.consumed * 1000) / elapsedMs) : 0;
  lines.push('', 'himari-l0 run summary', `  consumed       ${t.consumed} messages in ${(elapsedMs / 1000).toFixed(1)} s (${rate}/s average, start-up ${Math.round(app.startupMs)} ms)`);
  for (let v = 0; v < VERDICT_NAMES.length; v++) lines.push(`  ${VERDICT_NAMES[v]!.padEnd(14)} ${t.verdicts[v]}`);
  const failed = t.checkFailures.map((n, bit) => [bit, n] as const).filter(([, n]) => n > 0);
  lines.push(`  checks failed  ${failed.length === 0 ? 'none' : failed.map(([bit, n]) => `${checkByBit(bit)?.id ?? bit}=${n}`).join('  ')}`);
  lines.push('  end-to-end latency, send (x-intended-ns header, else Kafka timestamp) -> confirmed write:');
  for (const s of app.pipeline.sinks) {
    const h = s.latency.summary();
    const ms = (us: number) => (us / 1000).toFixed(1);
    lines.push(`    ${s.name.padEnd(9)} n=${h.count}  p50 ${ms(h.p50)} ms  p90 ${ms(h.p90)} ms  p99 ${ms(h.p99)} ms  max ${ms(h.max)} ms`);
  }
  const commits = [...app.pipeline.committed].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  lines.push(`  committed      ${commits.map(([tp, offset]) => `${tp}=${offset}`).join(' ') || 'nothing'}`);
  lines.push(`  storage        ${app.migration?.mode ?? 'unknown'} (table ${c.postgres.table})`);
  lines.push('  where to look:');
  lines.push(`    redis-cli --scan --pattern '${c.redis.keyPrefix}latest:*' | head`);
  lines.push(`    redis-cli HGETALL ${c.redis.keyPrefix}latest:binance:BTC-USDT`);
  lines.push(`    redis-cli ZRANGE ${c.redis.keyPrefix}recent:BTC-USDT -3 -1   (then HMGET ${c.redis.keyPrefix}recent-events:BTC-USDT <member>)`);
  lines.push(`    redis-cli XREVRANGE ${c.redis.keyPrefix}quarantine + - COUNT 3`);
  lines.push(`    psql '${redactConfig(c).postgres.url}' -c "SELECT venue, type, verdict, count(*) FROM ${c.postgres.table} GROUP BY 1,2,3 ORDER BY 1,2,3"`);
  lines.push(`    dead letters: topic ${c.kafka.deadLetterTopic} (headers x-error-code, x-error-message, x-source-*)`);
  lines.push(`    metrics: http://${c.metrics.host}:${c.metrics.port}/metrics while running`);
  process.stderr.write(lines.join('\n') + '\n');
}

async function cmdProduce(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: {
    config: { type: 'string' }, symbols: { type: 'string' }, venues: { type: 'string' }, rate: { type: 'string' },
    duration: { type: 'string' }, count: { type: 'string' }, bad: { type: 'string' }, json: { type: 'boolean' },
    topic: { type: 'string' }, seed: { type: 'string' },
  } });
  const config = load(values.config);
  const venues = values.venues === undefined ? [...DEFAULT_VENUES] : values.venues.split(',').map((s) => s.trim()).filter(Boolean);
  if (venues.length === 0) fail('--venues needs at least one venue');
  const symbols = intOption(values, 'symbols', 20);
  if (symbols < 1) fail('--symbols must be at least 1');
  const count = values.count === undefined ? undefined : intOption(values, 'count', 0);
  const stats = await produce(config.kafka, {
    topic: values.topic ?? config.kafka.topics[0]!,
    symbols, venues,
    rate: intOption(values, 'rate', 10_000),
    durationS: intOption(values, 'duration', 10),
    ...(count === undefined ? {} : { count }),
    bad: intOption(values, 'bad', 0),
    json: values.json === true,
    seed: intOption(values, 'seed', 42),
  });
  const rate = stats.elapsedMs > 0 ? Math.round(((stats.produced + stats.bad) * 1000) / stats.elapsedMs) : 0;
  process.stdout.write(`${JSON.stringify({ ...stats, ratePerSec: rate })}\n`);
  if (stats.failed > 0) process.exit(1);
}

async function cmdLoadtest(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: {
    config: { type: 'string' }, rate: { type: 'string' }, pattern: { type: 'string' }, duration: { type: 'string' },
    drain: { type: 'boolean' }, count: { type: 'string' }, 'find-max': { type: 'boolean' }, warmup: { type: 'string' }, transit: { type: 'string' },
    'step-duration': { type: 'string' }, 'start-rate': { type: 'string' }, 'max-rate': { type: 'string' }, 'max-steps': { type: 'string' },
    symbols: { type: 'string' }, venues: { type: 'string' }, seed: { type: 'string' }, partitions: { type: 'string' }, threads: { type: 'string' },
    'pg-url': { type: 'string' }, 'redis-url': { type: 'string' }, 'metrics-port': { type: 'string' },
    out: { type: 'string' }, name: { type: 'string' }, keep: { type: 'boolean' },
  } });
  if (values.drain && values['find-max']) fail('--drain and --find-max are separate runs');
  if (values.pattern !== undefined && values.rate !== undefined) fail('--rate and --pattern exclude each other');
  const config = load(values.config);
  let steps: RateStep[];
  try {
    steps = values.pattern !== undefined ? parsePattern(values.pattern) : [{ fromS: 0, rate: intOption(values, 'rate', 10_000) }];
  } catch (err) {
    fail(`--pattern: ${(err as Error).message}`);
  }
  const venues = values.venues === undefined ? [...DEFAULT_VENUES] : values.venues.split(',').map((s) => s.trim()).filter(Boolean);
  if (venues.length === 0) fail('--venues needs at least one venue');
  const durationS = intOption(values, 'duration', 30);
  if (durationS <= 0) fail('--duration must be positive');
  const threads = values.threads === undefined ? undefined : intOption(values, 'threads', 0);
  const result = await runLoadtest(config, {
    mode: values.drain ? 'drain' : values['find-max'] ? 'find-max' : 'rate',
    steps, durationS,
    warmupS: Math.max(0, intOption(values, 'warmup', 5)), transitS: Math.max(0, intOption(values, 'transit', 10)),
    count: intOption(values, 'count', 2_000_000),
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
    outDir: values.out ?? 'results', ...(values.name === undefined ? {} : { name: values.name }),
    keep: values.keep === true,
    log: (line) => process.stderr.write(`loadtest: ${line}\n`),
  });
  process.stdout.write(`${loadtestSummary(result)}\n`);
}

function loadtestSummary(r: LoadtestResult): string {
  const lines = [`himari-l0 loadtest (${r.mode})`];
  const p = r.processor;
  lines.push(`  processor      ready after ${p.readyAfterMs} ms; ${p.messages} messages; ${p.cpuUsPerMessage} µs CPU per message; peak RSS ${Math.round(p.peakRssBytes / 1048576)} MB`);
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
  if (r.drain !== undefined) {
    const d = r.drain;
    lines.push(`  drain          ${d.count} events in ${(d.drainMs / 1000).toFixed(1)} s = ${d.eventsPerSec}/s; ${d.cpuUsPerEvent} µs CPU per event; peak RSS ${Math.round(d.peakRssBytes / 1048576)} MB`);
    lines.push(`  read ceiling   ${Math.round((d.ceiling.messages * 1000) / d.ceiling.totalMs)}/s incl. joining (${Math.round(d.ceiling.eventsPerSec)}/s first to last); pipeline at ${(d.ratioToCeiling * 100).toFixed(1)} % of it; ${d.ceiling.cpuUsPerMessage} µs CPU per message (consume alone)`);
  }
  if (r.findMax !== undefined) {
    for (const s of r.findMax.steps) lines.push(`  step ${String(s.rate).padStart(7)}/s  ${s.passed ? 'bounded    ' : 'NOT bounded'}  ${s.verdict.reason}`);
    lines.push(`  found          ${r.findMax.foundRate} events/s with bounded lag`);
  }
  lines.push(`  report         ${r.files.html}`, `  result         ${r.files.json}`);
  return lines.join('\n');
}

async function cmdReplay(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: {
    config: { type: 'string' }, speed: { type: 'string' }, topic: { type: 'string' }, 'dry-run': { type: 'boolean' },
  } });
  if (positionals.length === 0) fail('replay needs at least one recording file');
  for (const f of positionals) if (!existsSync(f)) fail(`no such file: ${f}`);
  const recordings = positionals.map((f) => readRecordingEvents(f));
  for (const { report } of recordings) process.stderr.write(describeRecording(report));
  if (values['dry-run'] !== true) {
    const config = load(values.config);
    const stats = await replay(config.kafka, recordings.map((r) => r.events), { topic: values.topic ?? config.kafka.topics[0]!, speed: intOption(values, 'speed', 0) });
    process.stdout.write(`${JSON.stringify(stats)}\n`);
  }
  const failed = recordings.map((r) => [r.report.file, recordingFailure(r.report)] as const).filter(([, why]) => why !== null);
  if (failed.length > 0) fail(`${failed.length} of ${recordings.length} recordings failed: ${failed.map(([f, why]) => `${f}: ${why}`).join('; ')}`, 1);
}

/** One recording's accounting for the terminal: messages = with events + ignored + not understood. */
function describeRecording(r: RecordingReport): string {
  const ignoredTotal = Object.values(r.ignored).reduce((a, b) => a + b, 0);
  const lines = [`${r.file}: ${r.unreadable ?? `${r.messages} messages: ${r.withEvents} gave ${r.events} events, ${ignoredTotal} ignored, ${r.errors} not understood`}`];
  for (const [channel, n] of Object.entries(r.ignored)) lines.push(`  ignored ${n} ${channel}`);
  for (const p of r.problems) lines.push(`  line ${p.line}: ${p.reason}: ${p.raw}`);
  if (r.errors > r.problems.length) lines.push(`  ... ${r.errors - r.problems.length} more`);
  return lines.join('\n') + '\n';
}

async function cmdMigrate(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, 'grant-to': { type: 'string' } } });
  const config = load(values.config, values['grant-to'] === undefined ? {} : { 'postgres.grantTo': values['grant-to'] });
  const log = createLogger(config.log.level);
  const report = await migrate(config.postgres, log);
  const role = config.postgres.grantTo;
  const client = await connectPostgres(config.postgres);
  let policies: unknown;
  try {
    if (role !== undefined) log.info({ role, statements: await grantProcessorRole(client, config.postgres, role) }, 'processor role granted');
    // Which path is active and what keeps it in shape: TimescaleDB's jobs with their state, or the
    // daily partitions' policy.
    policies = report.mode === 'timescaledb'
      ? await describeTimescalePolicies(client, config.postgres.table)
      : { retentionDays: config.postgres.retentionDays, partitionsAheadDays: config.postgres.partitionsAheadDays, maintainedBy: 'the processor, at start and hourly (himari_maintain_partitions)' };
  } finally {
    await client.end();
  }
  process.stdout.write(`${JSON.stringify({ ...report, policies, ...(role === undefined ? {} : { grantedTo: role }) })}\n`);
}

function cmdConfig(args: string[]): void {
  const { values } = parseArgs({ args, options: { markdown: { type: 'boolean' } } });
  const keys = listConfigKeys();
  if (values.markdown) {
    process.stdout.write(configMarkdownTable());
    return;
  }
  for (const k of keys) process.stdout.write(`${k.env}=${JSON.stringify(k.defaultValue) ?? ''}\n    ${k.path}: ${k.description}\n`);
}

function cmdChecks(args: string[]): void {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' }, markdown: { type: 'boolean' } } });
  if (values.markdown) {
    process.stdout.write(checksMarkdownTable());
    return;
  }
  const list = ALL_CHECKS.map((c) => ({
    id: c.id, bit: c.bit, group: c.group, severity: c.severity, description: c.description, keeps: c.keeps,
    thresholds: Object.fromEntries(Object.entries(c.thresholds).map(([k, t]) => [k, { default: t.default, min: t.min, max: t.max, description: t.description, ...(t.venues ? { venues: t.venues } : {}) }])),
  }));
  // The decoder's schema checks first: they run first, and a message failing one is dead-lettered.
  const schema = SCHEMA_CHECKS.map((c) => ({ id: c.id, group: 'schema', severity: 'dead-letter', stage: 'decoder', code: c.code, description: c.description }));
  if (values.json) process.stdout.write(JSON.stringify([...schema, ...list], null, 2) + '\n');
  else for (const c of [...schema, ...list]) process.stdout.write(`${c.id.padEnd(4)} ${c.severity.padEnd(11)} ${c.group.padEnd(15)} ${c.description}\n`);
}

/** One command's part of HELP, with the common options and exit codes. */
function commandHelp(command: string): string | null {
  const lines = HELP.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`  ${command} `));
  if (start < 0) return null;
  let end = start + 1;
  while (end < lines.length && lines[end]!.startsWith('   ')) end++;
  const common = HELP.slice(HELP.indexOf('Common options:'));
  return `Usage: himari-l0 ${command} [options]\n\n${lines.slice(start, end).join('\n')}\n\n${common}`;
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    const help = commandHelp(command);
    if (help === null) fail(`unknown command '${command}'\n\n${HELP}`);
    process.stdout.write(help);
    return;
  }
  switch (command) {
    case 'run': return cmdRun(rest);
    case 'produce': return cmdProduce(rest);
    case 'migrate': return cmdMigrate(rest);
    case 'replay': return cmdReplay(rest);
    case 'loadtest': return cmdLoadtest(rest);
    case 'doctor': return doctorCommand(rest);
    case 'top': return topCommand(rest);
    case 'config': return cmdConfig(rest);
    case 'checks': return cmdChecks(rest);
    case undefined: case 'help': case '--help': case '-h':
      process.stdout.write(HELP);
      return;
    default:
      fail(`unknown command '${command}'\n\n${HELP}`);
  }
}

// `himari-l0 config | head` closes the pipe early: not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0); throw err; });

main().catch((err: Error) => {
  process.stderr.write(`himari-l0: ${err.message}\n`);
  process.exit(err instanceof HimariError && err.code === 'CONFIG_INVALID' ? 2 : 1);
});
