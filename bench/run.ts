import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { BatchPacker, packedSize } from '../src/batch/pack.js';
import { ALL_CHECKS } from '../src/checks/registry.js';
import { CheckEngine } from '../src/checks/engine.js';
import { SyntheticMarket, symbolNames } from '../src/cli/synthetic.js';
import { decodeEvent } from '../src/codec/decode.js';
import { encodeEvent } from '../src/codec/encode.js';
import type { MarketEvent } from '../src/codec/event.js';
import { encodeCopyRow } from '../src/sinks/pg-row.js';
import { checkBatch } from '../workers/check-worker.js';

/**
 * Micro-benchmarks of the hot stages, one event or one 1000-event batch per iteration, on a
 * realistic mix (60 % trades, 37 % quotes, 3 % liquidations, 50 symbols, 5 venues). Writes
 * bench/results.md. Timing lives here, never in tests.
 */
const N = 1000;
const market = new SyntheticMarket(['binance', 'coinbase', 'okx', 'bybit', 'kraken'], symbolNames(50), 1);
const now = Date.now() * 1000;
const events: MarketEvent[] = Array.from({ length: N }, (_, i) => market.next(now + i));
const msgpack = events.map((e) => encodeEvent(e));
const json = events.map((e) => Buffer.from(JSON.stringify(e)));
const engine = new CheckEngine(ALL_CHECKS);
const outcome = { verdict: 0 as const, failedLo: 0, failedHi: 0, score: 1, resync: false };

function packed(): ArrayBuffer {
  const bytes = msgpack.reduce((n, b) => n + b.length, 0);
  const buffer = new ArrayBuffer(packedSize(N, bytes));
  const packer = new BatchPacker(buffer);
  packer.reset(buffer, N);
  msgpack.forEach((b, i) => packer.append(b, i));
  return packer.finish();
}
const packBuffer = new ArrayBuffer(packedSize(N, msgpack.reduce((n, b) => n + b.length, 0)));
const packer = new BatchPacker(packBuffer);
let k = 0;

const bench = new Bench({ time: 1000, warmup: true });
bench
  .add('decode msgpack (per event)', () => { const b = msgpack[k++ % N]!; decodeEvent(b, 0, b.length); })
  .add('decode JSON (per event)', () => { const b = json[k++ % N]!; decodeEvent(b, 0, b.length); })
  .add('pack 1000 messages into a reused buffer', () => {
    packer.reset(packBuffer, N);
    for (let i = 0; i < N; i++) packer.append(msgpack[i]!, i);
    packer.finish();
  })
  .add('checks (per event)', () => { engine.evaluate(events[k++ % N]!, now); })
  .add('COPY row encoding (per event)', () => { encodeCopyRow(events[k++ % N]!, outcome, 0, k); })
  .add('event JSON for Redis (per event)', () => { JSON.stringify(events[k++ % N]!); })
  .add('worker task body: 1000 events decode+check+encode', () => { checkBatch({ batch: packed(), topic: 't', partition: 0 }); });

await bench.run();

const rows = bench.tasks.map((t) => {
  const r = t.result as unknown as { latency?: { p50?: number; mean?: number }; throughput?: { mean?: number } } | undefined;
  const p50ns = (r?.latency?.p50 ?? r?.latency?.mean ?? NaN) * 1e6;
  const perEvent = t.name.includes('1000') ? p50ns / N : p50ns;
  return `| ${t.name} | ${p50ns >= 1e6 ? (p50ns / 1e6).toFixed(2) + ' ms' : p50ns >= 1e3 ? (p50ns / 1e3).toFixed(2) + ' µs' : p50ns.toFixed(0) + ' ns'} | ${perEvent.toFixed(0)} ns |`;
});
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const md = `# Micro-benchmark results

\`npm run bench\` on ${availableParallelism()} × ${cpu}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.
Median (p50) time per iteration; single thread. Numbers move by ±10-20 % between runs on this
shared machine: compare rows of one run.

| stage | p50 per iteration | per event |
|---|---|---|
${rows.join('\n')}
`;
const out = fileURLToPath(new URL('../../bench/results.md', import.meta.url));
writeFileSync(out, md);
process.stdout.write(md);
