import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unpack } from 'msgpackr';
import pino from 'pino';
import type { MarketEvent } from '../../src/codec/event.js';
import { IngestGateway } from '../../src/ingest/gateway.js';
import { IngestMetrics } from '../../src/ingest/metrics.js';
import { createNormalizer } from '../../src/normalize/index.js';
import { bookCheckFailures, sample, withoutLaterSnapshots } from '../helpers/ingest.js';
import { RECORDINGS_DIR } from '../helpers/recordings.js';
import { readTopic, testConfig, waitUntil } from '../helpers/services.js';
import { VenueServer } from '../helpers/venue-server.js';
import { SECOND_BROKER, SECOND_BROKER_PROXY, secondBrokerBehindProxy, startSecondBroker, stopSecondBroker } from './harness/second-broker.js';
import { sleep } from './harness/time.js';

const DOWN_MS = 20_000;
/** The gateway's buffer bound: well under what the outage piles up at the recording's pace (~330 messages/s). */
const BOUND = 2_000;
const SYMBOLS = ['SKL-USD', 'SKL-BTC', 'BAND-GBP', 'NMR-EUR', 'BAND-BTC', 'YFI-BTC', 'DASH-BTC', 'NU-GBP', 'CRV-EUR', 'SKL-GBP'];

/**
 * The ingest gateway while Kafka is down for 20 s (the suite's own broker, stopped and started
 * again), fed by a local venue server replaying the Coinbase recording at its recorded pace: the
 * buffer holds what fits within its bound and delivers it once the broker is back; what does not
 * fit is counted as dropped, by reason, and nothing else is missing.
 */
describe('the ingest gateway while Kafka is down', { timeout: 240_000 }, () => {
  const server = new VenueServer({ recording: join(RECORDINGS_DIR, 'COINBASE.ws.28.0'), speed: 1, symbols: SYMBOLS });
  let url = '';
  before(async () => {
    await startSecondBroker();
    url = `ws://127.0.0.1:${await server.listen()}`;
  });
  after(async () => {
    await server.close();
    await stopSecondBroker();
  });

  it(`Kafka stopped for ${DOWN_MS / 1000} s: the bound holds, everything within it is delivered after, the rest counted as dropped`, async () => {
    const { config } = testConfig({
      HIMARI_KAFKA_BROKERS: SECOND_BROKER,
      HIMARI_INGEST_FEEDS: JSON.stringify({ coinbase: { venue: 'coinbase', symbols: SYMBOLS, channels: ['trades', 'quotes', 'book'], url } }),
      HIMARI_INGEST_BUFFER_MAX_MESSAGES: String(BOUND),
    });
    const topic = config.kafka.topics[0]!;
    const metrics = new IngestMetrics({ defaultMetrics: false });
    const gateway = new IngestGateway(config.kafka, { ...config.ingest, topic }, metrics, pino({ level: 'silent' }));
    let peak = 0;
    const sampler = setInterval(() => { peak = Math.max(peak, gateway.pending); }, 20);
    try {
      await gateway.start();
      await sleep(3_000);
      await stopSecondBroker();
      await sleep(DOWN_MS);
      assert.ok(await sample(metrics, 'himari_ingest_kafka_down') === 1, 'the gateway reported Kafka down');
      await startSecondBroker();
      await server.done;
      // The last frames may still be in the socket when the server is done: wait for them too.
      // And for the books that lost updates in the outage: subscribed again once Kafka took events, each a new snapshot.
      const deadline = Date.now() + 60_000;
      const settled = () => gateway.stats()[0]!.messages === server.sent + server.resnapshots.length && gateway.pending === 0 && server.resnapshots.length >= gateway.stats()[0]!.resyncs;
      while (!settled() && Date.now() < deadline) await sleep(100);
      assert.equal(gateway.pending, 0, 'the buffer drained once the broker was back');
      assert.ok(gateway.stats()[0]!.resyncs > 0, 'books that lost updates were resynchronized');
      assert.ok(server.resnapshots.length >= gateway.stats()[0]!.resyncs, 'each from a new snapshot');

      const handed = await sample(metrics, 'himari_ingest_events_total');
      const delivered = await sample(metrics, 'himari_ingest_delivered_total');
      const full = await sample(metrics, 'himari_ingest_dropped_total', { reason: 'buffer_full' });
      const otherDrops = await sample(metrics, 'himari_ingest_dropped_total') - full;
      assert.ok(peak <= BOUND, `the buffer stayed within its bound: peak ${peak}`);
      assert.ok(full > 0, 'the outage piled up more than the bound: some were dropped');
      assert.equal(otherDrops, 0, 'nothing expired or was refused');
      assert.equal(delivered + full, handed, 'every event was delivered or counted as dropped');
      assert.equal(await sample(metrics, 'himari_ingest_kafka_down'), 0, 'Kafka reported back');

      // Kafka holds exactly the delivered events, in order per symbol: the expected stream less
      // the events dropped, which are whole runs of the outage's tail, never one in the middle of
      // what was kept.
      // Read past `delivered` for a while: a duplicate would show as more.
      const stored = (await readTopic(config, topic, delivered + 1, 10_000)).map((m) => unpack(m.value) as MarketEvent);
      const seen = new Map<string, number>();
      for (const e of stored) seen.set(JSON.stringify(e), (seen.get(JSON.stringify(e)) ?? 0) + 1);
      const twice = [...seen].filter(([, n]) => n > 1);
      assert.deepEqual(twice.slice(0, 3), [], `${twice.length} events stored more than once`);
      assert.equal(stored.length, delivered);
      const normalizer = createNormalizer('coinbase');
      const expected: MarketEvent[] = [];
      server.recorded.forEach((m) => normalizer.normalize(JSON.parse(m.text), m.recvUs, expected));
      assert.equal(server.missed.length, 0);
      // Every event of the recording was handed on, but the book updates held back between a
      // book's lost update and its new snapshot; and the new snapshots.
      const heldBack = await sample(metrics, 'himari_ingest_book_updates_held_back_total');
      assert.equal(expected.length - heldBack + server.resnapshots.length, handed, 'the gateway handed on every event of the recording, less the book updates held back, and the new snapshots');
      // The receive time is the gateway's own (and so is the exchange time where the venue gives none).
      const key = (e: MarketEvent) => JSON.stringify({ ...e, recvTs: 0, ts: e.ts === e.recvTs ? 'receive time' : e.ts });
      const bySymbol = (events: readonly MarketEvent[]) => {
        const m = new Map<string, string[]>();
        for (const e of events) m.set(e.symbol, [...(m.get(e.symbol) ?? []), key(e)]);
        return m;
      };
      const want = bySymbol(expected);
      // The new snapshots are the venue's answer to a resubscription, not in the recording.
      for (const [symbol, got] of bySymbol(withoutLaterSnapshots(stored))) {
        // `got` must be a subsequence of `want`: the same order, only drops.
        const all = want.get(symbol) ?? [];
        let i = 0;
        for (const k of got) {
          while (i < all.length && all[i] !== k) i++;
          assert.ok(i < all.length, `${symbol}: ${k} is out of order or unknown`);
          i++;
        }
      }
    } finally {
      clearInterval(sampler);
      await gateway.close();
    }
  });
});

const OKX = { venue: 'okx', symbols: ['BTC-USD-220527', 'UNI-USD-SWAP', 'BTC-USDT'], channels: ['trades', 'quotes', 'book'] };
/** How long Kafka's replies are held, and for how long requests keep being held. */
const ACK_HOLD_MS = 3_000;

/**
 * Kafka slow rather than down (every reply of the suite's broker held 3 s by a TCP proxy for 3
 * s) under the OKX recording at its recorded pace, with a buffer of 30: the buffer fills and book
 * updates are dropped in the middle of their streams. Each book that lost one must not go on over
 * the hole: its updates are held back until Kafka takes events again, then the book is subscribed
 * again and the venue's new snapshot starts it over, so that the book checks pass on everything
 * that reached Kafka (and, as a control, flag it when the new snapshots are taken out).
 */
describe('book updates lost while Kafka is slow', { timeout: 240_000 }, () => {
  const proxy = secondBrokerBehindProxy();

  it(`replies held ${ACK_HOLD_MS / 1000} s, the buffer full: every book that lost an update is resynchronized and passes the book checks`, async () => {
    const server = new VenueServer({ recording: join(RECORDINGS_DIR, 'OKX.ws.1.0'), speed: 1, symbols: OKX.symbols });
    const url = `ws://127.0.0.1:${await server.listen()}/ws/v5/public`;
    const { config } = testConfig({ HIMARI_KAFKA_BROKERS: SECOND_BROKER_PROXY.brokers, HIMARI_INGEST_FEEDS: JSON.stringify({ okx: { ...OKX, url } }), HIMARI_INGEST_BUFFER_MAX_MESSAGES: '30' });
    const topic = config.kafka.topics[0]!;
    const metrics = new IngestMetrics({ defaultMetrics: false });
    const gateway = new IngestGateway(config.kafka, { ...config.ingest, topic }, metrics, pino({ level: 'silent' }));
    const firstSnapshots = server.afterFirstOkxSnapshots(OKX.symbols);
    try {
      await gateway.start();
      await waitUntil('each book has its first snapshot', async () => gateway.stats()[0]!.messages > firstSnapshots, 30_000, 10);
      await sleep(1_000);
      proxy.set('slow', ACK_HOLD_MS);
      await sleep(ACK_HOLD_MS);
      proxy.set('pass');
      await server.done;
      const lost = await sample(metrics, 'himari_ingest_dropped_total', { type: 'book' });
      assert.ok(lost > 0, 'book updates were lost');
      await waitUntil('the books resynchronized and everything acknowledged', async () => gateway.pending === 0
        && server.resnapshots.length >= gateway.stats()[0]!.resyncs && gateway.stats()[0]!.messages === server.sent + server.resnapshots.length, 60_000);
      assert.ok(gateway.stats()[0]!.resyncs > 0, 'books were resynchronized');

      const delivered = await sample(metrics, 'himari_ingest_delivered_total');
      const stored = (await readTopic(config, topic, delivered, 30_000)).map((m) => unpack(m.value) as MarketEvent);
      assert.equal(stored.length, delivered);
      assert.deepEqual(bookCheckFailures(stored), {}, 'no book goes on over a hole in what reached Kafka');
      // The control: without the new snapshots, the updates after them go on over the holes, and the checks see it.
      const withoutResyncs = withoutLaterSnapshots(stored);
      assert.ok(withoutResyncs.length < stored.length, 'new snapshots reached Kafka');
      assert.ok(Object.keys(bookCheckFailures(withoutResyncs)).length > 0, 'without them the book checks flag the holes');
    } finally {
      proxy.set('pass');
      await gateway.close();
      await server.close();
    }
  });
});
