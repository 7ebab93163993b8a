import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { unpack } from 'msgpackr';
import pino from 'pino';
import WebSocket from 'ws';
import type { MarketEvent } from '../../src/codec/event.js';
import { IngestGateway } from '../../src/ingest/gateway.js';
import { IngestMetrics } from '../../src/ingest/metrics.js';
import { bookCheckFailures, ingestEnv, ingestOf, sample } from '../helpers/ingest.js';
import { RECORDINGS_DIR } from '../helpers/recordings.js';
import { cleanup, readTopic, testConfig, waitUntil } from '../helpers/services.js';
import { VenueServer } from '../helpers/venue-server.js';

const OKX_FILE = join(RECORDINGS_DIR, 'OKX.ws.1.0');
const OKX = { venue: 'okx', symbols: ['BTC-USD-220527', 'UNI-USD-SWAP', 'BTC-USDT'], channels: ['trades', 'quotes', 'book'] };
/** OKX's published limits: 3 connection requests a second per address; the request limit is the test's own (the venue's is 480 an hour). */
const VENUE_LIMITS = { connections: { count: 3, perMs: 1000 }, requests: { count: 4, perMs: 1000 } };

describe('the venue server enforces the limits the gateway must keep to (so that the tests below can fail)', { timeout: 30_000 }, () => {
  it('refuses a connection beyond the connection limit and closes one that sends beyond the request limit', async () => {
    const server = new VenueServer({ recording: OKX_FILE, speed: 1, symbols: OKX.symbols, limits: VENUE_LIMITS });
    const url = `ws://127.0.0.1:${await server.listen()}/ws/v5/public`;
    try {
      const outcomes = await Promise.all(Array.from({ length: 5 }, () => new Promise<string>((resolve) => {
        const ws = new WebSocket(url);
        ws.on('open', () => { resolve('open'); ws.terminate(); });
        ws.on('unexpected-response', (_req, res) => { resolve(`HTTP ${res.statusCode}`); ws.terminate(); });
        ws.on('error', () => resolve('error'));
      })));
      assert.deepEqual(outcomes.sort(), ['HTTP 429', 'HTTP 429', 'open', 'open', 'open']);
      assert.equal(server.refused, 2);

      await new Promise((r) => setTimeout(r, 1_100));
      const closed = await new Promise<number>((resolve) => {
        const ws = new WebSocket(url);
        ws.on('open', () => { for (let i = 0; i < 5; i++) ws.send(JSON.stringify({ op: 'subscribe', args: [{ channel: 'books', instId: 'BTC-USDT' }] })); });
        ws.on('close', (code) => resolve(code));
      });
      assert.equal(closed, 1008);
      assert.equal(server.violations, 1);
    } finally {
      await server.close();
    }
  });
});

describe('venue connection limits', { timeout: 120_000 }, () => {
  it('a reconnect storm of six feeds to one venue is spread within its connection limit: the venue refuses none, and all come back', async () => {
    const server = new VenueServer({ recording: OKX_FILE, speed: 1, symbols: OKX.symbols, limits: VENUE_LIMITS });
    const url = `ws://127.0.0.1:${await server.listen()}/ws/v5/public`;
    const names = ['okx-a', 'okx-b', 'okx-c', 'okx-d', 'okx-e', 'okx-f'];
    // Reconnects as fast as the configuration allows: only the venue's limit spaces them.
    const { config } = testConfig(ingestEnv(Object.fromEntries(names.map((n) => [n, { ...OKX, url }])),
      { HIMARI_INGEST_RECONNECT_INITIAL_MS: '10', HIMARI_INGEST_RECONNECT_MAX_MS: '100' }));
    const metrics = new IngestMetrics({ defaultMetrics: false });
    const gateway = new IngestGateway(config.kafka, ingestOf(config), metrics, pino({ level: 'silent' }));
    const opened = (n: number) => async () => gateway.stats().every((f) => f.connected && f.opens === n);
    try {
      await gateway.start();
      await waitUntil('every feed connected', opened(1), 30_000, 20);
      for (const round of [2, 3]) {
        server.dropConnections();
        await waitUntil(`every feed reconnected (round ${round})`, opened(round), 30_000, 20);
      }
      assert.equal(server.refused, 0, 'the venue refused no connection attempt');
      assert.equal(server.connections, 3 * names.length, 'one attempt per connection: none wasted');
      assert.ok(await sample(metrics, 'himari_ingest_rate_limited_total', { venue: 'okx', limit: 'connections' }) > 0, 'attempts waited for the limit (the storm did press on it)');
    } finally {
      await gateway.close();
      await server.close();
      await cleanup(config);
    }
  });
});

describe('venue request limits', { timeout: 120_000 }, () => {
  it('three books broken at once are subscribed again one request at a time as the limit allows: the venue closes nothing, every book resynchronizes and passes the book checks', async () => {
    const server = new VenueServer({ recording: OKX_FILE, speed: 1, symbols: OKX.symbols, limits: VENUE_LIMITS });
    const url = `ws://127.0.0.1:${await server.listen()}/ws/v5/public`;
    // The venue's request limit, told to the gateway as a user would (ingest.venueLimits), for OKX's 480 an hour.
    const { config } = testConfig(ingestEnv({ okx: { ...OKX, url } }, { HIMARI_INGEST_VENUE_LIMITS: JSON.stringify({ okx: { requests: VENUE_LIMITS.requests } }) }));
    const metrics = new IngestMetrics({ defaultMetrics: false });
    const gateway = new IngestGateway(config.kafka, ingestOf(config), metrics, pino({ level: 'silent' }));
    // A book update whose checksum matches no book: each of the three books breaks on it.
    const corrupt = OKX.symbols.map((instId) => JSON.stringify({ arg: { channel: 'books', instId }, action: 'update', data: [{ asks: [], bids: [], ts: '1652459230000', checksum: 1 }] }));
    const firstSnapshots = server.afterFirstOkxSnapshots(OKX.symbols);
    try {
      await gateway.start();
      await waitUntil('each book has its first snapshot', async () => gateway.stats()[0]!.messages > firstSnapshots, 30_000, 10);
      for (const c of corrupt) server.broadcast(c);
      await server.done;
      await waitUntil('every message received and acknowledged', async () =>
        gateway.pending === 0 && gateway.stats()[0]!.messages === server.sent + corrupt.length + server.resnapshots.length, 30_000);

      assert.equal(server.violations, 0, 'the venue closed no connection for its request limit');
      assert.equal(gateway.stats()[0]!.opens, 1, 'the connection stayed up');
      assert.equal(gateway.stats()[0]!.resyncs, OKX.symbols.length);
      assert.deepEqual([...server.resnapshots].sort(), [...OKX.symbols].sort(), 'each book subscribed again, and the venue sent its snapshot');
      assert.ok(await sample(metrics, 'himari_ingest_rate_limited_total', { venue: 'okx', limit: 'requests' }) > 0, 'requests waited for the limit');

      const delivered = await sample(metrics, 'himari_ingest_delivered_total');
      const stored = (await readTopic(config, config.kafka.topics[0]!, delivered, 30_000)).map((m) => unpack(m.value) as MarketEvent);
      assert.deepEqual(bookCheckFailures(stored), {}, 'no book check fails on what the gateway produced');
      for (const s of OKX.symbols) {
        assert.equal(stored.filter((e) => e.type === 'book' && e.symbol === s && e.action === 'snapshot').length, 2, `${s}: the first snapshot and the resync's`);
      }
    } finally {
      await gateway.close();
      await server.close();
      await cleanup(config);
    }
  });
});
