import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../src/config/load.js';
import { IngestGateway } from '../src/ingest/gateway.js';
import { IngestMetrics } from '../src/ingest/metrics.js';

/**
 * The ingest gateway's latency: a venue message received → its event acknowledged by Kafka (the
 * local broker, acks=all), at RATE messages/s from a stand-in Binance venue in a process of its
 * own (bench/venue-feed.ts). Warm-up excluded. Prints one JSON line.
 *   node dist/bench/ingest-latency.js --rate 10000 --seconds 30 --linger 1
 * Needs the broker (scripts/services.sh start) and a quiet machine.
 */
const { values } = parseArgs({ options: {
  rate: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '30' }, warmup: { type: 'string', default: '5' },
  linger: { type: 'string', default: '1' }, symbols: { type: 'string', default: '20' },
} });
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const symbols = Number(values.symbols);

const venue = spawn(process.execPath, [fileURLToPath(new URL('./venue-feed.js', import.meta.url))], {
  env: { ...process.env, RATE: String(rate), SYMBOLS: String(symbols) }, stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise<number>((resolve) => venue.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
const feed = { venue: 'binance', symbols: Array.from({ length: symbols }, (_, i) => `SYM${i}USDT`), channels: ['trades'], url: `ws://127.0.0.1:${port}/stream` };
const config = loadConfig({ env: {
  HIMARI_KAFKA_BROKERS: process.env.HIMARI_KAFKA_BROKERS ?? '127.0.0.1:9092', HIMARI_KAFKA_CREATE_TOPICS: 'true', HIMARI_KAFKA_TOPIC_PARTITIONS: '8',
  HIMARI_INGEST_TOPIC: `bench.ingest.${Date.now().toString(36)}`, HIMARI_INGEST_FEEDS: JSON.stringify({ bench: feed }), HIMARI_INGEST_LINGER_MS: values.linger!,
} });
const gateway = new IngestGateway(config.kafka, config.ingest, new IngestMetrics({ defaultMetrics: false }), pino({ level: 'warn' }));
try {
  await gateway.start();
  await new Promise((r) => setTimeout(r, warmup * 1000));
  gateway.ackLatency.reset();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = process.cpuUsage(cpu0);
  const elapsedS = (performance.now() - t0) / 1000;
  const h = gateway.ackLatency;
  const ms = (us: number) => Math.round(us / 10) / 100;
  process.stdout.write(`${JSON.stringify({
    rate, seconds, linger: Number(values.linger), acknowledged: h.total, perSecond: Math.round(h.total / elapsedS),
    receiveToAckMs: { p50: ms(h.quantile(0.5)), p99: ms(h.quantile(0.99)), p999: ms(h.quantile(0.999)), max: ms(h.max) },
    cpuUsPerEvent: Math.round(((cpu.user + cpu.system) / h.total) * 10) / 10,
  })}\n`);
} finally {
  await gateway.close(5_000);
  venue.kill();
}
