import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { LatencyHistogram, type EncodedHistogram } from '../src/obs/latency-histogram.js';

/**
 * What running the gateway inside the processor's process (`ingest.inProcess`) costs, against
 * the two as processes of their own (`himari-l0 ingest` beside `himari-l0 run`): a stand-in
 * Binance venue (bench/venue-feed.ts) at RATE messages/s, the gateway producing to a fresh topic,
 * the processor consuming it into Redis and PostgreSQL. Per mode, alternating, ROUNDS times: the
 * gateway's receive → Kafka acknowledged (its /debug/latency, warm-up excluded), the CPU of the
 * processes per event (/proc), and the processor's lag at the end. Prints one JSON line per run.
 *   node dist/bench/ingest-in-process.js --rate 10000 --seconds 20 --rounds 2
 * Needs the services (scripts/services.sh start) and a quiet machine.
 */
const { values } = parseArgs({ options: {
  rate: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '20' }, warmup: { type: 'string', default: '10' },
  rounds: { type: 'string', default: '2' }, symbols: { type: 'string', default: '20' },
} });
const RATE = Number(values.rate);
const SYMBOLS = Number(values.symbols);
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const PROCESSOR_PORT = 9470;
const INGEST_PORT = 9471;
const TICK_US = 1e6 / 100; // /proc's clock ticks (USER_HZ)

function cpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

async function ready(port: number): Promise<void> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(250)) if ((await get(port, '/readyz')).status === 200) return;
  throw new Error(`:${port} not ready within 120 s`);
}

/** The events of `after` not in `before` (the same histogram read twice). */
function since(before: EncodedHistogram, after: EncodedHistogram): LatencyHistogram {
  const counts = new Map<number, number>();
  for (let i = 0; i < after.buckets.length; i += 2) counts.set(after.buckets[i]!, after.buckets[i + 1]!);
  for (let i = 0; i < before.buckets.length; i += 2) counts.set(before.buckets[i]!, counts.get(before.buckets[i]!)! - before.buckets[i + 1]!);
  const buckets = [...counts].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]).flat();
  return LatencyHistogram.decode({ ...after, total: after.total - before.total, sum: after.sum - before.sum, buckets });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
}

async function run(mode: 'separate' | 'in-process'): Promise<void> {
  const id = `${Date.now().toString(36)}`;
  const topic = `bench.inproc.${id}`;
  const venue = spawn(process.execPath, [fileURLToPath(new URL('./venue-feed.js', import.meta.url))], {
    env: { ...process.env, RATE: String(RATE), SYMBOLS: String(SYMBOLS) }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const venuePort = await new Promise<number>((resolve) => venue.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  const feed = { venue: 'binance', symbols: Array.from({ length: SYMBOLS }, (_, i) => `SYM${i}USDT`), channels: ['trades'], url: `ws://127.0.0.1:${venuePort}/stream` };
  const env = {
    ...process.env, HIMARI_LOG_LEVEL: 'warn', HIMARI_KAFKA_CREATE_TOPICS: 'true', HIMARI_KAFKA_TOPIC_PARTITIONS: '8',
    HIMARI_KAFKA_TOPICS: topic, HIMARI_INGEST_TOPIC: topic, HIMARI_INGEST_DEAD_LETTER_TOPIC: `${topic}.ingest-dlq`, HIMARI_KAFKA_DEAD_LETTER_TOPIC: `${topic}.dlq`,
    HIMARI_KAFKA_GROUP_ID: `bench-${id}`, HIMARI_POSTGRES_TABLE: `bench_inproc_${id}`, HIMARI_REDIS_KEY_PREFIX: `bench:${id}:`,
    HIMARI_METRICS_PORT: String(PROCESSOR_PORT), HIMARI_INGEST_METRICS_PORT: String(INGEST_PORT), HIMARI_INGEST_FEEDS: JSON.stringify({ bench: feed }),
  };
  const processes = mode === 'in-process'
    ? [spawn(process.execPath, [CLI, 'run'], { env: { ...env, HIMARI_INGEST_IN_PROCESS: 'true' }, stdio: 'inherit' })]
    : [spawn(process.execPath, [CLI, 'run'], { env, stdio: 'inherit' }), spawn(process.execPath, [CLI, 'ingest'], { env, stdio: 'inherit' })];
  try {
    await ready(PROCESSOR_PORT);
    await ready(INGEST_PORT);
    await sleep(Number(values.warmup) * 1000);
    const before = JSON.parse((await get(INGEST_PORT, '/debug/latency')).body) as { receiveToAck: EncodedHistogram };
    const cpu0 = processes.map((p) => cpuUs(p.pid!));
    const t0 = performance.now();
    await sleep(Number(values.seconds) * 1000);
    const after = JSON.parse((await get(INGEST_PORT, '/debug/latency')).body) as { receiveToAck: EncodedHistogram };
    const cpu = processes.map((p, i) => cpuUs(p.pid!) - cpu0[i]!);
    const elapsedS = (performance.now() - t0) / 1000;
    const lag = (await get(PROCESSOR_PORT, '/metrics')).body.split('\n').filter((l) => l.startsWith('himari_consumer_lag_messages')).reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
    const h = since(before.receiveToAck, after.receiveToAck);
    const ms = (us: number) => Math.round(us / 10) / 100;
    process.stdout.write(`${JSON.stringify({
      mode, rate: RATE, acknowledgedPerSecond: Math.round(h.total / elapsedS),
      receiveToAckMs: { p50: ms(h.quantile(0.5)), p99: ms(h.quantile(0.99)), p999: ms(h.quantile(0.999)) },
      cpuUsPerEvent: cpu.map((c) => Math.round((c / h.total) * 10) / 10), cpuUsPerEventTotal: Math.round((cpu.reduce((a, b) => a + b, 0) / h.total) * 10) / 10,
      processorLagAtEnd: lag,
    })}\n`);
  } finally {
    await Promise.all(processes.map(stop));
    venue.kill();
    const client = new pg.Client({ connectionString: process.env.HIMARI_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
    await client.connect().then(() => client.query(`DROP TABLE IF EXISTS bench_inproc_${id} CASCADE`)).finally(() => client.end()).catch(() => {});
  }
}

for (let round = 0; round < Number(values.rounds); round++) {
  for (const mode of ['separate', 'in-process'] as const) await run(mode);
}
