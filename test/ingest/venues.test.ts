import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import type { IngestFeedConfig } from '../../src/config/schema.js';
import pino from 'pino';
import { reconnectDelayMs } from '../../src/ingest/connection.js';
import { IngestGateway } from '../../src/ingest/gateway.js';
import { IngestMetrics } from '../../src/ingest/metrics.js';
import { RateWindow, withMargin } from '../../src/ingest/rate-limit.js';
import { okxInstType, venueProtocol } from '../../src/ingest/venues.js';
import { INGEST_VENUES } from '../../src/config/schema.js';
import { problemsOf } from '../helpers/config-problems.js';

function feed(f: Partial<IngestFeedConfig> & Pick<IngestFeedConfig, 'venue' | 'symbols'>): IngestFeedConfig {
  return { channels: ['trades', 'quotes', 'book'], ...f };
}

describe('venue protocols: what the gateway opens and sends', () => {
  it('Binance names every stream in the URL, lower case, and needs no subscribe frame', () => {
    const p = venueProtocol('binance-futures');
    const f = feed({ venue: 'binance-futures', symbols: ['BTCUSDT', 'ETHUSDT'], channels: ['trades', 'liquidations'] });
    assert.equal(p.url(f), 'wss://fstream.binance.com/market/stream?streams=btcusdt@trade/btcusdt@forceOrder/ethusdt@trade/ethusdt@forceOrder');
    assert.deepEqual(p.subscriptions(f), []);
    assert.equal(p.maxAgeMs, 24 * 3_600_000, 'Binance closes a connection after 24 hours');
    assert.equal(venueProtocol('binance').url(feed({ venue: 'binance', symbols: ['BTCUSDT'], channels: ['quotes', 'book'], url: 'ws://127.0.0.1:1/stream' })),
      'ws://127.0.0.1:1/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms', 'a feed url replaces the endpoint, not the streams');
  });

  it('Binance USD-M: a feed of trades or liquidations and of quotes or books runs as two, on /market and /public; its own url keeps it whole', () => {
    const p = venueProtocol('binance-futures');
    const mixed = feed({ venue: 'binance-futures', symbols: ['BTCUSDT'], channels: ['trades', 'quotes', 'book', 'liquidations'] });
    const routes = p.routes(mixed);
    assert.deepEqual(routes.map((r) => [r.suffix, r.feed.channels, p.url(r.feed)]), [
      ['-market', ['trades', 'liquidations'], 'wss://fstream.binance.com/market/stream?streams=btcusdt@trade/btcusdt@forceOrder'],
      ['-public', ['quotes', 'book'], 'wss://fstream.binance.com/public/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms'],
    ]);
    const books = feed({ venue: 'binance-futures', symbols: ['BTCUSDT'], channels: ['book'] });
    assert.deepEqual(p.routes(books).map((r) => [r.suffix, p.url(r.feed)]), [['', 'wss://fstream.binance.com/public/stream?streams=btcusdt@depth@100ms']]);
    assert.equal(p.routes({ ...mixed, url: 'ws://127.0.0.1:1/stream' }).length, 1);
    // Both endpoints given (a proxy in front of each): split as on the venue's own.
    const proxied = p.routes({ ...mixed, url: 'ws://proxy:1/m', publicUrl: 'ws://proxy:2/p' });
    assert.deepEqual(proxied.map((r) => [r.suffix, p.url(r.feed)]), [
      ['-market', 'ws://proxy:1/m?streams=btcusdt@trade/btcusdt@forceOrder'],
      ['-public', 'ws://proxy:2/p?streams=btcusdt@bookTicker/btcusdt@depth@100ms'],
    ]);
    assert.match(problemsOf(() => loadConfig({ env: { HIMARI_INGEST_FEEDS: JSON.stringify({ spot: { venue: 'binance', symbols: ['BTCUSDT'], publicUrl: 'ws://x/p' } }) } })).join('\n'),
      /ingest\.feeds\.spot\.publicUrl: .*binance serves every channel on one endpoint/);
    assert.equal(venueProtocol('binance').routes(feed({ venue: 'binance', symbols: ['BTCUSDT'] })).length, 1, 'spot serves every stream on one endpoint');
    // The gateway runs the routes as feeds named after the configured one, and refuses a name taken twice.
    const gateway = (feeds: Record<string, unknown>) => {
      const c = loadConfig({ env: { HIMARI_INGEST_FEEDS: JSON.stringify(feeds) } });
      return new IngestGateway(c.kafka, c.ingest, new IngestMetrics({ defaultMetrics: false }), pino({ level: 'silent' }));
    };
    assert.deepEqual(gateway({ usdm: { venue: 'binance-futures', symbols: ['BTCUSDT'] } }).stats().map((f) => f.name), ['usdm-market', 'usdm-public']);
    assert.throws(() => gateway({ 'usdm': { venue: 'binance-futures', symbols: ['BTCUSDT'] }, 'usdm-market': { venue: 'binance-futures', symbols: ['ETHUSDT'], channels: ['trades'] } }),
      /two feeds named usdm-market/);
  });

  it('Coinbase subscribes every channel in one frame, with the heartbeat channel, book as level2_batch', () => {
    const frames = venueProtocol('coinbase').subscriptions(feed({ venue: 'coinbase', symbols: ['BTC-USD'] }));
    assert.deepEqual(frames.map((f) => JSON.parse(f)), [{ type: 'subscribe', product_ids: ['BTC-USD'], channels: ['matches', 'ticker', 'level2_batch', 'heartbeat'] }]);
    // A book subscribed again brings a new snapshot (level2_batch has no sequence to resume from).
    assert.deepEqual(venueProtocol('coinbase').resubscribeBook(feed({ venue: 'coinbase', symbols: ['BTC-USD'] }), 'BTC-USD').map((f) => JSON.parse(f)), [
      { type: 'unsubscribe', product_ids: ['BTC-USD'], channels: ['level2_batch'] },
      { type: 'subscribe', product_ids: ['BTC-USD'], channels: ['level2_batch'] },
    ]);
    assert.equal(venueProtocol('coinbase').bookSequence('wss://ws-feed.exchange.coinbase.com'), 'none');
  });

  it('Kraken subscribes one channel per frame, the book at the feed\'s depth (100 by default)', () => {
    const p = venueProtocol('kraken');
    assert.deepEqual(p.subscriptions(feed({ venue: 'kraken', symbols: ['XBT/USD'] })).map((f) => JSON.parse(f)), [
      { event: 'subscribe', pair: ['XBT/USD'], subscription: { name: 'trade' } },
      { event: 'subscribe', pair: ['XBT/USD'], subscription: { name: 'spread' } },
      { event: 'subscribe', pair: ['XBT/USD'], subscription: { name: 'book', depth: 100 } },
    ]);
    assert.deepEqual(JSON.parse(p.subscriptions(feed({ venue: 'kraken', symbols: ['XBT/USD'], channels: ['book'], bookDepth: 1000 }))[0]!).subscription, { name: 'book', depth: 1000 });
  });

  it('OKX subscribes per instrument, liquidations per instrument type, and pings with a bare text frame', () => {
    const p = venueProtocol('okx');
    const [frame] = p.subscriptions(feed({ venue: 'okx', symbols: ['BTC-USDT-SWAP', 'ETH-USDT-SWAP', 'BTC-USD-240628'], channels: ['trades', 'liquidations'] }));
    assert.deepEqual(JSON.parse(frame!), { op: 'subscribe', args: [
      { channel: 'trades', instId: 'BTC-USDT-SWAP' }, { channel: 'trades', instId: 'ETH-USDT-SWAP' }, { channel: 'trades', instId: 'BTC-USD-240628' },
      { channel: 'liquidation-orders', instType: 'SWAP' }, { channel: 'liquidation-orders', instType: 'FUTURES' },
    ] });
    assert.deepEqual(p.ping, { text: 'ping', everyMs: 20_000 });
    assert.equal(p.isPong('pong'), true);
    assert.equal(p.isPong('{"event":"subscribe"}'), false);
    assert.equal(okxInstType('BTC-USDT'), 'SPOT');
  });

  it('OKX splits a subscription over requests of at most 64 KB, every argument once, in order', () => {
    const symbols = Array.from({ length: 1200 }, (_, i) => `COIN${i}-USDT-SWAP`);
    const frames = venueProtocol('okx').subscriptions(feed({ venue: 'okx', symbols }));
    assert.ok(frames.length > 1);
    for (const f of frames) assert.ok(f.length <= 64 * 1024, `${f.length} characters`);
    const args = frames.flatMap((f) => (JSON.parse(f) as { args: Array<{ channel: string; instId: string }> }).args);
    assert.equal(args.length, symbols.length * 3);
    assert.deepEqual(args.slice(0, 4), [{ channel: 'trades', instId: 'COIN0-USDT-SWAP' }, { channel: 'tickers', instId: 'COIN0-USDT-SWAP' }, { channel: 'books', instId: 'COIN0-USDT-SWAP' }, { channel: 'trades', instId: 'COIN1-USDT-SWAP' }]);
  });

  it('every venue states its connection and request limits', () => {
    for (const v of INGEST_VENUES) {
      const { connections, requests } = venueProtocol(v).limits;
      for (const r of [connections, requests]) assert.ok(Number.isInteger(r.count) && r.count >= 1 && r.perMs >= 1000, `${v}: ${JSON.stringify(r)}`);
    }
    assert.deepEqual(venueProtocol('okx').limits, { connections: { count: 3, perMs: 1000 }, requests: { count: 480, perMs: 3_600_000 }, snapshots: null });
    for (const v of ['binance', 'binance-futures'] as const) assert.deepEqual(venueProtocol(v).limits.snapshots, { count: 120, perMs: 60_000 });
  });

  it('Bybit sends at most 10 topics per subscribe frame, on the category\'s path, and pings every 20 s', () => {
    const p = venueProtocol('bybit');
    const symbols = ['A', 'B', 'C', 'D', 'E', 'F'].map((s) => `${s}USDT`);
    const frames = p.subscriptions(feed({ venue: 'bybit', symbols, channels: ['trades', 'book'] })).map((f) => JSON.parse(f) as { op: string; args: string[] });
    assert.deepEqual(frames.map((f) => f.args.length), [10, 2]);
    assert.deepEqual(frames[0]!.args.slice(0, 2), ['publicTrade.AUSDT', 'orderbook.50.AUSDT']);
    assert.equal(p.url(feed({ venue: 'bybit', symbols })), 'wss://stream.bybit.com/v5/public/linear');
    assert.equal(venueProtocol('bybit-spot').url(feed({ venue: 'bybit-spot', symbols })), 'wss://stream.bybit.com/v5/public/spot');
    assert.deepEqual(p.ping, { text: '{"op":"ping"}', everyMs: 20_000 });
  });
});

describe('reconnect backoff', () => {
  it('doubles from the initial delay up to the cap, each delay in the upper half of its step', () => {
    const low = (attempt: number) => reconnectDelayMs(attempt, 250, 30_000, () => 0);
    const high = (attempt: number) => reconnectDelayMs(attempt, 250, 30_000, () => 1);
    assert.deepEqual([0, 1, 2, 3].map(high), [250, 500, 1000, 2000]);
    assert.deepEqual([0, 1, 2, 3].map(low), [125, 250, 500, 1000]);
    assert.equal(high(20), 30_000, 'capped');
    assert.equal(low(1000), 15_000, 'a huge attempt count stays at the cap');
  });
});

describe('venue limits as the gateway keeps them', () => {
  it('never more than the count in any window: the next take waits until the oldest leaves it', () => {
    const w = new RateWindow({ count: 3, perMs: 1000 });
    assert.deepEqual([w.take(0), w.take(10), w.take(20)], [0, 0, 0]);
    assert.equal(w.take(500), 500, 'the fourth waits for the first to be a window old');
    assert.equal(w.take(999.5), 1, 'rounded up: never early');
    assert.equal(w.take(1000), 0);
    assert.equal(w.take(1005), 5, 'the window slides: now the take at 10 is the oldest');
    assert.deepEqual([w.take(1010), w.take(1020)], [0, 0]);
    assert.equal(w.take(1021), 979);
  });

  it('a refused take counts nothing: waiting callers do not use up the window', () => {
    const w = new RateWindow({ count: 1, perMs: 100 });
    assert.equal(w.take(0), 0);
    for (let t = 1; t < 100; t += 7) assert.ok(w.take(t) > 0);
    assert.equal(w.take(100), 0);
  });

  it('keeps a published limit over a window a quarter longer, and refuses a rate that allows nothing', () => {
    assert.deepEqual(withMargin({ count: 3, perMs: 1000 }), { count: 3, perMs: 1250 });
    assert.deepEqual(withMargin({ count: 480, perMs: 3_600_000 }), { count: 480, perMs: 4_500_000 });
    assert.throws(() => new RateWindow({ count: 0, perMs: 1000 }), { code: 'CONFIG_INVALID' });
    assert.throws(() => new RateWindow({ count: 1, perMs: 0 }), { code: 'CONFIG_INVALID' });
  });
});

describe('ingest config', () => {
  const load = (feeds: unknown, extra: Record<string, string> = {}) => loadConfig({ env: { HIMARI_INGEST_FEEDS: JSON.stringify(feeds), ...extra } });

  it('reads feeds from the environment as JSON, with default channels', () => {
    const c = load({ spot: { venue: 'binance', symbols: ['BTCUSDT'] } });
    assert.deepEqual(c.ingest.feeds.spot, { venue: 'binance', symbols: ['BTCUSDT'], channels: ['trades', 'quotes', 'book'] });
    assert.equal(c.ingest.topic, 'market.events');
    assert.equal(c.ingest.compression, 'lz4');
  });

  it('refuses what a venue does not have, naming the key', () => {
    assert.throws(() => load({ cb: { venue: 'coinbase', symbols: ['BTC-USD'], channels: ['liquidations'] } }), /ingest\.feeds\.cb\.channels: coinbase has no public liquidation stream/);
    assert.throws(() => load({ s: { venue: 'bybit-spot', symbols: ['BTCUSDT'], channels: ['quotes'] } }), /bybit-spot tickers carry no best bid\/ask/);
    assert.throws(() => load({ k: { venue: 'kraken', symbols: ['XBT/USD'], bookDepth: 50 } }), /ingest\.feeds\.k\.bookDepth: Kraken books come 10, 25, 100, 500 or 1000 levels deep/);
    assert.throws(() => load({ o: { venue: 'okx', symbols: ['BTC-USDT'], bookDepth: 50 } }), /ingest\.feeds\.o\.bookDepth: set, but okx has a fixed book depth/);
    assert.throws(() => load({ x: { venue: 'ftx', symbols: ['BTC-PERP'] } }), /ingest\.feeds\.x\.venue/);
    assert.throws(() => load({ 'Bad Name': { venue: 'okx', symbols: ['BTC-USDT'] } }), /a feed name is lower-case letters/);
    assert.throws(() => load({ o: { venue: 'okx', symbols: ['BTC-USDT'], url: 'https://example' } }), /must be a ws:\/\/ or wss:\/\/ URL/);
    assert.throws(() => load({}, { HIMARI_INGEST_RECONNECT_INITIAL_MS: '5000', HIMARI_INGEST_RECONNECT_MAX_MS: '1000' }), /ingest\.reconnectMaxMs \(HIMARI_INGEST_RECONNECT_MAX_MS\): must be at least ingest\.reconnectInitialMs/);
    const many = Array.from({ length: 342 }, (_, i) => `C${i}USDT`);
    assert.throws(() => load({ b: { venue: 'binance', symbols: many } }), /ingest\.feeds\.b\.symbols: 1026 streams \(symbols × channels\) on one connection: Binance serves 1024 at most; split the symbols over several feeds/);
    assert.doesNotThrow(() => load({ b: { venue: 'binance', symbols: many.slice(0, 341) } }));
    assert.throws(() => load({}, { HIMARI_INGEST_VENUE_LIMITS: '{"okx":{"requests":{"count":0,"perMs":1000}}}' }), /ingest\.venueLimits\.okx\.requests\.count/);
    assert.throws(() => load({}, { HIMARI_INGEST_VENUE_LIMITS: '{"ftx":{"requests":{"count":1,"perMs":1000}}}' }), /ingest\.venueLimits/);
  });

  it('takes a venue\'s limits from the configuration where they changed', () => {
    const c = load({}, { HIMARI_INGEST_VENUE_LIMITS: '{"okx":{"requests":{"count":600,"perMs":3600000}}}' });
    assert.deepEqual(c.ingest.venueLimits, { okx: { requests: { count: 600, perMs: 3_600_000 } } });
  });
});
