import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { runLoadtest, type LoadtestOptions } from '../../src/loadtest/run.js';
import { LatencyHistogram } from '../../src/obs/latency-histogram.js';
import { produce } from '../../src/loadtest/generator.js';
import { cleanupRun } from '../../src/loadtest/run-context.js';
import { INTENDED_SEND_HEADER, intendedSendMs } from '../../src/source/intended-send.js';
import { cleanup, readTopic, testConfig } from '../helpers/services.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Correctness only: counts, histograms, files. Timings are never asserted (2 shared cores). */
describe('loadtest end to end (real Kafka, Redis, PostgreSQL)', { timeout: 120_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'himari-lt-'));
  const { config, env } = testConfig();
  after(() => rmSync(out, { recursive: true, force: true }));

  const options = async (o: Partial<LoadtestOptions>): Promise<LoadtestOptions> => ({
    mode: 'rate', steps: [{ fromS: 0, rate: 500 }], durationS: 2, warmupS: 0, transitS: 0, count: 0, stampBacklog: false, processes: 1, symbols: 5, venues: ['binance', 'okx'], seed: 7,
    stepS: 5, startRate: 500, maxRate: 1000, maxSteps: 1,
    postgresUrl: env.HIMARI_POSTGRES_URL!, redisUrl: env.HIMARI_REDIS_URL!, metricsPort: await freePort(), partitions: 2, threads: 1, stores: ['redis', 'postgres'],
    outDir: out, keep: false, log: () => {},
    ...o,
  });

  it('open loop: every sent message is measured once per sink and at dispatch, and the report has every section', async () => {
    const statuses: string[] = [];
    const r = await runLoadtest(config, await options({ progress: (s) => statuses.push(s) }));
    // The status line of a terminal: once a second from the sampler; not part of the result.
    assert.ok(statuses.length >= 1);
    assert.match(statuses[0]!, /^loadtest: -?[\d.]+ s: sent \d+ \(\d+\/s\), committed \d+\/s, lag \d+, processor CPU [\d.]+ %, RSS \d+ MB$/);
    assert.ok(!('progress' in r.options) && !('log' in r.options));
    assert.equal(r.generator.produced, 1000);
    assert.equal(r.generator.delivered, 1000);
    assert.equal(r.processor.messages, 1000);
    assert.deepEqual(Object.keys(r.latency).sort(), ['dispatch', 'postgres', 'redis']);
    // Dispatch (packed for a worker) comes before either sink's confirmed write.
    assert.ok(r.latency.dispatch!.summary.p50 <= r.latency.redis!.summary.p50 && r.latency.dispatch!.summary.p50 <= r.latency.postgres!.summary.p50);
    assert.deepEqual(Object.keys(r.sinkWrites).sort(), ['postgres', 'redis']);
    for (const [sink, l] of Object.entries(r.latency)) {
      assert.equal(l.summary.count, 1000, `${sink}: merged per-second histograms hold every message`);
      assert.equal(l.processorTotalCount, 1000, `${sink}: the processor's own total agrees`);
      assert.equal(LatencyHistogram.decode(l.histogram).total, 1000);
      assert.ok(l.summary.max >= l.summary.p50 && l.summary.p50 > 0);
      const perSecond = r.latencyOverTime.reduce((n, row) => n + (row.sinks[sink]?.count ?? 0), 0);
      assert.equal(perSecond, 1000);
    }
    assert.ok(r.samples.length >= 1);
    assert.ok(r.processor.readyAfterMs > 0 && r.processor.peakRssBytes > 0 && r.processor.cpuMs > 0);
    for (const f of [r.files.json, r.files.html, join(out, 'loadtest-latest.json'), join(out, 'loadtest-latest.html')]) assert.ok(existsSync(f), f);
    assert.deepEqual(JSON.parse(readFileSync(r.files.json, 'utf8')).latency.redis.summary, r.latency.redis!.summary);
    const html = readFileSync(r.files.html, 'utf8');
    for (const id of ['summary', 'latency-over-time', 'latency-distribution', 'throughput-lag', 'cpu-rss']) assert.match(html, new RegExp(`<section id="${id}">`));
    assert.ok((html.match(/<svg /g)?.length ?? 0) >= 6);
    assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/, 'self-contained: no external resource');
    // Cleaned up: the run's table is gone.
    const c = new pg.Client({ connectionString: env.HIMARI_POSTGRES_URL! });
    await c.connect();
    try {
      const t = await c.query('SELECT to_regclass($1) AS t', [r.names.table]);
      assert.equal(t.rows[0].t, null);
    } finally {
      await c.end();
    }
  });

  it('warm-up and Kafka transit: the warm-up is left out of the totals and reported apart; the bare consumer measures the transit window', async () => {
    const r = await runLoadtest(config, await options({ warmupS: 1, transitS: 1 }));
    // 1 s of warm-up then 2 s measured, at 500/s.
    assert.equal(r.generator.produced, 1500);
    assert.equal(r.warmup?.messages, 500);
    assert.equal(r.processor.messages, 1000, 'CPU per message counts the measured window only');
    for (const [stage, l] of Object.entries(r.latency)) {
      const warmCount: number = r.warmup?.latency[stage]?.count ?? -1;
      assert.equal(l.summary.count + warmCount, 1500, `${stage}: every event is either in the window or in the warm-up`);
      assert.ok(l.summary.count >= 500, `${stage}: the window holds at least its last whole second`);
      const perSecond = r.latencyOverTime.reduce((n, row) => n + (row.sinks[stage]?.count ?? 0), 0);
      assert.equal(perSecond, 1500);
    }
    assert.ok(r.latencyOverTime.some((row) => row.t < 0), 'warm-up seconds are before t = 0');
    // Transit: 1 s warm-up + 1 s at 500/s, all received; only the second's 500 measured.
    assert.ok(r.transit !== undefined);
    assert.equal(r.transit.received, 1000);
    assert.equal(r.transit.latency.count, 500);
    assert.ok(r.transit.latency.p50 > 0 && r.transit.latency.max >= r.transit.latency.p50);
    const html = readFileSync(r.files.html, 'utf8');
    assert.match(html, /Kafka transit alone/);
    assert.match(html, /warm-up: redis/);
  });

  it('drain: the backlog is drained and read again by the bare consumer', async () => {
    const o = await options({ mode: 'drain', count: 3000, keep: true });
    const r = await runLoadtest(config, o);
    // The backlog is produced as the gateway produces events: no header (--stamped adds one).
    const backlog = await readTopic(config, r.names.topic, 3000).finally(() => cleanupRun(config, o, r.names));
    assert.equal(backlog.length, 3000);
    assert.deepEqual(backlog.filter((m) => Object.keys(m.headers).length > 0), []);
    assert.equal(r.options.stampBacklog, false);
    assert.ok(r.drain !== undefined);
    assert.equal(r.drain.count, 3000);
    assert.equal(r.drain.ceiling.messages, 3000);
    assert.ok(r.drain.ceiling.cpuUsPerMessage > 0, 'the bare loop used CPU for its messages');
    assert.ok(r.drain.eventsPerSec > 0 && r.drain.ratioToCeiling > 0);
    assert.ok(r.drain.machineIdle !== null && r.drain.machineIdle >= 0 && r.drain.machineIdle <= 1, String(r.drain.machineIdle));
    // The services run on this machine (the scripts start them): each one's CPU is found by name.
    assert.ok(r.drain.machineUsPerEvent !== null && r.drain.machineUsPerEvent > 0);
    for (const s of ['postgres', 'redis', 'kafka'] as const) assert.ok(r.drain.services[s] !== null && r.drain.services[s]! >= 0, `${s}: ${JSON.stringify(r.drain.services)}`);
    assert.ok(r.drain.services.postgres! + r.drain.services.redis! > 0, 'the sinks\' servers worked for the drain');
    assert.equal(r.processor.messages, 3000);
    for (const l of Object.values(r.latency)) assert.equal(l.summary.count, 3000);
    // CPU by thread over the drain: the main thread's and the one worker's (it reported its tid).
    const t = r.processor.threads!;
    assert.ok(t !== null, 'per-thread CPU measured');
    assert.equal(t.workerUsPerEvent.length, 1);
    assert.ok(t.mainUsPerEvent > 0 && t.workerUsPerEvent[0]! > 0, JSON.stringify(t));
    assert.ok(t.busiestUsPerEvent >= Math.max(t.mainUsPerEvent, t.workerUsPerEvent[0]!) && t.ceilingEventsPerSec > 0);
  });

  it('drain by two processes of one group into Redis alone: each one\'s share and CPU reported, every event consumed once between them', async () => {
    // Into Redis alone (--stores redis), as the two-process measurement runs to spare the cores.
    const r = await runLoadtest(config, await options({ mode: 'drain', count: 4000, processes: 2, partitions: 4, stores: ['redis'] }));
    assert.deepEqual(Object.keys(r.sinkWrites), ['redis']);
    assert.deepEqual(r.options.stores, ['redis']);
    const processes = r.drain!.processes!;
    assert.equal(processes.length, 2);
    assert.notEqual(processes[0]!.pid, processes[1]!.pid);
    // How the share splits depends on when the second joins; a partition handed over is drained
    // and committed first, so none is read twice.
    assert.equal(processes[0]!.consumed + processes[1]!.consumed, 4000, JSON.stringify(processes));
    assert.ok(processes.every((p) => p.consumed === 0 || p.cpuUsPerEvent > 0));
    assert.ok(r.drain!.cpuUsPerEvent > 0);
  });
});

describe('loadtest generator (real Kafka)', { timeout: 60_000 }, () => {
  const stampedRun = testConfig().config;
  const plainRun = testConfig().config;
  after(() => Promise.all([cleanup(stampedRun), cleanup(plainRun)]));

  it('stamps each message with its intended send time unless told not to', async () => {
    const base = { symbols: 3, venues: ['binance'], rate: 0, durationS: 0, count: 50, bad: 0, seed: 3 };
    const before = Date.now();
    await produce(stampedRun.kafka, { ...base, topic: stampedRun.kafka.topics[0]! });
    await produce(plainRun.kafka, { ...base, topic: plainRun.kafka.topics[0]!, stamp: false });
    const stamped = await readTopic(stampedRun, stampedRun.kafka.topics[0]!, 50);
    const plain = await readTopic(plainRun, plainRun.kafka.topics[0]!, 50);
    assert.equal(stamped.length, 50);
    assert.equal(plain.length, 50);
    for (const m of stamped) {
      const sent = intendedSendMs([{ [INTENDED_SEND_HEADER]: m.headers[INTENDED_SEND_HEADER]! }]);
      assert.ok(sent >= before - 1 && sent <= Date.now(), `${m.headers[INTENDED_SEND_HEADER]}`);
    }
    assert.deepEqual(plain.filter((m) => Object.keys(m.headers).length > 0), []);
  });
});
