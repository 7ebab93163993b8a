import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unpack } from 'msgpackr';
import Kafka from 'node-rdkafka';
import pino from 'pino';
import type { BookEvent, MarketEvent } from '../../src/codec/event.js';
import { IngestGateway } from '../../src/ingest/gateway.js';
import { kafkaClientConfig } from '../../src/kafka/client-config.js';
import { IngestMetrics } from '../../src/ingest/metrics.js';
import { BinanceNormalizer } from '../../src/normalize/binance.js';
import { createNormalizer } from '../../src/normalize/index.js';
import { readRecordingEvents } from '../../src/replay/recording.js';
import { RECORDINGS_DIR } from '../helpers/recordings.js';
import { cleanup, readTopic, testConfig, waitUntil } from '../helpers/services.js';
import { bookCheckFailures, ingestEnv, ingestOf, sample } from '../helpers/ingest.js';
import { VenueServer, type ServedSnapshot } from '../helpers/venue-server.js';

/** Each venue recording, the feed that subscribes to what it holds, and the path the venue serves it on. */
const FEEDS = [
  { file: 'BINANCE.ws.1.0', snapshots: 'BINANCE.http.0.0', rest: '/api/v3/depth', name: 'binance', path: '/stream', feed: { venue: 'binance', symbols: ['NKNUSDT', 'BLZETH', 'LRCBTC', 'RUNEEUR'], channels: ['trades', 'quotes', 'book'] } },
  { file: 'BINANCE_FUTURES.ws.1.0', snapshots: 'BINANCE_FUTURES.http.0.0', rest: '/fapi/v1/depth', name: 'binance-usdm', path: '/stream', feed: { venue: 'binance-futures', symbols: ['SUSHIUSDT', 'AKROUSDT', 'KEEPUSDT', 'CTKUSDT'], channels: ['trades', 'quotes', 'book'] } },
  { file: 'COINBASE.ws.28.0', name: 'coinbase', path: '/', feed: { venue: 'coinbase', symbols: ['SKL-USD', 'SKL-BTC', 'BAND-GBP', 'NMR-EUR', 'BAND-BTC', 'YFI-BTC', 'DASH-BTC', 'NU-GBP', 'CRV-EUR', 'SKL-GBP'], channels: ['trades', 'quotes', 'book'] } },
  { file: 'KRAKEN.ws.50.0', name: 'kraken', path: '/', feed: { venue: 'kraken', symbols: ['WAVES/EUR', 'XMR/USD', 'KSM/XBT', 'GRT/ETH', 'SC/EUR', 'ETH/CHF', 'OCEAN/XBT', 'OMG/USD', 'XBT/CHF', 'ADA/XBT'], channels: ['book'], bookDepth: 1000 } },
  { file: 'OKX.ws.1.0', name: 'okx', path: '/ws/v5/public', feed: { venue: 'okx', symbols: ['BTC-USD-220527', 'UNI-USD-SWAP', 'BTC-USDT'], channels: ['trades', 'quotes', 'book'] } },
  // The 2021 recording is Bybit's inverse feed, served on /realtime (the path tells the normalizer).
  { file: 'BYBIT.ws.26.0', name: 'bybit', path: '/realtime', feed: { venue: 'bybit', symbols: ['EOSUSD', 'BTCUSD'], channels: ['trades', 'book'] } },
] as const;

/** An event as compared: the receive time is the gateway's own; where the venue gave no exchange time, that is the receive time too. */
function comparable(e: MarketEvent): Record<string, unknown> {
  const { recvTs, ...rest } = e;
  return { ...rest, ts: e.ts === recvTs ? 'receive time' : e.ts };
}

/**
 * What the gateway must make of a Binance recording's books, given the snapshots the venue's
 * REST stub served: per symbol, each snapshot, then the recorded deltas it does not cover (spot:
 * `u > lastUpdateId`; USD-M: `u >= lastUpdateId`) up to the next snapshot's. Other events as
 * recorded.
 */
function withSnapshots(recorded: readonly MarketEvent[], served: readonly ServedSnapshot[], venue: 'binance' | 'binance-futures'): MarketEvent[] {
  const normalizer = new BinanceNormalizer(venue);
  const out: MarketEvent[] = recorded.filter((e) => e.type !== 'book');
  const snapshots: BookEvent[] = [];
  for (const s of served) normalizer.snapshot(s.symbol, JSON.parse(s.body), 0, snapshots as MarketEvent[]);
  for (const symbol of new Set(snapshots.map((s) => s.symbol))) {
    const mine = snapshots.filter((s) => s.symbol === symbol);
    const deltas = recorded.filter((e): e is BookEvent => e.type === 'book' && e.symbol === symbol);
    mine.forEach((snap, i) => {
      const until = mine[i + 1]?.seq ?? Infinity;
      out.push(snap, ...deltas.filter((d) => (venue === 'binance' ? d.seq > snap.seq : d.seq >= snap.seq) && d.seq <= until));
    });
  }
  return out;
}

/**
 * Events by venue, symbol and type, in order: each stream's order is kept; across the streams of
 * a symbol it may not be (a Binance book's deltas wait for its snapshot while trades go on).
 */
function bySymbol(events: readonly MarketEvent[]): Map<string, Array<Record<string, unknown>>> {
  const out = new Map<string, Array<Record<string, unknown>>>();
  for (const e of events) {
    const k = `${e.venue} ${e.symbol} ${e.type}`;
    let list = out.get(k);
    if (list === undefined) out.set(k, (list = []));
    list.push(comparable(e));
  }
  return out;
}

describe('ingest gateway: venue WebSockets to Kafka (local venue servers replaying the recordings, real broker)', { timeout: 180_000 }, () => {
  it('every recorded message of six venues reaches Kafka normalized, in order per symbol and type, as the offline normalizer reads the files (Binance books from the REST snapshots fetched)', async () => {
    const servers = FEEDS.map((f) => ({
      ...f,
      server: new VenueServer({ recording: join(RECORDINGS_DIR, f.file), speed: 10, symbols: f.feed.symbols, ...('snapshots' in f ? { snapshots: join(RECORDINGS_DIR, f.snapshots) } : {}) }),
    }));
    const feeds: Record<string, unknown> = {};
    for (const s of servers) {
      const base = `127.0.0.1:${await s.server.listen()}`;
      feeds[s.name] = { ...s.feed, url: `ws://${base}${s.path}`, ...('rest' in s ? { restUrl: `http://${base}${s.rest}` } : {}) };
    }
    const { config } = testConfig(ingestEnv(feeds));
    const metrics = new IngestMetrics({ defaultMetrics: false });
    const gateway = new IngestGateway(config.kafka, ingestOf(config), metrics, pino({ level: 'warn' }));
    try {
      await gateway.start();
      await Promise.all(servers.map((s) => s.server.done));
      // The last frames may still be in the sockets when the servers are done: wait for them too.
      await waitUntil('every message received and its events acknowledged', async () =>
        gateway.pending === 0 && servers.every((s) => gateway.stats().find((x) => x.name === s.name)!.messages === s.server.sent), 30_000);

      // Binance books start from the REST snapshots the gateway fetched, one per symbol.
      const offline = servers.map((s) => {
        const recorded = readRecordingEvents(join(RECORDINGS_DIR, s.file)).events;
        if (!('snapshots' in s)) return recorded;
        assert.deepEqual(s.server.served.map((x) => x.symbol).sort(), s.feed.symbols.slice().sort(), `${s.name}: one snapshot per symbol`);
        return withSnapshots(recorded, s.server.served, s.feed.venue);
      });
      const expected = offline.flat();
      const stored = await readTopic(config, config.kafka.topics[0]!, expected.length, 60_000);
      const events = stored.map((m) => unpack(m.value) as MarketEvent);
      assert.equal(events.length, expected.length, 'as many events as the offline normalizer finds');
      assert.ok(stored.every((m, i) => m.key === events[i]!.symbol), 'keyed by symbol');
      const got = bySymbol(events);
      const want = bySymbol(expected);
      assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), 'the same venues and symbols');
      for (const [k, list] of want) assert.deepEqual(got.get(k), list, `${k}: the same events in the same order`);

      const stats = gateway.stats();
      for (const s of servers) {
        assert.equal(s.server.missed.length, 0, `${s.name}: nothing fell due before the subscription`);
        const st = stats.find((x) => x.name === s.name)!;
        assert.equal(st.messages, s.server.sent, `${s.name}: every message sent was received`);
        assert.equal(st.unrecognized, 0, `${s.name}: every message understood`);
        assert.equal(st.opens, 1);
      }
      assert.equal(await sample(metrics, 'himari_ingest_delivered_total'), expected.length);
      assert.equal(await sample(metrics, 'himari_ingest_dropped_total'), 0);
      assert.equal(await sample(metrics, 'himari_ingest_receive_to_ack_seconds_count'), expected.length, 'an acknowledgement latency per event');
    } finally {
      await gateway.close();
      await Promise.all(servers.map((s) => s.server.close()));
      await cleanup(config);
    }
  });

  describe('a dropped connection', () => {
    const server = new VenueServer({ recording: join(RECORDINGS_DIR, 'COINBASE.ws.28.0'), speed: 5, symbols: FEEDS[2].feed.symbols });
    let url = '';
    before(async () => { url = `ws://127.0.0.1:${await server.listen()}`; });
    after(async () => { await server.close(); });

    it('is reconnected and resubscribed, the gap is reported, and what the venue sent on both connections reaches Kafka in order', async () => {
      const { config } = testConfig(ingestEnv({ coinbase: { ...FEEDS[2].feed, url } }));
      const metrics = new IngestMetrics({ defaultMetrics: false });
      const gateway = new IngestGateway(config.kafka, ingestOf(config), metrics, pino({ level: 'silent' }));
      try {
        await gateway.start();
        await waitUntil('a third of the recording sent', async () => server.sent > server.recorded.length / 3, 30_000, 20);
        server.dropConnections();
        await server.done;
        await waitUntil('every message received and its events acknowledged', async () =>
          gateway.pending === 0 && gateway.stats()[0]!.messages === server.sent + server.broadcasts + server.resnapshots.length, 30_000);

        assert.equal(server.connections, 2, 'one reconnect');
        assert.deepEqual([...server.resnapshots].sort(), [...FEEDS[2].feed.symbols].sort(), 'the books start over from the snapshots the venue sends on the new subscription');
        assert.equal(server.received.filter((f) => f.includes('"subscribe"')).length, 2, 'subscribed again on the new connection');
        assert.ok(server.missed.length > 0, 'the venue sent messages while the feed was away');
        const st = gateway.stats()[0]!;
        assert.equal(st.opens, 2);
        assert.ok(st.disconnectedMs > 0, 'the gap has a length');
        assert.equal(await sample(metrics, 'himari_ingest_reconnects_total', { feed: 'coinbase' }), 1);
        assert.ok(await sample(metrics, 'himari_ingest_disconnected_seconds_total', { feed: 'coinbase' }) > 0, 'the gap is in the metrics');
        assert.equal(await sample(metrics, 'himari_ingest_connected', { feed: 'coinbase' }), 1, 'connected again');

        // What reached Kafka is exactly the messages sent, normalized in order.
        const normalizer = createNormalizer('coinbase');
        const expected: MarketEvent[] = [];
        for (const text of server.sentTexts()) normalizer.normalize(JSON.parse(text), 0, expected);
        const stored = await readTopic(config, config.kafka.topics[0]!, expected.length, 60_000);
        const got = bySymbol(stored.map((m) => unpack(m.value) as MarketEvent));
        assert.equal(stored.length, expected.length);
        for (const [k, list] of bySymbol(expected)) assert.deepEqual(got.get(k), list, `${k}: the same events in the same order`);
      } finally {
        await gateway.close();
        await cleanup(config);
      }
    });
  });
});

/**
 * One feed of a gateway against `server` until every message the server sent (and every snapshot
 * it answered a resubscription with) is handed on and acknowledged; then `check`; then cleanup.
 */
async function throughGateway(server: VenueServer, feeds: Record<string, unknown>, extraEnv: Record<string, string>,
  check: (run: { gateway: IngestGateway; metrics: IngestMetrics; config: ReturnType<typeof testConfig>['config'] }) => Promise<void>): Promise<void> {
  const { config } = testConfig(ingestEnv(feeds, extraEnv));
  const metrics = new IngestMetrics({ defaultMetrics: false });
  const gateway = new IngestGateway(config.kafka, ingestOf(config), metrics, pino({ level: 'silent' }));
  try {
    await gateway.start();
    await server.done;
    // A feed split over two endpoints (Binance USD-M) runs as two: their messages together.
    await waitUntil('every message received and its events acknowledged', async () =>
      gateway.pending === 0 && gateway.stats().reduce((n, s) => n + s.messages, 0) === server.sent + server.broadcasts + server.resnapshots.length, 30_000);
    await check({ gateway, metrics, config });
  } finally {
    await gateway.close();
    await server.close();
    await cleanup(config);
  }
}

describe('a gap in a Binance book stream', { timeout: 120_000 }, () => {
  it('is resynchronized from a new REST snapshot: the book checks pass on what reached Kafka (and flag the gap without that snapshot)', async () => {
    let sushiDepth = 0;
    const server = new VenueServer({
      recording: join(RECORDINGS_DIR, 'BINANCE_FUTURES.ws.1.0'), snapshots: join(RECORDINGS_DIR, 'BINANCE_FUTURES.http.0.0'), speed: 10, symbols: FEEDS[1].feed.symbols,
      // The venue loses SUSHIUSDT's 30th depth update (its book has it; the client never sees it).
      skip: (_i, text) => text.includes('"sushiusdt@depth') && ++sushiDepth === 30,
    });
    const base = `127.0.0.1:${await server.listen()}`;
    await throughGateway(server, { usdm: { ...FEEDS[1].feed, url: `ws://${base}/stream`, restUrl: `http://${base}/fapi/v1/depth` } }, {}, async ({ gateway, metrics, config }) => {
      assert.equal(server.skipped.length, 1, 'one update lost');
      assert.equal(gateway.stats()[0]!.resyncs, 1, 'one resync');
      assert.equal(await sample(metrics, 'himari_ingest_resyncs_total', { feed: 'usdm' }), 1);
      assert.deepEqual(server.served.filter((x) => x.symbol === 'SUSHIUSDT').length, 2, 'SUSHIUSDT: the first snapshot and the resync\'s');

      const delivered = await sample(metrics, 'himari_ingest_delivered_total');
      const stored = (await readTopic(config, config.kafka.topics[0]!, delivered, 30_000)).map((m) => unpack(m.value) as MarketEvent);
      assert.equal(stored.length, delivered);
      assert.deepEqual(bookCheckFailures(stored), {}, 'no book check fails on what the gateway produced');
      // The control: the same stream without the resync snapshot holds the gap, and the checks see it.
      const sushiSnapshots = stored.filter((e) => e.type === 'book' && e.symbol === 'SUSHI-USDT' && e.action === 'snapshot');
      assert.equal(sushiSnapshots.length, 2);
      const withoutResync = stored.filter((e) => e !== sushiSnapshots[1]);
      assert.ok(Object.keys(bookCheckFailures(withoutResync)).length > 0, 'without the resync snapshot a book check flags the gap');
    });
  });
});

describe('a Binance connection at its age limit', { timeout: 120_000 }, () => {
  it('is replaced by an overlapping one, again and again: every message reaches Kafka once, in order, without a resync', async () => {
    const server = new VenueServer({
      recording: join(RECORDINGS_DIR, 'BINANCE_FUTURES.ws.1.0'), snapshots: join(RECORDINGS_DIR, 'BINANCE_FUTURES.http.0.0'), speed: 5, symbols: FEEDS[1].feed.symbols,
    });
    const base = `127.0.0.1:${await server.listen()}`;
    const feeds = { usdm: { ...FEEDS[1].feed, url: `ws://${base}/stream`, restUrl: `http://${base}/fapi/v1/depth` } };
    await throughGateway(server, feeds, { HIMARI_INGEST_REPLACE_CONNECTIONS_AFTER_MS: '1000' }, async ({ gateway, metrics, config }) => {
      const st = gateway.stats()[0]!;
      assert.ok(st.replacements >= 3, `replaced ${st.replacements} times`);
      // One connection per replacement (and perhaps one still waiting for a frame when the recording ended), no reconnect.
      assert.ok([1 + st.replacements, 2 + st.replacements].includes(server.connections), `${server.connections} connections for ${st.replacements} replacements`);
      assert.equal(server.maxSubscribers, 2, 'each replacement overlapped the connection it replaced');
      assert.equal(st.opens, 1, 'no reconnect');
      assert.equal(st.resyncs, 0, 'no book lost its sequence');
      assert.equal(await sample(metrics, 'himari_ingest_replacements_total', { feed: 'usdm', aligned: 'true' }), st.replacements, 'every handover saw the overlap');
      assert.equal(st.messages, server.sent, 'every message handed on once');

      const expected = withSnapshots(readRecordingEvents(join(RECORDINGS_DIR, 'BINANCE_FUTURES.ws.1.0')).events, server.served, 'binance-futures');
      const stored = await readTopic(config, config.kafka.topics[0]!, expected.length + 1, 5_000);
      const seen = new Map<string, number>();
      for (const m of stored) { const k = JSON.stringify(comparable(unpack(m.value) as MarketEvent)); seen.set(k, (seen.get(k) ?? 0) + 1); }
      assert.deepEqual([...seen].filter(([, n]) => n > 1).map(([k]) => k).slice(0, 3), [], 'nothing twice');
      assert.equal(stored.length, expected.length, 'nothing lost, nothing twice');
      const got = bySymbol(stored.map((m) => unpack(m.value) as MarketEvent));
      for (const [k, list] of bySymbol(expected)) assert.deepEqual(got.get(k), list, `${k}: the same events in the same order`);
    });
  });
});

describe('a Binance USD-M feed of every channel (two endpoints since 2026-04-23)', { timeout: 120_000 }, () => {
  const recording = join(RECORDINGS_DIR, 'BINANCE_FUTURES.ws.1.0');
  const channels = ['trades', 'quotes', 'book', 'liquidations'];

  it('runs as two connections, trades and liquidations on /market, quotes and books on /public: every message reaches Kafka once, in order', async () => {
    // The stub serves each stream on its endpoint only, and refuses a connection asking another's.
    const server = new VenueServer({ recording, snapshots: join(RECORDINGS_DIR, 'BINANCE_FUTURES.http.0.0'), speed: 10, symbols: FEEDS[1].feed.symbols, startAfter: 2 });
    const base = `127.0.0.1:${await server.listen()}`;
    const feeds = { usdm: { ...FEEDS[1].feed, channels, url: `ws://${base}/market/stream`, publicUrl: `ws://${base}/public/stream`, restUrl: `http://${base}/fapi/v1/depth` } };
    await throughGateway(server, feeds, {}, async ({ gateway, metrics, config }) => {
      assert.deepEqual(server.misrouted, [], 'every stream asked where it is served');
      const asked = server.requests.map((r) => decodeURIComponent(r)).sort();
      assert.equal(asked.length, 2, asked.join('\n'));
      assert.match(asked[0]!, /^\/market\/stream\?streams=(\w+@(trade|forceOrder)\/?)+$/);
      assert.match(asked[1]!, /^\/public\/stream\?streams=(\w+@(bookTicker|depth@100ms)\/?)+$/);
      const stats = gateway.stats();
      assert.deepEqual(stats.map((s) => s.name).sort(), ['usdm-market', 'usdm-public']);
      for (const s of stats) {
        assert.equal(s.opens, 1, `${s.name}: one connection`);
        assert.ok(s.messages > 0, `${s.name}: got its streams`);
        assert.equal(s.unrecognized, 0);
      }
      assert.deepEqual(server.missed, []);
      assert.equal(await sample(metrics, 'himari_ingest_resyncs_total'), 0);

      const expected = withSnapshots(readRecordingEvents(recording).events, server.served, 'binance-futures');
      const stored = await readTopic(config, config.kafka.topics[0]!, expected.length + 1, 5_000);
      assert.equal(stored.length, expected.length, 'nothing lost, nothing twice');
      const got = bySymbol(stored.map((m) => unpack(m.value) as MarketEvent));
      for (const [k, list] of bySymbol(expected)) assert.deepEqual(got.get(k), list, `${k}: the same events in the same order`);
    });
  });

  it('(control) the same feed with one url only keeps one connection, which the split venue refuses', async () => {
    const server = new VenueServer({ recording, speed: 10, symbols: FEEDS[1].feed.symbols });
    const base = `127.0.0.1:${await server.listen()}`;
    const { config } = testConfig(ingestEnv({ usdm: { ...FEEDS[1].feed, channels, url: `ws://${base}/market/stream` } }));
    const gateway = new IngestGateway(config.kafka, ingestOf(config), new IngestMetrics({ defaultMetrics: false }), pino({ level: 'silent' }));
    try {
      await gateway.start();
      await waitUntil('the venue refused the public streams on /market', async () => server.misrouted.length > 0, 30_000);
      assert.ok(server.misrouted.every((s) => /@(bookTicker|depth@100ms)$/.test(s)), server.misrouted.join(', '));
      assert.equal(server.sent, 0, 'nothing served to a refused connection');
    } finally {
      await gateway.close();
      await server.close();
      await cleanup(config);
    }
  });
});

describe('a Binance server announcing its shutdown', { timeout: 120_000 }, () => {
  it('gets its connection replaced by an overlapping one before it drops it: no gap, every message once, in order', async () => {
    const server = new VenueServer({
      recording: join(RECORDINGS_DIR, 'BINANCE_FUTURES.ws.1.0'), snapshots: join(RECORDINGS_DIR, 'BINANCE_FUTURES.http.0.0'), speed: 5, symbols: FEEDS[1].feed.symbols,
    });
    const base = `127.0.0.1:${await server.listen()}`;
    const feeds = { usdm: { ...FEEDS[1].feed, url: `ws://${base}/stream`, restUrl: `http://${base}/fapi/v1/depth` } };
    let announced = false;
    void waitUntil('a third of the recording sent', async () => server.sent > server.recorded.length / 3, 60_000, 10).then(() => {
      // The venue drops the announced connection 2 s later, as it does (after ~10 minutes).
      server.announceShutdown(2_000);
      announced = true;
    });
    await throughGateway(server, feeds, {}, async ({ gateway, metrics, config }) => {
      assert.ok(announced);
      const st = gateway.stats()[0]!;
      assert.equal(st.replacements, 1, 'replaced once, on the announcement');
      assert.equal(await sample(metrics, 'himari_ingest_replacements_total', { aligned: 'true' }), 1, 'the handover saw the overlap');
      assert.equal(st.opens, 1, 'no reconnect: the venue dropped a connection the gateway had already left');
      assert.equal(server.connections, 2);
      assert.deepEqual(server.missed, [], 'no message fell in a gap');
      assert.equal(st.resyncs, 0);

      const expected = withSnapshots(readRecordingEvents(join(RECORDINGS_DIR, 'BINANCE_FUTURES.ws.1.0')).events, server.served, 'binance-futures');
      const stored = await readTopic(config, config.kafka.topics[0]!, expected.length + 1, 5_000);
      assert.equal(stored.length, expected.length, 'nothing lost, nothing twice');
      const got = bySymbol(stored.map((m) => unpack(m.value) as MarketEvent));
      for (const [k, list] of bySymbol(expected)) assert.deepEqual(got.get(k), list, `${k}: the same events in the same order`);
    });
  });
});

describe('an OKX service upgrade announced (notice 64008)', { timeout: 120_000 }, () => {
  it('moves the feed to an overlapping connection before the venue drops the old one: no gap, and the book checks pass on what reached Kafka', async () => {
    const server = new VenueServer({ recording: join(RECORDINGS_DIR, 'OKX.ws.1.0'), speed: 1, symbols: FEEDS[4].feed.symbols });
    const feeds = { okx: { ...FEEDS[4].feed, url: `ws://127.0.0.1:${await server.listen()}/ws/v5/public` } };
    void waitUntil('a third of the recording sent', async () => server.sent > server.recorded.length / 3, 60_000, 10).then(() => server.announceShutdown(2_000));
    await throughGateway(server, feeds, {}, async ({ gateway, metrics, config }) => {
      const st = gateway.stats()[0]!;
      assert.equal(server.broadcasts, 1, 'the notice was sent');
      assert.equal(st.replacements, 1, 'replaced once, on the notice');
      assert.equal(st.opens, 1, 'no reconnect');
      assert.equal(server.connections, 2);
      assert.deepEqual(server.missed, [], 'no message fell in a gap');
      const delivered = await sample(metrics, 'himari_ingest_delivered_total');
      const stored = (await readTopic(config, config.kafka.topics[0]!, delivered, 30_000)).map((m) => unpack(m.value) as MarketEvent);
      assert.equal(stored.length, delivered);
      assert.deepEqual(bookCheckFailures(stored), {}, 'the books go on across the handover (the new connection\'s snapshots included)');
    });
  });
});

describe('a gap in an OKX book stream', { timeout: 120_000 }, () => {
  it('breaks the checksum; the book is subscribed again and the venue\'s new snapshot resynchronizes it: the book checks pass on what reached Kafka', async () => {
    let btcUpdates = 0;
    const server = new VenueServer({
      recording: join(RECORDINGS_DIR, 'OKX.ws.1.0'), speed: 10, symbols: FEEDS[4].feed.symbols,
      // The venue loses BTC-USDT's 30th book update (its book has it; the client never sees it).
      skip: (_i, text) => text.includes('"channel":"books","instId":"BTC-USDT"},"action":"update"') && ++btcUpdates === 30,
    });
    const feeds = { okx: { ...FEEDS[4].feed, url: `ws://127.0.0.1:${await server.listen()}/ws/v5/public` } };
    await throughGateway(server, feeds, {}, async ({ gateway, metrics, config }) => {
      assert.equal(server.skipped.length, 1, 'one update lost');
      assert.equal(gateway.stats()[0]!.resyncs, 1, 'one resync');
      assert.deepEqual(server.resnapshots, ['BTC-USDT'], 'the book was subscribed again and the venue sent its snapshot');
      assert.equal(await sample(metrics, 'himari_ingest_book_updates_held_back_total', { feed: 'okx' }), 1, 'the update that broke the checksum was held back');

      const delivered = await sample(metrics, 'himari_ingest_delivered_total');
      const stored = (await readTopic(config, config.kafka.topics[0]!, delivered, 30_000)).map((m) => unpack(m.value) as MarketEvent);
      assert.equal(stored.length, delivered);
      assert.deepEqual(bookCheckFailures(stored), {}, 'no book check fails on what the gateway produced');
      const snapshots = stored.filter((e) => e.type === 'book' && e.symbol === 'BTC-USDT' && e.action === 'snapshot');
      assert.equal(snapshots.length, 2, 'the first snapshot and the resync\'s');
      assert.ok((bookCheckFailures(stored.filter((e) => e !== snapshots[1])).Q5 ?? 0) > 0, 'without the resync snapshot the checksum check flags the book');
    });
  });
});

describe('book events Kafka did not take (the buffer full)', { timeout: 120_000 }, () => {
  it('resynchronize their books once Kafka takes events again: each ends on the venue\'s new snapshot, not on the updates before the hole', async () => {
    // As fast as the socket takes them into a buffer of 20: the burst overflows it.
    const server = new VenueServer({ recording: join(RECORDINGS_DIR, 'OKX.ws.1.0'), speed: 0, symbols: FEEDS[4].feed.symbols });
    const feeds = { okx: { ...FEEDS[4].feed, url: `ws://127.0.0.1:${await server.listen()}/ws/v5/public` } };
    await throughGateway(server, feeds, { HIMARI_INGEST_BUFFER_MAX_MESSAGES: '20' }, async ({ gateway, metrics, config }) => {
      assert.ok(await sample(metrics, 'himari_ingest_dropped_total', { type: 'book', reason: 'buffer_full' }) > 0, 'book events were dropped');
      await waitUntil('a new snapshot of each book', async () => server.resnapshots.length >= FEEDS[4].feed.symbols.length, 30_000);
      await waitUntil('the snapshots acknowledged', async () => gateway.pending === 0 && gateway.stats()[0]!.messages === server.sent + server.resnapshots.length, 30_000);
      assert.deepEqual([...new Set(server.resnapshots)].sort(), [...FEEDS[4].feed.symbols].sort(), 'each book subscribed again, once Kafka took events');

      const delivered = await sample(metrics, 'himari_ingest_delivered_total');
      const stored = (await readTopic(config, config.kafka.topics[0]!, delivered, 30_000)).map((m) => unpack(m.value) as MarketEvent);
      assert.equal(stored.length, delivered);
      for (const symbol of FEEDS[4].feed.symbols) {
        const books = stored.filter((e): e is BookEvent => e.type === 'book' && e.symbol === symbol);
        assert.equal(books.at(-1)?.action, 'snapshot', `${symbol}: the book in Kafka goes on from a new snapshot after its hole`);
      }
      assert.deepEqual(bookCheckFailures(stored), {});
    });
  });
});

describe('venue messages the gateway does not understand', { timeout: 120_000 }, () => {
  it('are kept whole in the dead-letter topic with the feed, the venue and why; the rest of the stream is unaffected', async () => {
    const file = join(RECORDINGS_DIR, 'OKX.ws.1.0');
    const server = new VenueServer({ recording: file, speed: 10, symbols: FEEDS[4].feed.symbols });
    const dlq = `it.ingest-dlq.${Date.now().toString(36)}`;
    const { config } = testConfig(ingestEnv({ okx: { ...FEEDS[4].feed, url: `ws://127.0.0.1:${await server.listen()}/ws/v5/public` } }, { HIMARI_INGEST_DEAD_LETTER_TOPIC: dlq }));
    const metrics = new IngestMetrics({ defaultMetrics: false });
    const gateway = new IngestGateway(config.kafka, ingestOf(config), metrics, pino({ level: 'silent' }));
    const bad = ['not json at all {', '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":"no levels"}', '{"op":"error","msg":"Invalid request"}'];
    try {
      await gateway.start();
      await waitUntil('the stream under way', async () => server.sent > 50, 30_000, 10);
      for (const b of bad) server.broadcast(b);
      await server.done;
      await waitUntil('every message received and acknowledged', async () => gateway.pending === 0 && gateway.stats()[0]!.messages === server.sent + bad.length, 30_000);

      const kept = await readTopic(config, dlq, bad.length, 20_000);
      assert.deepEqual(kept.map((m) => m.value.toString()).sort(), bad.slice().sort(), 'each kept as received');
      for (const m of kept) {
        assert.equal(m.key, 'okx');
        assert.equal(m.headers['x-feed'], 'okx');
        assert.equal(m.headers['x-venue'], 'okx');
        assert.ok((m.headers['x-error-message'] ?? '').length > 0, 'with why');
        assert.match(m.headers['x-received-us'] ?? '', /^\d{16}$/);
      }
      assert.equal(gateway.stats()[0]!.unrecognized, bad.length);
      assert.equal(await sample(metrics, 'himari_ingest_delivered_total', { type: 'unrecognized' }), bad.length);
      const events = await readTopic(config, config.kafka.topics[0]!, readRecordingEvents(file).events.length, 20_000);
      assert.equal(events.length, readRecordingEvents(file).events.length, 'every event of the recording still reached Kafka');
    } finally {
      await gateway.close();
      await server.close();
      await cleanup(config);
      const admin = Kafka.AdminClient.create(kafkaClientConfig(config.kafka, 'test-admin'));
      await new Promise<void>((resolve) => admin.deleteTopic(dlq, 10_000, () => resolve()));
      admin.disconnect();
    }
  });
});
