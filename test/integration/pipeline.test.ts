import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { MessageChannel } from 'node:worker_threads';
import { App } from '../../src/app.js';
import { openLocalKafkaClients, type KafkaClients } from '../../src/kafka/kafka-clients.js';
import { PortKafkaClients } from '../../src/kafka/port-clients.js';
import { serveKafkaClients } from '../../src/kafka/serve-clients.js';
import { migrate } from '../../src/db/migrate.js';
import { poisonMessage } from '../../src/codec/synthetic.js';
import { normalizeRecording } from '../../src/replay/recording.js';
import { replay } from '../../src/replay/replay.js';
import { recordingFiles } from '../helpers/recordings.js';
import { CRASH_MARKER } from '../helpers/crash-on-marker-worker.js';
import { encodeEvent } from '../../src/codec/encode.js';
import type { MarketEvent } from '../../src/codec/event.js';
import {
  cleanup, committedOffsets, createTopics, endOffsets, produceRaw, readTopic, redisClient, testConfig, waitAppCommitted, waitUntil, withPg,
} from '../helpers/services.js';

const VENUES = ['binance', 'okx', 'bybit'];
const SYMBOLS = ['BTC-USDT', 'ETH-USDT', 'SOL-USDT', 'XRP-USDT', 'DOGE-USDT', 'ADA-USDT', 'AVAX-USDT', 'LINK-USDT'];
const BASE_US = Date.now() * 1000 - 60_000_000;

/** 3,000 events with strictly increasing exchange times; a few crossed quotes (rejected). */
function knownEvents(): MarketEvent[] {
  const events: MarketEvent[] = [];
  // Trade ids contiguous per venue and symbol, as venues number them.
  const nextId = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const symbol = SYMBOLS[i % SYMBOLS.length]!;
    const venue = VENUES[Math.floor(i / SYMBOLS.length) % VENUES.length]!;
    const ts = BASE_US + i * 1000;
    // Prices stay inside every quote's spread (no M2 flags): the verdicts are known.
    const price = 100 + (i % 97) * 0.001;
    if (i % 3 === 0) {
      const crossed = i === 300 || i === 2001;
      events.push({ v: 1, type: 'quote', venue, symbol, ts, recvTs: ts + 500, bid: crossed ? price + 1 : price - 0.5, bidSize: 1, ask: price + 0.5, askSize: 2 });
    } else {
      const id = (nextId.get(venue + symbol) ?? 0) + 1;
      nextId.set(venue + symbol, id);
      events.push({ v: 1, type: 'trade', venue, symbol, ts, recvTs: ts + 500, id: String(id), price, size: 1 + (i % 5), side: i % 2 ? 'buy' : 'sell' });
    }
  }
  return events;
}

/** Runs the processor in this process until it has committed everything produced so far. */
async function runToEnd(config: ReturnType<typeof testConfig>['config'], options: { workerFile?: string } = {}): Promise<App> {
  const app = await App.create(config, pino({ level: 'silent' }), options);
  const ends = await endOffsets(config);
  await app.start();
  try {
    await waitAppCommitted(app, config, ends, 60_000);
  } finally {
    await app.close();
  }
  return app;
}

/**
 * The Kafka clients a run uses: on the test's own thread, or served to the pipeline over a
 * MessagePort (the form a pipeline off the main thread gets them in: `serveKafkaClients` at
 * node-rdkafka's end, `PortKafkaClients` at the pipeline's; both ends on this thread here).
 */
const KAFKA_PLACEMENTS: Array<[string, (config: ReturnType<typeof testConfig>['config']) => Promise<KafkaClients | undefined>]> = [
  ['Kafka clients on the pipeline\'s thread', () => Promise.resolve(undefined)],
  ['Kafka clients behind a MessagePort', async (config) => {
    const { port1, port2 } = new MessageChannel();
    void serveKafkaClients(port1, await openLocalKafkaClients(config.kafka, pino({ level: 'warn' })), pino({ level: 'warn' }));
    return new PortKafkaClients(port2);
  }],
];

for (const [placement, kafkaFor] of KAFKA_PLACEMENTS) describe(`pipeline end to end (real Kafka, Redis, PostgreSQL), ${placement}`, { timeout: 180_000 }, () => {
  const { config } = testConfig();
  const events = knownEvents();
  const poison = [0, 1, 2, 3, 4].map((i) => poisonMessage(i));

  before(async () => {
    await createTopics(config);
    // Poison messages interleaved with valid ones, keyed like real traffic.
    const messages = events.map((e) => ({ key: e.symbol, value: encodeEvent(e) }));
    poison.forEach((value, i) => messages.splice(400 * (i + 1), 0, { key: SYMBOLS[i]!, value }));
    await produceRaw(config, config.kafka.topics[0]!, messages);
  });

  after(async () => {
    await cleanup(config);
  });

  it('writes every valid event once, keeps the latest per symbol, dead-letters the bad ones, commits to the end', async () => {
    const kafka = await kafkaFor(config);
    const app = await App.create(config, pino({ level: 'warn' }), kafka === undefined ? {} : { kafka });
    await app.start();
    const ends = await endOffsets(config);
    const total = [...ends.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, events.length + poison.length);
    try {
      await waitAppCommitted(app, config, ends, 90_000);
    } finally {
      await app.close();
    }

    // PostgreSQL: every valid event exactly once, with its verdict.
    const rowsPerPartition = new Map<number, number>();
    await withPg(config, async (c) => {
      const t = config.postgres.table;
      const parts = await c.query<{ p: number; n: number }>(`SELECT src_partition AS p, count(*)::int AS n FROM ${t} GROUP BY 1`);
      for (const r of parts.rows) rowsPerPartition.set(r.p, r.n);
      const r = await c.query(`SELECT count(*)::int AS n, count(DISTINCT (src_partition, src_offset))::int AS d,
        count(*) FILTER (WHERE verdict = 2)::int AS rejected, count(DISTINCT (venue, symbol, ts))::int AS e FROM ${t}`);
      assert.deepEqual(r.rows[0], { n: events.length, d: events.length, rejected: 2, e: events.length });
      // Event 1 is the first trade of binance ETH-USDT.
      const trade = await c.query(`SELECT price, size, side, event_id, ts FROM ${t} WHERE type = 'trade' AND venue = 'binance' AND symbol = 'ETH-USDT' AND event_id = '1'`);
      assert.equal(trade.rowCount, 1);
      assert.equal(trade.rows[0].price, 100.001);
      assert.equal(trade.rows[0].side, 'buy');
      assert.equal((trade.rows[0].ts as Date).getTime(), Math.floor((BASE_US + 1000) / 1000));
    });

    // Redis: the latest accepted event per venue and symbol; rejects only in the quarantine stream.
    const redis = redisClient(config);
    try {
      const expected = new Map<string, MarketEvent>();
      for (const e of events) {
        if (e.type === 'quote' && e.bid > e.ask) continue;
        expected.set(`${e.venue}:${e.symbol}`, e);
      }
      assert.equal(expected.size, VENUES.length * SYMBOLS.length);
      for (const [vs, e] of expected) {
        const h = await redis.hgetall(`${config.redis.keyPrefix}latest:${vs}`);
        assert.equal(Number(h.ts), e.ts, vs);
        const stored = JSON.parse(h.event!) as MarketEvent & { verdict: number };
        assert.equal(stored.type, e.type);
        assert.equal(stored.ts, e.ts);
        assert.equal(stored.verdict, 0);
      }
      assert.equal(await redis.xlen(`${config.redis.keyPrefix}quarantine`), 2);
      // The cascade stream carries the rejects too, with what each failed check measured.
      const cascade = await redis.xrange(`${config.redis.keyPrefix}cascade`, '-', '+');
      assert.equal(cascade.length, 2);
      for (const [, fields] of cascade) {
        const f = Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, k) => [fields[2 * k]!, fields[2 * k + 1]!]));
        assert.equal(f.verdict, 'rejected');
        assert.ok(VENUES.includes(f.venue!) && SYMBOLS.includes(f.symbol!));
        const checks = JSON.parse(f.checks!) as Array<{ id: string; severity: string; value: number; threshold: number }>;
        const m1 = checks.find((c) => c.id === 'M1');
        assert.ok(m1 !== undefined && m1.severity === 'reject', f.checks);
        assert.ok(m1.value > 0, 'bid above ask by a positive amount');
      }
      const recent = await redis.zcard(`${config.redis.keyPrefix}recent:BTC-USDT`);
      assert.equal(recent, events.filter((e) => e.symbol === 'BTC-USDT').length - events.filter((e) => e.symbol === 'BTC-USDT' && e.type === 'quote' && e.bid > e.ask).length);
      const q = await redis.hgetall(`${config.redis.keyPrefix}quality:binance:BTC-USDT`);
      assert.ok(Number(q.accepted) > 0);
    } finally {
      redis.disconnect();
    }

    // Dead letters: exactly the poison messages, each with its reason and source in headers.
    const dlq = await readTopic(config, config.kafka.deadLetterTopic, poison.length);
    assert.equal(dlq.length, poison.length);
    const bodies = dlq.map((m) => m.value.toString('hex')).sort();
    assert.deepEqual(bodies, poison.map((p) => p.toString('hex')).sort());
    for (const m of dlq) {
      assert.match(m.headers['x-error-code']!, /^(DECODE_FAILED|SCHEMA_INVALID)$/);
      assert.ok(m.headers['x-error-message']!.length > 0);
      assert.equal(m.headers['x-source-topic'], config.kafka.topics[0]);
      assert.ok(Number(m.headers['x-source-offset']) >= 0);
    }
    // Workers take several partitions per task: every row carries its own message's partition,
    // so each partition's rows and dead letters add up to what Kafka holds in it.
    for (const [p, end] of ends) {
      const dead = dlq.filter((m) => Number(m.headers['x-source-partition']) === p).length;
      assert.equal((rowsPerPartition.get(p) ?? 0) + dead, end, `partition ${p}`);
    }

    // Kafka: the group's committed offsets are the end offsets.
    const committed = await committedOffsets(config);
    for (const [p, end] of ends) if (end > 0) assert.equal(committed.get(p), end, `partition ${p}`);
  });
});

describe('an event one sink refuses for good and the other accepted', { timeout: 120_000 }, () => {
  const { config } = testConfig();
  after(async () => { await cleanup(config); });

  it('is dead-lettered as SINK_REJECTED naming the sink; the other sink keeps it; the rest lands once', async () => {
    await createTopics(config);
    await migrate(config.postgres, pino({ level: 'silent' }));
    // A rule of this database the decoder cannot know: PostgreSQL refuses that one price.
    await withPg(config, (c) => c.query(`ALTER TABLE ${config.postgres.table} ADD CONSTRAINT no_magic CHECK (price IS DISTINCT FROM 123.456)`));
    const ts = Date.now() * 1000 - 10_000_000;
    const events: MarketEvent[] = Array.from({ length: 50 }, (_, i) => ({
      v: 1, type: 'trade', venue: 'binance', symbol: 'BTC-USDT', ts: ts + i * 1000, recvTs: ts + i * 1000 + 100,
      id: String(i + 1), price: i === 25 ? 123.456 : 100 + i * 0.01, size: 1, side: 'buy',
    }));
    await produceRaw(config, config.kafka.topics[0]!, events.map((e) => ({ key: e.symbol, value: encodeEvent(e) })));
    await runToEnd(config);

    const rows = await withPg(config, async (c) => (await c.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE price = 123.456)::int AS magic FROM ${config.postgres.table}`)).rows[0]);
    assert.deepEqual(rows, { n: 49, magic: 0 });
    const dlq = await readTopic(config, config.kafka.deadLetterTopic, 2, 10_000);
    assert.equal(dlq.length, 1);
    assert.equal(dlq[0]!.headers['x-error-code'], 'SINK_REJECTED');
    assert.match(dlq[0]!.headers['x-error-message']!, /^postgres: .*no_magic/);
    assert.deepEqual(dlq[0]!.value, encodeEvent(events[25]!), 'the original message, as consumed');
    const redis = redisClient(config);
    try {
      const q = await redis.hgetall(`${config.redis.keyPrefix}quality:binance:BTC-USDT`);
      assert.equal(Number(q.accepted ?? 0) + Number(q.flagged ?? 0), 50, 'Redis applied all 50, the refused one too');
    } finally {
      redis.disconnect();
    }
    assert.deepEqual([...(await committedOffsets(config)).values()].reduce((a, b) => a + Math.max(0, b ?? 0), 0), 50, 'committed past it');
  });
});

describe('cascade stream and silent streams', { timeout: 120_000 }, () => {
  const { config } = testConfig({
    HIMARI_CHECKS_SWEEP_MS: 100,
    HIMARI_CHECKS_THRESHOLDS: JSON.stringify({ T5: { minSilenceMs: 300 }, C1: { minNotional: 50_000 } }),
  });
  after(async () => { await cleanup(config); });

  it('publishes cascade indicators with values and thresholds, and a timer reports a stream gone silent', async () => {
    await createTopics(config);
    const now = Date.now() * 1000;
    const events: MarketEvent[] = [];
    for (let i = 0; i < 40; i++) events.push({ v: 1, type: 'trade', venue: 'okx', symbol: 'ETH-USDT', ts: now + i * 1000, recvTs: now + i * 1000 + 100, id: String(i + 1), price: 2000, size: 1, side: 'buy' });
    // Two long liquidations of $40k within a minute: the second makes a $80k burst (C1 at $50k).
    for (let i = 0; i < 2; i++) events.push({ v: 1, type: 'liquidation', venue: 'okx', symbol: 'ETH-USDT', ts: now + 50_000 + i * 1000, recvTs: now + 50_100 + i * 1000, posSide: 'long', price: 2000, size: 20 });
    await produceRaw(config, config.kafka.topics[0]!, events.map((e) => ({ key: e.symbol, value: encodeEvent(e) })));
    const app = await App.create(config, pino({ level: 'silent' }));
    const ends = await endOffsets(config);
    await app.start();
    const redis = redisClient(config);
    try {
      await waitAppCommitted(app, config, ends, 60_000);
      const key = `${config.redis.keyPrefix}cascade`;
      const entries = async () => (await redis.xrange(key, '-', '+')).map(([, f]) => Object.fromEntries(Array.from({ length: f.length / 2 }, (_, k) => [f[2 * k]!, f[2 * k + 1]!])));
      await waitUntil('a silence entry', async () => (await entries()).some((e) => e.verdict === 'silent'), 10_000);
      const all = await entries();
      const burst = all.find((e) => e.verdict === 'flagged')!;
      assert.equal(burst.symbol, 'ETH-USDT');
      const c1 = (JSON.parse(burst.checks!) as Array<{ id: string; value: number; threshold: number }>).find((c) => c.id === 'C1');
      assert.deepEqual(c1 && { value: c1.value, threshold: c1.threshold }, { value: 80_000, threshold: 50_000 });
      const silent = all.filter((e) => e.verdict === 'silent');
      assert.equal(silent.length, 1, 'reported once per silence');
      assert.equal(silent[0]!.venue, 'okx');
      assert.equal(silent[0]!.symbol, 'ETH-USDT');
      const t5 = (JSON.parse(silent[0]!.checks!) as Array<{ id: string; value: number; threshold: number }>)[0]!;
      assert.equal(t5.id, 'T5');
      assert.ok(t5.value > t5.threshold && t5.threshold >= 300, silent[0]!.checks);
    } finally {
      redis.disconnect();
      await app.close();
    }
  });
});

describe('a worker thread that dies mid-batch', { timeout: 120_000 }, () => {
  const { config } = testConfig();
  after(async () => { await cleanup(config); });

  it('loses nothing: the batch is packed again and runs on the replacement thread', async () => {
    await createTopics(config);
    const events = knownEvents().slice(0, 500);
    await produceRaw(config, config.kafka.topics[0]!, events.map((e) => ({ key: e.symbol, value: encodeEvent(e) })));
    const marker = join(mkdtempSync(join(tmpdir(), 'himari-crash-')), 'crashed');
    process.env.HIMARI_TEST_CRASH_MARKER = marker;
    let app: App;
    try {
      app = await runToEnd(config, { workerFile: fileURLToPath(new URL('../helpers/crashing-worker.js', import.meta.url)) });
    } finally {
      delete process.env.HIMARI_TEST_CRASH_MARKER;
    }
    assert.ok(existsSync(marker), 'a worker crashed');
    assert.equal(await app.metrics.workerRestarts.get().then((m) => m.values[0]?.value), 1);
    await withPg(config, async (c) => {
      const r = await c.query(`SELECT count(*)::int AS n, count(DISTINCT (src_partition, src_offset))::int AS d FROM ${config.postgres.table}`);
      assert.deepEqual(r.rows[0], { n: events.length, d: events.length });
    });
    assert.equal(app.pipeline.totals.verdicts[3], 0, 'nothing dead-lettered');
  });
});

describe('a message that kills every worker thread that checks it', { timeout: 180_000 }, () => {
  const { config } = testConfig({ HIMARI_WORKERS_TASK_RETRIES: '1', HIMARI_KAFKA_TOPIC_PARTITIONS: '2' });
  after(async () => { await cleanup(config); });

  it('is dead-lettered alone (WORKER_FAILED); its batch-mates are written once', async () => {
    await createTopics(config);
    const events = knownEvents().slice(0, 1000);
    const messages = events.map((e) => ({ key: e.symbol, value: encodeEvent(e) }));
    // Keyed like its neighbours, so it lands in a batch with them.
    messages.splice(500, 0, { key: SYMBOLS[0]!, value: CRASH_MARKER });
    await produceRaw(config, config.kafka.topics[0]!, messages);
    const app = await runToEnd(config, { workerFile: fileURLToPath(new URL('../helpers/crash-on-marker-worker.js', import.meta.url)) });
    await withPg(config, async (c) => {
      const r = await c.query(`SELECT count(*)::int AS n, count(DISTINCT (src_partition, src_offset))::int AS d FROM ${config.postgres.table}`);
      assert.deepEqual(r.rows[0], { n: events.length, d: events.length });
    });
    const dlq = await readTopic(config, config.kafka.deadLetterTopic, 2, 10_000);
    assert.equal(dlq.length, 1, `dead letters: ${dlq.map((m) => m.value.toString().slice(0, 40)).join(', ')}`);
    assert.deepEqual(dlq[0]!.value, CRASH_MARKER);
    assert.equal(dlq[0]!.headers['x-error-code'], 'WORKER_FAILED');
    assert.ok((await app.metrics.workerRestarts.get()).values[0]!.value >= 2, 'the worker died on the whole batch and again on each half holding the message');
  });
});

describe('validated stream (optional output topic)', { timeout: 120_000 }, () => {
  const { config } = testConfig({ HIMARI_KAFKA_OUTPUT_TOPIC: `it.out.${Date.now().toString(36)}` });
  after(async () => {
    await cleanup(config);
    const { config: outOnly } = testConfig({ HIMARI_KAFKA_TOPICS: config.kafka.outputTopic! });
    await cleanup(outOnly).catch(() => {});
  });

  it('carries every checked event with its verdict and source position, in partition order', async () => {
    await createTopics(config);
    const events = knownEvents().slice(0, 600); // includes the crossed quote at index 300
    await produceRaw(config, config.kafka.topics[0]!, events.map((e) => ({ key: e.symbol, value: encodeEvent(e) })));
    await runToEnd(config);
    const out = await readTopic(config, config.kafka.outputTopic!, events.length, 20_000);
    assert.equal(out.length, events.length);
    const verdicts = out.map((m) => (JSON.parse(m.value.toString()) as { verdict: number }).verdict);
    assert.equal(verdicts.filter((v) => v === 2).length, 1);
    const byPartition = new Map<string, number[]>();
    for (const m of out) {
      assert.equal(m.headers['x-source-topic'], config.kafka.topics[0]);
      const key = m.headers['x-source-partition']!;
      byPartition.set(key, [...(byPartition.get(key) ?? []), Number(m.headers['x-source-offset'])]);
    }
    for (const offsets of byPartition.values()) assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), 'source order kept');
  });
});

describe('replay of a real recording end to end', { timeout: 120_000 }, () => {
  const { config } = testConfig();
  after(async () => { await cleanup(config); });

  it('every normalized event reaches PostgreSQL with its verdict; nothing valid is rejected', async (t) => {
    const file = recordingFiles().find((f) => f.endsWith('BINANCE_FUTURES.ws.1.0'));
    if (file === undefined) { t.skip('shared/data/cryptofeed not found'); return; }
    await createTopics(config);
    const stats = await replay(config.kafka, [normalizeRecording(file)], { topic: config.kafka.topics[0]!, speed: 0 });
    assert.equal(stats.events, normalizeRecording(file).length);
    const app = await runToEnd(config);
    const rows = await withPg(config, async (c) => (await c.query(
      `SELECT type, verdict, count(*)::int AS n FROM ${config.postgres.table} GROUP BY 1, 2 ORDER BY 1, 2`)).rows as Array<{ type: string; verdict: number; n: number }>);
    assert.equal(rows.reduce((s, r) => s + r.n, 0), stats.events);
    assert.deepEqual(rows.filter((r) => r.verdict === 2), [], 'the recording holds no invalid events');
    assert.equal(app.pipeline.totals.verdicts[3], 0);
  });
});

describe('a processor closed before it started (a start that failed at once)', { timeout: 60_000 }, () => {
  it('stops its check workers only once each has loaded its module and run a task', async () => {
    // Node 20 aborts the process when a worker is stopped while it instantiates its ES module.
    const { config } = testConfig();
    const app = await App.create(config, pino({ level: 'silent' }));
    assert.equal(await app.close(10_000), 'drained');
    const ids = app.pipeline.pool.osThreadIds();
    assert.equal(ids.length, config.workers.threads);
    assert.ok(ids.every((id) => id > 0), `a worker closed before its first task: ${ids.join(', ')}`);
  });
});
