import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import pino from 'pino';
import { BatchPacker, packedSize } from '../src/batch/pack.js';
import { SyntheticMarket, symbolNames } from '../src/codec/synthetic.js';
import { encodeEvent } from '../src/codec/encode.js';
import { loadConfig } from '../src/config/load.js';
import { sinkPolicy } from '../src/config/schema.js';
import { pgClientConfig } from '../src/db/client-config.js';
import { ensureDatabase, migrate } from '../src/db/migrate.js';
import { Metrics } from '../src/obs/metrics.js';
import type { CheckResult } from '../src/pool/task.js';
import { CheckWorkerPool } from '../src/pool/worker-pool.js';
import { EventChunk, type MessageSource } from '../src/sinks/chunk.js';
import { SinkCore } from '../src/sinks/core.js';
import { PostgresSink } from '../src/sinks/postgres-sink.js';
import { RedisSink } from '../src/sinks/redis-sink.js';
import { OffsetTracker } from '../src/source/offset-tracker.js';
import { CLOSE_PARTITION, type PlacementAck } from './placement-worker.js';
import { median, quantile } from './stats.js';

/**
 * Where sink I/O should happen, measured (issue #5 item 1). Same input, same worker code for
 * decode + checks + COPY/JSON encoding, same sink drivers against the real Redis and PostgreSQL;
 * only the thread that writes differs:
 *
 *   main          production: workers move payloads back, the main thread writes them through
 *                 one SinkCore per sink (one Redis and one PostgreSQL connection in all)
 *   main-per-slot main thread writes, but with one SinkCore pair per worker slot (as many
 *                 connections as the worker-owned variant: separates placement from connection count)
 *   worker        each worker thread owns a RedisSink and a PostgresSink and writes its batch
 *                 before it returns an acknowledgement
 *
 * Two workers, two partitions (keyed by symbol, each pinned to a worker); one task = one Redis
 * script call + one COPY transaction in every variant. Two modes per variant and batch size:
 *   saturate  closed loop, up to WINDOW batches per partition offered and not yet written:
 *             throughput, CPU per event, main-thread event-loop utilisation
 *   paced     batches offered at PACED_RATE events/s (open loop, below every variant's capacity):
 *             latency from the moment a batch was due to both sinks confirming, and CPU per
 *             event at equal load
 * CPU is process.cpuUsage() (all threads of the process; not the Redis/PostgreSQL servers).
 * Rounds rotate the variant order; the tables report medians over rounds. Writes
 * bench/placement-results.md, keeping its hand-written "## Conclusion" section.
 * Run: `npm run bench:placement` (env: BENCH_ROWS, BENCH_PACED_ROWS, BENCH_PACED_RATE,
 * BENCH_ROUNDS, BENCH_VARIANTS=main,worker).
 */
const ROWS = Number(process.env.BENCH_ROWS ?? 150_000);
const PACED_ROWS = Number(process.env.BENCH_PACED_ROWS ?? 90_000);
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 15_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCHES = [250, 2000];
const THREADS = 2;
const PARTITIONS = 2;
const WINDOW = 4;
const ALL_VARIANTS = ['main', 'main-per-slot', 'worker'] as const;
type Variant = (typeof ALL_VARIANTS)[number];
type Mode = 'saturate' | 'paced';
const VARIANTS: readonly Variant[] = process.env.BENCH_VARIANTS === undefined ? ALL_VARIANTS
  : ALL_VARIANTS.filter((v) => process.env.BENCH_VARIANTS!.split(',').includes(v));

const WORKER_FILE = fileURLToPath(new URL('./placement-worker.js', import.meta.url));
const log = pino({ level: 'silent' });
const config = loadConfig({
  env: {
    HIMARI_REDIS_URL: process.env.HIMARI_REDIS_URL ?? 'redis://127.0.0.1:6379/5',
    HIMARI_REDIS_KEY_PREFIX: 'pl:bench:',
    HIMARI_POSTGRES_URL: process.env.HIMARI_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/himari_pl',
    HIMARI_POSTGRES_TABLE: 'pl_placement_events',
  },
});

interface RunResult {
  mode: Mode;
  variant: Variant;
  batch: number;
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerEvent: number;
  /** Share of wall time the main thread's event loop was busy. */
  mainElu: number;
  batches: number;
}

/** Encoded events per partition, fresh timestamps each run (the time checks compare with now). */
function makeInput(rows: number): Buffer[][] {
  const symbols = symbolNames(50);
  const market = new SyntheticMarket(['binance', 'coinbase', 'okx', 'bybit', 'kraken'], symbols, 7);
  const partitionOf = new Map(symbols.map((s, i) => [s, i % PARTITIONS]));
  const out: Buffer[][] = Array.from({ length: PARTITIONS }, () => []);
  const now = Date.now() * 1000;
  for (let i = 0; i < rows; i++) {
    const e = market.next(now + i);
    out[partitionOf.get(e.symbol)!]!.push(encodeEvent(e));
  }
  return out;
}

/** Offsets of a batch for the sinks: the input index is the Kafka offset. */
class BatchSource implements MessageSource {
  constructor(private readonly values: Buffer[], private readonly base: number) {}
  offset(i: number): number {
    return this.base + i;
  }
  value(i: number): Uint8Array {
    return this.values[this.base + i]!;
  }
}

async function clearRedis(client: Redis): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${config.redis.keyPrefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

function sinkCores(metrics: Metrics, batch: number): Array<SinkCore<EventChunk>> {
  const onPermanentFailure = (): boolean => { throw new Error('a sink refused an event in the benchmark'); };
  // Both sinks write as soon as they are idle, as the worker-owned variant does: the comparison
  // is about where the I/O runs, not about how long a sink waits to fill a batch.
  const policy = { ...sinkPolicy(config.sink, 'redis'), flushWhenIdle: true, batchMaxRows: batch, batchMaxBytes: 256 * 1024 * 1024 };
  return [new PostgresSink(config.postgres), new RedisSink(config.redis)]
    .map((driver) => new SinkCore(driver, { policy, metrics, log, onPermanentFailure }));
}

/** What the benchmark's pool carries with a task: how to pack it again, and what to do with its result. */
interface PlacementTask {
  pack(): ArrayBuffer;
  landed(result: CheckResult): void;
}

async function runOnce(mode: Mode, variant: Variant, batch: number, round: number, admin: pg.Client, redis: Redis): Promise<RunResult> {
  const topic = `pl-bench-${round}-${mode}-${variant}-${batch}`;
  const input = makeInput(mode === 'saturate' ? ROWS : PACED_ROWS);
  await admin.query(`TRUNCATE ${config.postgres.table}`);
  await clearRedis(redis);

  const metrics = new Metrics({ defaultMetrics: false });
  const pool = new CheckWorkerPool<PlacementTask>({
    filename: WORKER_FILE, threads: THREADS, taskRetries: 0, log, metrics,
    workerData: { mode: variant === 'worker' ? 'worker' : 'main', redis: config.redis, postgres: config.postgres },
  });
  const maxValue = input.reduce((m, values) => values.reduce((n, b) => Math.max(n, b.length), m), 0);
  const bufferBytes = packedSize(batch, batch * maxValue);
  const free: ArrayBuffer[] = [];
  const packer = new BatchPacker(new ArrayBuffer(0));
  const emptyBatch = () => { const b = new ArrayBuffer(packedSize(0, 0)); packer.reset(b, 0); return packer.finish(); };
  pool.connect({ repack: (t) => t.pack(), split: () => null }, { onResult: (result, t) => t.landed(result), onFailure: (err) => { throw err; } });
  await pool.warm(emptyBatch); // worker-owned: each worker connects its sinks here

  // Sink cores of the main-thread variants, per slot: [postgres, redis].
  const coresBySlot: Array<Array<SinkCore<EventChunk>>> = [];
  if (variant === 'main') { const c = sinkCores(metrics, batch); for (let s = 0; s < THREADS; s++) coresBySlot.push(c); }
  if (variant === 'main-per-slot') for (let s = 0; s < THREADS; s++) coresBySlot.push(sinkCores(metrics, batch));
  const allCores = [...new Set(coresBySlot.flat())];
  await Promise.all(allCores.map((c) => c.connect()));

  const tracker = new OffsetTracker();
  const latencies: number[] = [];
  const totalBatches = input.reduce((n, values) => n + Math.ceil(values.length / batch), 0);
  let finished = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => { resolveDone = r; });
  const state = input.map(() => ({ next: 0, inFlight: 0 }));

  /** Hands partition p's next batch to its worker slot; `offeredAt` starts its latency clock. */
  const offer = (p: number, offeredAt: number): void => {
    const values = input[p]!;
    const st = state[p]!;
    const slot = pool.slotOf(topic, p);
    const base = st.next;
    const n = Math.min(batch, values.length - base);
    st.next += n;
    st.inFlight++;
    const landed = () => {
      latencies.push(performance.now() - offeredAt);
      st.inFlight--;
      if (++finished === totalBatches) resolveDone();
      else if (mode === 'saturate') fill(p);
    };
    pool.enqueue(slot, () => {
      const pack = () => {
        const buffer = free.pop() ?? new ArrayBuffer(bufferBytes);
        packer.reset(buffer, n);
        for (let i = 0; i < n; i++) packer.append(values[base + i]!, base + i);
        return packer.finish();
      };
      return {
        task: { batch: pack(), topic, partition: p },
        dispatched: { pack, landed: (result) => {
          if (variant === 'worker') {
            const ack = result as unknown as PlacementAck;
            free.push(ack.batch);
            // After the pool's result callback has returned: the next offer starts on a clean stack.
            queueMicrotask(landed);
            return;
          }
          const r = result as CheckResult;
          free.push(r.batch);
          const ticket = tracker.partition(topic, p).track(base, base + n - 1, 1);
          const cores = coresBySlot[slot]!;
          ticket.expect(cores.length);
          ticket.onDone = landed;
          const source = new BatchSource(values, base);
          for (const core of cores) core.push(new EventChunk(r, source, topic, p, 0, n, ticket, new Float64Array(n)));
          ticket.ack();
        } },
      };
    });
  };
  /** Saturation: keep WINDOW batches of the partition offered and not yet written. */
  const fill = (p: number): void => {
    while (state[p]!.inFlight < WINDOW && state[p]!.next < input[p]!.length) offer(p, performance.now());
  };
  /** Paced: offer each batch when its last event would have arrived at PACED_RATE (no catching up by skipping). */
  const pace = (p: number, t0: number): void => {
    const perPartitionRate = PACED_RATE / PARTITIONS;
    const tick = () => {
      while (state[p]!.next < input[p]!.length) {
        const due = t0 + (1000 * Math.min(state[p]!.next + batch, input[p]!.length)) / perPartitionRate;
        const now = performance.now();
        if (due > now) { setTimeout(tick, due - now); return; }
        offer(p, due); // latency from when the batch was due, so a late timer counts against the run
      }
    };
    tick();
  };

  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  for (let p = 0; p < PARTITIONS; p++) if (mode === 'saturate') fill(p); else pace(p, t0);
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);

  await Promise.all(allCores.map((c) => c.close()));
  if (variant === 'worker') {
    await Promise.all(Array.from({ length: THREADS }, (_, slot) => pool.control(slot, { batch: emptyBatch(), topic: '', partition: CLOSE_PARTITION })));
  }
  await pool.close();

  // Everything landed exactly once: every row in PostgreSQL, both Redis watermarks at the end.
  const rows = input.reduce((n, values) => n + values.length, 0);
  const held = (await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${config.postgres.table}`)).rows[0]!.n;
  if (held !== rows) throw new Error(`${variant}: ${held} rows in PostgreSQL, expected ${rows}`);
  for (let p = 0; p < PARTITIONS; p++) {
    const mark = await redis.hget(`${config.redis.keyPrefix}applied:${topic}`, String(p));
    if (Number(mark) !== input[p]!.length - 1) throw new Error(`${variant}: Redis watermark of partition ${p} is ${mark}, expected ${input[p]!.length - 1}`);
  }
  await admin.query(`DELETE FROM himari_sink_offsets WHERE target = $1`, [config.postgres.table]);

  latencies.sort((a, b) => a - b);
  return {
    mode, variant, batch, batches: totalBatches,
    eventsPerSec: rows / seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    cpuUsPerEvent: (cpu.user + cpu.system) / rows,
    mainElu: elu.utilization,
  };
}

const RESULTS_FILE = fileURLToPath(new URL('../../bench/placement-results.md', import.meta.url));
let conclusion = '';
try {
  const previous = readFileSync(RESULTS_FILE, 'utf8');
  const at = previous.indexOf('\n## Conclusion');
  if (at >= 0) conclusion = previous.slice(at + 1);
} catch { /* first run */ }

await ensureDatabase(config.postgres);
await migrate(config.postgres, log);
const admin = new pg.Client(pgClientConfig(config.postgres));
await admin.connect();
const redis = new Redis(config.redis.url);
const pgVersion = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';

const results: RunResult[] = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of ['saturate', 'paced'] as const) {
      for (const batch of BATCHES) {
        // Rotate the order each round so drift on the shared machine does not favour one variant.
        const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
        for (const variant of order) {
          const r = await runOnce(mode, variant, batch, round, admin, redis);
          results.push(r);
          process.stderr.write(`round ${round} ${mode} ${variant} ${batch}: ${Math.round(r.eventsPerSec)} ev/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, ${r.cpuUsPerEvent.toFixed(1)} µs CPU/ev, main ELU ${(100 * r.mainElu).toFixed(0)} %\n`);
        }
      }
    }
  }
} finally {
  await admin.query(`DROP TABLE IF EXISTS ${config.postgres.table} CASCADE`).catch(() => {});
  await admin.query(`DELETE FROM himari_sink_offsets WHERE target = $1`, [config.postgres.table]).catch(() => {});
  await clearRedis(redis).catch(() => {});
  await admin.end();
  redis.disconnect();
}

const LABEL: Record<Variant, string> = {
  main: '**main thread** (production): 1 Redis + 1 PostgreSQL connection',
  'main-per-slot': 'main thread, one sink pair per worker slot: 2 + 2 connections',
  worker: 'worker-owned: each worker its own Redis + PostgreSQL connection (2 + 2)',
};
const medians = (mode: Mode, variant: Variant, batch: number) => {
  const runs = results.filter((r) => r.mode === mode && r.batch === batch && r.variant === variant);
  return {
    runs,
    eps: median(runs.map((r) => r.eventsPerSec)), p50: median(runs.map((r) => r.p50Ms)), p99: median(runs.map((r) => r.p99Ms)),
    cpu: median(runs.map((r) => r.cpuUsPerEvent)), elu: median(runs.map((r) => r.mainElu)),
  };
};
const ratio = (x: number, base: number) => (Number.isFinite(base) && base > 0 ? (x / base).toFixed(2) : 'n/a');
const saturated: string[] = [];
const paced: string[] = [];
for (const batch of BATCHES) {
  const baseS = medians('saturate', 'main', batch);
  const baseP = medians('paced', 'main', batch);
  for (const variant of VARIANTS) {
    const s = medians('saturate', variant, batch);
    const first = variant === VARIANTS[0];
    saturated.push(`| ${first ? `${batch} events/task (${s.runs[0]!.batches} tasks)` : ''} | ${LABEL[variant]} | ${Math.round(s.eps)} | ${ratio(s.eps, baseS.eps)} | ${s.cpu.toFixed(1)} | ${ratio(s.cpu, baseS.cpu)} | ${Math.round(100 * s.elu)} % | ${s.runs.map((r) => Math.round(r.eventsPerSec)).join(' / ')} |`);
    const p = medians('paced', variant, batch);
    paced.push(`| ${first ? `${batch} events/task (${p.runs[0]!.batches} tasks)` : ''} | ${LABEL[variant]} | ${p.p50.toFixed(1)} | ${p.p99.toFixed(1)} | ${ratio(p.p99, baseP.p99)} | ${p.cpu.toFixed(1)} | ${ratio(p.cpu, baseP.cpu)} | ${Math.round(100 * p.elu)} % | ${p.runs.map((r) => `${r.p50Ms.toFixed(1)}/${r.p99Ms.toFixed(1)}`).join(' · ')} |`);
  }
}

const date = new Date().toISOString().slice(0, 10);
const md = `# Sink I/O placement: main thread vs worker-owned connections

\`npm run bench:placement\` on ${availableParallelism()} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version},
PostgreSQL ${pgVersion} and Redis ${redisVersion} on the same machine (shared with other work: noisy), ${date}.

Synthetic events (60 % trades, 37 % quotes, 3 % liquidations, 50 symbols, 5 venues) encoded as msgpack, two
partitions keyed by symbol, ${THREADS} worker threads (each partition pinned to one). Every variant runs the same
worker code (decode, the checks, COPY rows, event JSON) and the production sink drivers (PostgreSQL: COPY +
watermark in one transaction; Redis: one Lua call per batch); one task is one COPY transaction plus one Redis
call. After each run the benchmark checks that PostgreSQL holds every row once and both Redis watermarks reached
the end. ${ROUNDS} rounds, variant order rotated each round; medians over rounds, per-round values in the last column.
CPU: \`process.cpuUsage()\` of the whole process (main thread + workers; the Redis and PostgreSQL servers not
included) per event. Main ELU: share of the run the main thread's event loop was busy.

## Saturated: throughput

${ROWS} events per run, closed loop, at most ${WINDOW} batches per partition offered and not yet written.

| batch | placement | events/s | vs main | CPU µs/event | vs main | main ELU | events/s per round |
|---|---|---|---|---|---|---|---|
${saturated.join('\n')}

## Paced at ${PACED_RATE} events/s: latency

${PACED_ROWS} events per run; each batch offered when its last event would have arrived at ${PACED_RATE} events/s.
Latency: from when the batch was due to both sinks confirming it (ms; includes waiting for the worker).

| batch | placement | p50 ms | p99 ms | p99 vs main | CPU µs/event | vs main | main ELU | p50/p99 per round |
|---|---|---|---|---|---|---|---|---|
${paced.join('\n')}
${conclusion === '' ? '' : '\n' + conclusion}`;
writeFileSync(RESULTS_FILE, md);
process.stdout.write(md);
