import type { IngestChannel, IngestFeedConfig, IngestVenue } from '../config/schema.js';
import { bybitInstrument } from '../normalize/bybit.js';
import { krakenPair } from '../normalize/common.js';
import type { SequenceRule } from './book-guard.js';
import type { Rate } from './rate-limit.js';

/**
 * What a venue allows a client: its published limits (the gateway keeps them with a margin in
 * time, `withMargin`, since the venue counts on its own clock when requests arrive).
 */
export interface VenueLimits {
  /** Connection attempts to the venue's host, across the process's feeds (venues count them per IP). */
  readonly connections: Rate;
  /** Frames sent on one connection: subscriptions and resubscriptions (application pings, one per 20 s, are not counted). */
  readonly requests: Rate;
  /** REST book snapshot requests to the venue's host, across the feeds (Binance), or null where books come on the WebSocket. */
  readonly snapshots: Rate | null;
}

/**
 * How one venue's public market-data WebSocket is spoken: where to connect, what to send to
 * subscribe a feed's channels, and what keeps the connection alive. The messages that come back
 * are the normalizers' business (src/normalize/); this is only the conversation around them.
 */
export interface VenueProtocol {
  /** The venue's public endpoint (a feed's `url` replaces it). */
  readonly defaultUrl: string;
  /** The URL to open for `feed` (Binance names the streams in the URL's query). */
  url(feed: IngestFeedConfig): string;
  /**
   * The connections a configured feed needs, each run as a feed of its own named `name + suffix`:
   * the feed itself, but where the venue serves its channels on different endpoints (Binance
   * USD-M since 2026-04-23: trades and liquidations on /market, best bid/ask and books on /public).
   */
  routes(feed: IngestFeedConfig): Array<{ readonly suffix: string; readonly feed: IngestFeedConfig }>;
  /** Text frames to send once the connection is open, in order: the subscriptions. */
  subscriptions(feed: IngestFeedConfig): string[];
  /**
   * An application-level ping the venue requires (OKX closes a connection idle for 30 s, Bybit
   * asks for one every 20 s), or null where WebSocket ping frames are enough.
   */
  readonly ping: { readonly text: string; readonly everyMs: number } | null;
  /** A text frame that only answers that ping and is not JSON (OKX's bare `pong`). */
  isPong(frame: string): boolean;
  /**
   * Longest a connection may live before the venue closes it (Binance: 24 hours), or 0; the
   * gateway replaces it before then.
   */
  readonly maxAgeMs: number;
  /**
   * Where book snapshots come from when the WebSocket sends none (Binance's REST depth
   * endpoint), or null: the venue sends one on every book subscription.
   */
  readonly depthSnapshotUrl: string | null;
  /**
   * How the venue's book updates follow each other on a connection to `url` (for the gateway's
   * BookGuard), or null when the gateway does not guard its books (Binance: BinanceDepthSync).
   */
  bookSequence(url: string): SequenceRule | null;
  /** Frames that subscribe one instrument's book again, so that the venue sends a new snapshot. */
  resubscribeBook(feed: IngestFeedConfig, venueSymbol: string): string[];
  /** The symbol the normalizer writes for a venue symbol (`XBT/USD` → `BTC-USD`). */
  normalizedSymbol(venueSymbol: string): string;
  readonly limits: VenueLimits;
}

const HOUR_MS = 3_600_000;
const noPong = (): boolean => false;

const oneRoute = (feed: IngestFeedConfig) => [{ suffix: '', feed }];
/** Channels Binance USD-M serves on its /public endpoint (high-frequency data); the others on /market. */
const BINANCE_PUBLIC: ReadonlySet<IngestChannel> = new Set(['quotes', 'book']);

/**
 * Binance spot and USD-M: combined streams named in the URL (`/stream?streams=a/b`), pinged by
 * the server. `publicUrl`: USD-M's endpoint of best bid/ask and books, `defaultUrl` then serving
 * trades and liquidations (the single endpoint before 2026-04-23 was retired that day).
 */
function binance(defaultUrl: string, publicUrl: string | null, depthSnapshotUrl: string, limits: VenueLimits): VenueProtocol {
  const suffix: Record<IngestChannel, string> = { trades: '@trade', quotes: '@bookTicker', book: '@depth@100ms', liquidations: '@forceOrder' };
  return {
    defaultUrl,
    url(feed) {
      const streams = feed.symbols.flatMap((s) => feed.channels.map((c) => `${s.toLowerCase()}${suffix[c]}`));
      const endpoint = publicUrl !== null && feed.channels.every((c) => BINANCE_PUBLIC.has(c))
        ? feed.publicUrl ?? feed.url ?? publicUrl
        : feed.url ?? defaultUrl;
      return `${endpoint}?streams=${streams.join('/')}`;
    },
    routes(feed) {
      // A feed's own url alone is one endpoint that serves all it asks for (a proxy, a test
      // venue); with its own publicUrl too, the two endpoints are the venue's, elsewhere.
      if (publicUrl === null || (feed.url !== undefined && feed.publicUrl === undefined)) return oneRoute(feed);
      const market = feed.channels.filter((c) => !BINANCE_PUBLIC.has(c));
      const pub = feed.channels.filter((c) => BINANCE_PUBLIC.has(c));
      if (market.length === 0 || pub.length === 0) return oneRoute(feed);
      return [{ suffix: '-market', feed: { ...feed, channels: market } }, { suffix: '-public', feed: { ...feed, channels: pub } }];
    },
    subscriptions: () => [],
    // The server pings every 20 s (3 minutes in older docs) and drops a connection that does not
    // answer within a minute; the WebSocket library answers pings itself.
    ping: null,
    isPong: noPong,
    maxAgeMs: 24 * HOUR_MS,
    depthSnapshotUrl,
    bookSequence: () => null,
    resubscribeBook: () => [],
    normalizedSymbol: (s) => s,
    limits,
  };
}

/** Coinbase Exchange: one subscribe for every channel; the heartbeat channel proves the link each second. */
const coinbase: VenueProtocol = {
  defaultUrl: 'wss://ws-feed.exchange.coinbase.com',
  url: (feed) => feed.url ?? coinbase.defaultUrl,
  routes: oneRoute,
  subscriptions(feed) {
    // level2 needs authentication since 2023; level2_batch is its public form (50 ms batches).
    const names: Record<Exclude<IngestChannel, 'liquidations'>, string> = { trades: 'matches', quotes: 'ticker', book: 'level2_batch' };
    const channels = feed.channels.filter((c): c is Exclude<IngestChannel, 'liquidations'> => c !== 'liquidations').map((c) => names[c]);
    return [JSON.stringify({ type: 'subscribe', product_ids: feed.symbols, channels: [...channels, 'heartbeat'] })];
  },
  ping: null,
  isPong: noPong,
  maxAgeMs: 0,
  depthSnapshotUrl: null,
  // level2_batch carries neither a sequence nor a checksum: the guard only holds a book's updates
  // back until its snapshot (after a reconnect, or an update Kafka did not take).
  bookSequence: () => 'none',
  resubscribeBook: (_feed, venueSymbol) => ['unsubscribe', 'subscribe'].map((type) => JSON.stringify({ type, product_ids: [venueSymbol], channels: ['level2_batch'] })),
  normalizedSymbol: (s) => s,
  // Published: 8 requests a second per IP (bursts to 20), which connections and subscriptions
  // share: half each.
  limits: { connections: { count: 4, perMs: 1000 }, requests: { count: 4, perMs: 1000 }, snapshots: null },
};

/** Kraken WebSocket v1: one subscribe per channel; the server sends a heartbeat each second when idle. */
const kraken: VenueProtocol = {
  defaultUrl: 'wss://ws.kraken.com',
  url: (feed) => feed.url ?? kraken.defaultUrl,
  routes: oneRoute,
  subscriptions(feed) {
    const out: string[] = [];
    for (const c of feed.channels) {
      const subscription = c === 'trades' ? { name: 'trade' } : c === 'quotes' ? { name: 'spread' } : c === 'book' ? { name: 'book', depth: feed.bookDepth ?? 100 } : null;
      if (subscription !== null) out.push(JSON.stringify({ event: 'subscribe', pair: feed.symbols, subscription }));
    }
    return out;
  },
  ping: null,
  isPong: noPong,
  maxAgeMs: 0,
  depthSnapshotUrl: null,
  // v1 books carry no sequence; each update's checksum covers the top 10.
  bookSequence: () => 'none',
  resubscribeBook(feed, venueSymbol) {
    const subscription = { name: 'book', depth: feed.bookDepth ?? 100 };
    return [JSON.stringify({ event: 'unsubscribe', pair: [venueSymbol], subscription }), JSON.stringify({ event: 'subscribe', pair: [venueSymbol], subscription })];
  },
  normalizedSymbol: (s) => krakenPair(s),
  // Published: about 150 connection attempts per rolling 10 minutes per IP; the message rate is
  // adjusted to load ("Exceeded msg rate"), so requests are kept to a few a second.
  limits: { connections: { count: 150, perMs: 600_000 }, requests: { count: 5, perMs: 1000 }, snapshots: null },
};

/** Characters of one OKX subscribe request's arguments (the venue takes 64 KB), with room for the envelope. */
const OKX_MAX_REQUEST_CHARS = 60_000;

/** OKX v5 public: one subscribe with every argument; a text `ping` at least every 30 s. */
const okx: VenueProtocol = {
  // Port 8443 stopped taking WebSocket connections on 2026-10-31: 443.
  defaultUrl: 'wss://ws.okx.com/ws/v5/public',
  url: (feed) => feed.url ?? okx.defaultUrl,
  routes: oneRoute,
  subscriptions(feed) {
    const args: Array<Record<string, string>> = [];
    const liquidationTypes = new Set<string>();
    for (const s of feed.symbols) {
      for (const c of feed.channels) {
        if (c === 'trades') args.push({ channel: 'trades', instId: s });
        else if (c === 'quotes') args.push({ channel: 'tickers', instId: s });
        else if (c === 'book') args.push({ channel: 'books', instId: s });
        else liquidationTypes.add(okxInstType(s));
      }
    }
    // Liquidations are subscribed by instrument type, not instrument: every swap's or future's.
    for (const instType of liquidationTypes) args.push({ channel: 'liquidation-orders', instType });
    // One request may be 64 KB at most: larger subscriptions go in several.
    const out: string[] = [];
    let batch: Array<Record<string, string>> = [];
    let size = 0;
    for (const a of args) {
      const n = JSON.stringify(a).length + 1;
      if (batch.length > 0 && size + n > OKX_MAX_REQUEST_CHARS) {
        out.push(JSON.stringify({ op: 'subscribe', args: batch }));
        batch = [];
        size = 0;
      }
      batch.push(a);
      size += n;
    }
    out.push(JSON.stringify({ op: 'subscribe', args: batch }));
    return out;
  },
  ping: { text: 'ping', everyMs: 20_000 },
  isPong: (frame) => frame === 'pong',
  maxAgeMs: 0,
  depthSnapshotUrl: null,
  // seqId / prevSeqId (when sent), and each update's checksum over the top 25 where it is not 0
  // (OKX stopped computing it in June 2026).
  bookSequence: () => 'prev-seq',
  resubscribeBook: (_feed, venueSymbol) => ['unsubscribe', 'subscribe'].map((op) => JSON.stringify({ op, args: [{ channel: 'books', instId: venueSymbol }] })),
  normalizedSymbol: (s) => s,
  // Published: 3 connection requests a second per IP; 480 subscribe and unsubscribe requests an
  // hour per connection (a resubscription is two).
  limits: { connections: { count: 3, perMs: 1000 }, requests: { count: 480, perMs: HOUR_MS }, snapshots: null },
};

/** OKX instrument type from its id: `BTC-USDT-SWAP`, `BTC-USD-240628` (a future), else spot. */
export function okxInstType(instId: string): string {
  if (instId.endsWith('-SWAP')) return 'SWAP';
  if (/-\d{6}$/.test(instId)) return 'FUTURES';
  return 'SPOT';
}

/** Bybit v5 public, one path per category; subscribe requests carry at most 10 topics; `{"op":"ping"}` every 20 s. */
function bybit(defaultUrl: string): VenueProtocol {
  const topic: Record<IngestChannel, string> = { trades: 'publicTrade', quotes: 'tickers', book: 'orderbook.50', liquidations: 'allLiquidation' };
  return {
    defaultUrl,
    url: (feed) => feed.url ?? defaultUrl,
    routes: oneRoute,
    subscriptions(feed) {
      const topics = feed.symbols.flatMap((s) => feed.channels.map((c) => `${topic[c]}.${s}`));
      const out: string[] = [];
      for (let i = 0; i < topics.length; i += 10) out.push(JSON.stringify({ op: 'subscribe', args: topics.slice(i, i + 10) }));
      return out;
    },
    ping: { text: '{"op":"ping"}', everyMs: 20_000 },
    isPong: noPong, // {"op":"pong",...} is JSON: the normalizer counts it as ignored
    maxAgeMs: 0,
    depthSnapshotUrl: null,
    // v5: `u` + 1 per update of a topic. The 2021 feed (/realtime) numbers by cross_seq, which skips.
    bookSequence: (url) => (/\/v5\//.test(url) ? 'plus-one' : 'none'),
    resubscribeBook: (_feed, venueSymbol) => ['unsubscribe', 'subscribe'].map((op) => JSON.stringify({ op, args: [`${topic.book}.${venueSymbol}`] })),
    normalizedSymbol: (s) => bybitInstrument(defaultUrl.endsWith('/spot') ? 'spot' : 'linear', s).symbol,
    // Published: at most 500 connections in 5 minutes per IP; no request rate, so a few a second
    // (a subscription of many symbols is several requests of 10 topics).
    limits: { connections: { count: 500, perMs: 300_000 }, requests: { count: 10, perMs: 1000 }, snapshots: null },
  };
}

const PROTOCOLS: Record<IngestVenue, VenueProtocol> = {
  // Published: 300 connections per 5 minutes per IP; 5 (spot) or 10 (USD-M) messages a second on
  // a connection, pings and pongs included (the gateway sends none but the library's pongs: its
  // streams are named in the URL, at most BINANCE_MAX_STREAMS per connection). REST: 6,000
  // (spot) or 2,400 (USD-M) request weight a minute per IP, a 1,000-level depth snapshot weighing
  // 50 (spot) or 20: 120 snapshots a minute either way.
  'binance': binance('wss://stream.binance.com:9443/stream', null, 'https://api.binance.com/api/v3/depth',
    { connections: { count: 300, perMs: 300_000 }, requests: { count: 5, perMs: 1000 }, snapshots: { count: 120, perMs: 60_000 } }),
  'binance-futures': binance('wss://fstream.binance.com/market/stream', 'wss://fstream.binance.com/public/stream', 'https://fapi.binance.com/fapi/v1/depth',
    { connections: { count: 300, perMs: 300_000 }, requests: { count: 10, perMs: 1000 }, snapshots: { count: 120, perMs: 60_000 } }),
  'coinbase': coinbase,
  'kraken': kraken,
  'okx': okx,
  'bybit': bybit('wss://stream.bybit.com/v5/public/linear'),
  'bybit-spot': bybit('wss://stream.bybit.com/v5/public/spot'),
};

export function venueProtocol(venue: IngestVenue): VenueProtocol {
  return PROTOCOLS[venue];
}
