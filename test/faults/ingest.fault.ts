import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unpack } from 'msgpackr';
import pino from 'pino';
import type { MarketEvent } from '../../src/codec/event.js';
import { IngestGateway } from '../../src/ingest/gateway.js';
import { IngestMetrics } from '../../src/ingest/metrics.js';
import { createNormalizer } from '../../src/normalize/index.js';
import { sample } from '../helpers/ingest.js';
import { RECORDINGS_DIR } from '../helpers/recordings.js';
import { readTopic, testConfig } from '../helpers/services.js';
import { VenueServer } from '../helpers/venue-server.js';
import { SECOND_BROKER, startSecondBroker, stopSecondBroker } from './harness/second-broker.js';
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
      const deadline = Date.now() + 60_000;
      while ((gateway.stats()[0]!.messages < server.sent || gateway.pending > 0) && Date.now() < deadline) await sleep(100);
      assert.equal(gateway.pending, 0, 'the buffer drained once the broker was back');

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
      assert.equal(expected.length, handed, 'the gateway handed on every event of the recording');
      // The receive time is the gateway's own (and so is the exchange time where the venue gives none).
      const key = (e: MarketEvent) => JSON.stringify({ ...e, recvTs: 0, ts: e.ts === e.recvTs ? 'receive time' : e.ts });
      const bySymbol = (events: readonly MarketEvent[]) => {
        const m = new Map<string, string[]>();
        for (const e of events) m.set(e.symbol, [...(m.get(e.symbol) ?? []), key(e)]);
        return m;
      };
      const want = bySymbol(expected);
      for (const [symbol, got] of bySymbol(stored)) {
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
