import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { KafkaConfig } from '../src/config/schema.js';
import { loadConfig } from '../src/config/load.js';
import { threadCpuUs } from './cpu.js';
import { median } from './stats.js';

/**
 * Where the source stage should run: node-rdkafka's consume loop and the packing of its batches
 * on the main thread (today), or in a worker thread of its own that moves each packed batch to
 * the main thread. node-rdkafka loads in one thread per process, so each placement runs in a
 * process of its own, on the same backlog, alternating, `ROUNDS` times:
 *
 *   main:    main thread: consume + pack + post the batch to a thread that posts it back
 *            (a check worker's hop, without the checks)
 *   thread:  source thread: consume + pack + post the batch to the main thread, which posts it
 *            back (the buffer's return for reuse)
 *
 * Each reports the main thread's and the source's CPU per message (/proc/thread-self) and the
 * rate from its first batch to its last. Writes bench/source-thread-results.md.
 * Env: SOURCE_BENCH_COUNT (500000), SOURCE_BENCH_ROUNDS (3), SOURCE_BENCH_PARTITIONS (2); Kafka
 * from the usual HIMARI_KAFKA_* settings.
 */

interface Run {
  placement: 'main' | 'thread';
  messages: number;
  /** First batch to last, ms. */
  readMs: number;
  mainCpuUs: number;
  sourceCpuUs: number;
  processCpuUs: number;
}

interface SourceThreadData { kafka: KafkaConfig; topic: string; count: number }

type FromSource = { kind: 'batch'; buffer: ArrayBuffer; messages: number } | { kind: 'done'; seen: number; cpuUs: number };

const SELF = fileURLToPath(import.meta.url);
const BUFFER_BYTES = 1 << 20;

if (!isMainThread) {
  // The source thread: the only thread of its process that loads node-rdkafka.
  const { kafka, topic, count } = workerData as SourceThreadData;
  const { runSourceStage } = await import('./source-stage.js');
  const free: ArrayBuffer[] = [];
  parentPort!.on('message', (b: ArrayBuffer) => free.push(b));
  const cpu0 = threadCpuUs();
  const seen = await runSourceStage(kafka, topic, count,
    (buffer, messages) => parentPort!.postMessage({ kind: 'batch', buffer, messages } satisfies FromSource, [buffer]),
    (bytes) => (bytes <= BUFFER_BYTES ? free.pop() ?? new ArrayBuffer(BUFFER_BYTES) : new ArrayBuffer(bytes)));
  parentPort!.postMessage({ kind: 'done', seen, cpuUs: threadCpuUs() - cpu0 } satisfies FromSource);
} else if (process.argv[2] === '--placement') {
  const placement = process.argv[3] as Run['placement'];
  const [topic, count] = [process.argv[4]!, Number(process.argv[5])];
  process.stdout.write(JSON.stringify(await placementRun(placement, topic, count)) + '\n');
  process.exit(0);
} else {
  await main();
}

/** One placement in this process (a child of `main`). */
async function placementRun(placement: Run['placement'], topic: string, count: number): Promise<Run> {
  const kafka = loadConfig().kafka;
  let first = 0;
  let last = 0;
  const cpu0 = process.cpuUsage();
  const main0 = threadCpuUs();
  let sourceCpuUs: number;
  if (placement === 'thread') {
    const source = new Worker(SELF, { workerData: { kafka, topic, count } satisfies SourceThreadData });
    sourceCpuUs = await new Promise<number>((resolve, reject) => {
      source.on('error', reject);
      source.on('message', (m: FromSource) => {
        if (m.kind === 'done') { resolve(m.cpuUs); return; }
        last = performance.now();
        if (first === 0) first = last;
        source.postMessage(m.buffer, [m.buffer]);
      });
    });
    await source.terminate();
  } else {
    const { runSourceStage } = await import('./source-stage.js');
    // The hop a batch makes to a check worker and back, without the checks.
    const echo = new Worker('const { parentPort } = require("node:worker_threads"); parentPort.on("message", (b) => parentPort.postMessage(b, [b]));', { eval: true });
    const free: ArrayBuffer[] = [];
    echo.on('message', (b: ArrayBuffer) => free.push(b));
    const s0 = threadCpuUs();
    await runSourceStage(kafka, topic, count, (buffer) => {
      last = performance.now();
      if (first === 0) first = last;
      echo.postMessage(buffer, [buffer]);
    }, (bytes) => (bytes <= BUFFER_BYTES ? free.pop() ?? new ArrayBuffer(BUFFER_BYTES) : new ArrayBuffer(bytes)));
    sourceCpuUs = threadCpuUs() - s0;
    await echo.terminate();
  }
  const cpu = process.cpuUsage(cpu0);
  return { placement, messages: count, readMs: last - first, mainCpuUs: threadCpuUs() - main0, sourceCpuUs, processCpuUs: cpu.user + cpu.system };
}

function child(placement: Run['placement'], topic: string, count: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [SELF, '--placement', placement, topic, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Run) : reject(new Error(`${placement} run exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const count = Number(process.env.SOURCE_BENCH_COUNT ?? 500_000);
  const rounds = Number(process.env.SOURCE_BENCH_ROUNDS ?? 3);
  const partitions = Number(process.env.SOURCE_BENCH_PARTITIONS ?? 2);
  const config = loadConfig();
  const topic = `source-bench-${randomBytes(3).toString('hex')}`;
  // The backlog, produced once by the load test's generator (this process loads node-rdkafka;
  // the placements run in processes of their own).
  const { ensureTopics } = await import('../src/source/kafka-admin.js');
  const { createProducer, connectProducer } = await import('../src/kafka/clients.js');
  const { OpenLoopGenerator } = await import('../src/loadtest/generator.js');
  const kafka = { ...config.kafka, topics: [topic] };
  await ensureTopics(kafka, [topic], partitions);
  const producer = createProducer(kafka, 'source-bench');
  await connectProducer(producer, kafka);
  const stats = await new OpenLoopGenerator(producer, { topic, symbols: 20, venues: ['binance', 'coinbase', 'okx', 'bybit', 'kraken'], bad: 0, seed: 42, rate: 0, durationS: 0, count }).run();
  await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  process.stderr.write(`backlog: ${stats.delivered} messages on ${topic} (${partitions} partitions)\n`);

  const runs: Run[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const placement of ['main', 'thread'] as const) {
      const run = await child(placement, topic, count);
      runs.push(run);
      process.stderr.write(`${placement}: ${line(run)}\n`);
    }
  }
  const { default: Kafka } = await import('node-rdkafka');
  const { kafkaClientConfig } = await import('../src/kafka/client-config.js');
  const admin = Kafka.AdminClient.create(kafkaClientConfig(kafka, 'source-bench-admin'));
  await new Promise<void>((resolve) => admin.deleteTopic(topic, 10_000, () => resolve()));
  admin.disconnect();

  const per = (p: Run['placement'], f: (r: Run) => number) => median(runs.filter((r) => r.placement === p).map(f));
  const rate = (r: Run) => (r.messages * 1000) / r.readMs;
  const us = (pick: (r: Run) => number) => (r: Run) => pick(r) / r.messages;
  const rows: Array<[string, (r: Run) => number, number]> = [
    ['messages/s, first batch to last', rate, 0],
    ['main thread, µs CPU per message', us((r) => r.mainCpuUs), 2],
    ['source stage\'s thread, µs CPU per message', us((r) => r.sourceCpuUs), 2],
    ['whole process, µs CPU per message', us((r) => r.processCpuUs), 2],
  ];
  const md = `# Source stage: on the main thread or a thread of its own

\`node dist/bench/source-thread.js\` on ${availableParallelism()} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}:
${count} messages (${partitions} partitions, the load test's synthetic events), each placement in a process of
its own reading the same backlog, alternating, ${rounds} rounds; medians (every run below).

| | main thread (today) | source thread | ratio |
|---|---|---|---|
${rows.map(([name, f, dp]) => { const a = per('main', f); const b = per('thread', f); return `| ${name} | ${a.toFixed(dp)} | ${b.toFixed(dp)} | ${(b / a).toFixed(2)} |`; }).join('\n')}

Runs: ${runs.map((r) => `${r.placement} ${line(r)}`).join('; ')}.
`;
  writeFileSync(fileURLToPath(new URL('../../bench/source-thread-results.md', import.meta.url)), md);
  process.stdout.write(md);
}

function line(r: Run): string {
  return `${Math.round((r.messages * 1000) / r.readMs)}/s, main ${(r.mainCpuUs / r.messages).toFixed(2)} µs, source ${(r.sourceCpuUs / r.messages).toFixed(2)} µs, process ${(r.processCpuUs / r.messages).toFixed(2)} µs per message`;
}
