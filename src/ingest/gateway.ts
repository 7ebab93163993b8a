import type { Logger } from 'pino';
import { EVENT_TYPES, type MarketEvent } from '../codec/event.js';
import type { IngestConfig, IngestFeedConfig, KafkaConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import { BinanceNormalizer } from '../normalize/binance.js';
import { createNormalizer, type Normalizer } from '../normalize/index.js';
import type { LatencyHistogram } from '../obs/latency-histogram.js';
import { ensureTopics, requireTopics } from '../source/kafka-admin.js';
import { BinanceDepthSync, fetchJson } from './binance-depth.js';
import { BookGuard } from './book-guard.js';
import { FeedConnection, type CloseReason } from './connection.js';
import { RateWindow, withMargin, type Rate } from './rate-limit.js';
import { IngestProducer } from './event-producer.js';
import { TotalCounter, type IngestMetrics } from './metrics.js';
import { venueProtocol, type VenueLimits } from './venues.js';

/** How often a feed with books that lost events checks whether Kafka takes events again. */
const LOST_BOOK_CHECK_MS = 250;
/** Raw text kept of a message the normalizer did not understand, in its log line. */
const RAW_LOGGED_CHARS = 1_000;

/** What one feed has seen, for its owner and the tests. */
export interface FeedStats {
  readonly name: string;
  readonly venue: string;
  connected: boolean;
  /** Times it opened (1 + reconnects). */
  opens: number;
  messages: number;
  events: number;
  ignored: number;
  unrecognized: number;
  /** Milliseconds without a connection, summed over the gaps after the first open. */
  disconnectedMs: number;
  /** Books resynchronized from a new snapshot (Binance). */
  resyncs: number;
  /** Connections replaced before the venue's age limit. */
  replacements: number;
}

/**
 * Venues count connection attempts and REST requests per address, whichever feed makes them:
 * one budget per kind and host, shared by the feeds that reach it.
 */
class HostGates {
  private readonly gates = new Map<string, RateWindow>();

  get(key: string, rate: Rate): RateWindow {
    let gate = this.gates.get(key);
    if (gate === undefined) this.gates.set(key, (gate = new RateWindow(rate)));
    return gate;
  }
}

/**
 * One configured feed: its WebSocket, its venue's normalizer (state per connection: Kraken
 * channel ids, Bybit ticker deltas), and the route of each message forward: frame → JSON →
 * normalized events stamped with the receive time → the producer.
 */
class Feed {
  readonly stats: FeedStats;
  private readonly normalizer: Normalizer;
  private readonly connection: FeedConnection;
  /** Events of the message at hand; reused, emptied after each message. */
  private readonly out: MarketEvent[] = [];
  /** Producer slot of each event type. */
  private readonly slots: Record<string, number> = {};
  /** Producer slot of the messages not understood (the dead-letter topic). */
  private readonly rawSlot: number;
  private readonly exchangeToReceive: { observe(v: number): void };
  /** Binance books: snapshots from REST and the bridge rule (null for venues that send snapshots themselves). */
  private readonly depth: BinanceDepthSync | null;
  /** The books of venues that send their own snapshots: sequence and checksum, a resubscription when broken. */
  private readonly guard: BookGuard | null;
  private readonly heldBack: { inc(): void };
  /** Subscribes a book again (a new snapshot follows); false without a connection. */
  private readonly resubscribe: (symbol: string) => boolean;
  /** Books with an event Kafka did not take, resynchronized once it takes events again. */
  private readonly lostBooks = new Set<string>();
  private lostTimer: NodeJS.Timeout | null = null;

  constructor(readonly name: string, private readonly feed: IngestFeedConfig, config: IngestConfig, private readonly producer: IngestProducer,
    private readonly metrics: IngestMetrics, private readonly log: Logger, limits: VenueLimits, gates: HostGates) {
    const protocol = venueProtocol(feed.venue);
    this.normalizer = createNormalizer(feed.venue);
    this.stats = { name, venue: feed.venue, connected: false, opens: 0, messages: 0, events: 0, ignored: 0, unrecognized: 0, disconnectedMs: 0, resyncs: 0, replacements: 0 };
    // A book event Kafka did not take leaves a hole in the book there: it is resynchronized.
    for (const type of EVENT_TYPES) this.slots[type] = producer.slot(name, feed.venue, type, type === 'book' ? (symbol) => this.bookLost(symbol) : null);
    this.rawSlot = producer.slot(name, feed.venue, 'unrecognized');
    // Messages by what became of them: the stats' counts, handed to the metric at each scrape.
    const messages = (kind: string) => new TotalCounter(metrics.messages.labels(name, feed.venue, kind));
    const withEvents = messages('events');
    const ignored = messages('ignored');
    const unrecognized = messages('unrecognized');
    metrics.onScrape(() => {
      const st = this.stats;
      withEvents.sync(st.messages - st.ignored - st.unrecognized);
      ignored.sync(st.ignored);
      unrecognized.sync(st.unrecognized);
    });
    this.exchangeToReceive = metrics.exchangeToReceive.labels(feed.venue);
    metrics.connected.labels(name, feed.venue).set(0);
    const snapshotUrl = feed.restUrl ?? protocol.depthSnapshotUrl;
    this.depth = snapshotUrl !== null && feed.channels.includes('book') && this.normalizer instanceof BinanceNormalizer
      ? new BinanceDepthSync(this.normalizer, feed.venue === 'binance-futures', feed.symbols, {
        url: snapshotUrl, fetch: fetchJson,
        gate: limits.snapshots === null ? null : gates.get(`snapshots ${new URL(snapshotUrl).host}`, limits.snapshots),
        onWait: () => metrics.rateLimited.labels(feed.venue, 'snapshots').inc(),
      }, log,
        (events, recvUs) => this.forward(events, recvUs),
        (symbol, why) => {
          this.countResync();
          log.warn({ symbol, why }, 'book out of sequence: resynchronizing from a new snapshot');
        })
      : null;
    const url = protocol.url(feed);
    const rule = feed.channels.includes('book') ? protocol.bookSequence(url) : null;
    const venueSymbols = new Map(feed.symbols.map((s) => [protocol.normalizedSymbol(s), s]));
    this.heldBack = metrics.heldBack.labels(name, feed.venue);
    // The venue sends a new snapshot for a book subscribed again; until then its updates are held back.
    this.resubscribe = (symbol) => {
      const venueSymbol = venueSymbols.get(symbol);
      return venueSymbol !== undefined && protocol.resubscribeBook(feed, venueSymbol).every((f) => this.connection.send(f));
    };
    this.guard = rule === null ? null : new BookGuard(rule, (symbol, why) => {
      this.countResync();
      log.warn({ symbol, why, resubscribed: this.resubscribe(symbol) }, 'book out of sequence: resynchronizing from a new snapshot');
    });
    this.connection = new FeedConnection({
      url, subscriptions: protocol.subscriptions(feed), ping: protocol.ping, isPong: protocol.isPong,
      staleMs: config.staleMs, reconnectInitialMs: config.reconnectInitialMs, reconnectMaxMs: config.reconnectMaxMs,
      replaceAfterMs: protocol.maxAgeMs > 0 ? config.replaceConnectionsAfterMs : 0,
      connectGate: gates.get(`connections ${new URL(url).host}`, limits.connections), requestRate: limits.requests,
    }, log, {
      onRateLimited: (limit) => metrics.rateLimited.labels(feed.venue, limit).inc(),
      onReplaced: (handover) => {
        this.stats.replacements++;
        this.metrics.replacements.labels(name, feed.venue, String(handover.aligned)).inc();
      },
      onFrame: (frame, recvUs) => this.onFrame(frame, recvUs),
      onOpen: (openedUrl, downMs, attempts) => this.opened(openedUrl, downMs, attempts),
      onClose: (reason, detail, retryInMs) => this.closed(reason, detail, retryInMs),
    });
  }

  private opened(url: string, downMs: number, attempts: number): void {
    this.stats.connected = true;
    this.stats.opens++;
    this.metrics.connected.labels(this.name, this.feed.venue).set(1);
    // The normalizer's per-connection state starts over (Kraken's channel ids, Bybit's tickers).
    this.normalizer.connected?.(url);
    if (this.stats.opens === 1) {
      this.log.info({ url, symbols: this.feed.symbols.length, channels: this.feed.channels }, 'feed connected');
      return;
    }
    this.stats.disconnectedMs += downMs;
    this.metrics.disconnectedSeconds.labels(this.name, this.feed.venue).inc(downMs / 1000);
    // Messages the venue sent meanwhile are gone: the gap is what the processor's silence and
    // sequence checks will see, reported here with its length; the books start over from the
    // snapshots the new subscription brings (Binance: from REST).
    this.log.warn({ url, gapMs: downMs, attempts }, 'feed reconnected and resubscribed after a gap');
  }

  private closed(reason: CloseReason, detail: string, retryInMs: number): void {
    this.stats.connected = false;
    this.depth?.reset();
    this.guard?.reset();
    this.metrics.connected.labels(this.name, this.feed.venue).set(0);
    this.metrics.reconnects.labels(this.name, this.feed.venue, reason).inc();
    this.log.warn({ reason, detail, retryInMs }, 'feed connection lost');
  }

  start(): void {
    this.connection.start();
  }

  close(): Promise<void> {
    if (this.lostTimer !== null) clearInterval(this.lostTimer);
    this.lostTimer = null;
    this.depth?.close();
    return this.connection.close();
  }

  /**
   * A book event of `symbol` Kafka did not take (the buffer full, expired, refused): the book in
   * Kafka has a hole. Its updates are held back from here, and the new snapshot is asked for once
   * the producer takes events again (asked for at once, it would be lost the same way, and again,
   * spending the venue's request budget).
   */
  private bookLost(symbol: string): void {
    this.depth?.lost(symbol);
    if (this.guard?.lost(symbol) === true) this.countResync();
    if (this.depth === null && this.guard === null) return;
    if (!this.lostBooks.has(symbol)) this.log.warn({ symbol }, 'book event not delivered to Kafka: the book resynchronizes once Kafka takes events again');
    this.lostBooks.add(symbol);
    this.lostTimer ??= setInterval(() => this.resyncLostBooks(), LOST_BOOK_CHECK_MS);
  }

  private resyncLostBooks(): void {
    if (!this.producer.accepting) return;
    for (const symbol of this.lostBooks) {
      if (this.depth !== null) this.depth.resume(symbol);
      else this.resubscribe(symbol);
    }
    this.log.info({ symbols: [...this.lostBooks] }, 'Kafka takes events again: resynchronizing the books that lost some');
    this.lostBooks.clear();
    clearInterval(this.lostTimer!);
    this.lostTimer = null;
  }

  private countResync(): void {
    this.stats.resyncs++;
    this.metrics.resyncs.labels(this.name, this.feed.venue).inc();
  }

  /** Drops the connection as a network failure would (a reconnect follows). */
  drop(): void {
    this.connection.drop('error', 'dropped on request');
  }

  private onFrame(frame: string, recvUs: number): void {
    this.stats.messages++;
    let raw: unknown;
    try {
      raw = JSON.parse(frame);
    } catch (err) {
      this.unrecognized(`not JSON: ${(err as Error).message}`, frame, recvUs);
      return;
    }
    const out = this.out;
    let d;
    try {
      d = this.normalizer.normalize(raw, recvUs, out);
    } catch (err) {
      // A normalizer never throws for what a venue sends; if one does, the message is reported, not lost silently.
      out.length = 0;
      this.unrecognized(`normalizer failed: ${(err as Error).message}`, frame, recvUs);
      return;
    }
    if (d.kind === 'ignored') {
      this.stats.ignored++;
      if (d.channel === 'serverShutdown') this.shutdownAnnounced();
    } else if (d.kind === 'unrecognized') {
      this.unrecognized(d.reason, frame, recvUs);
    } else {
      const depth = this.depth;
      for (let i = 0; i < out.length; i++) {
        const e = out[i]!;
        // A Binance delta waits for its book's snapshot, or is covered by it.
        if (depth !== null && e.type === 'book' && !depth.admit(e)) continue;
        if (this.guard !== null && e.type === 'book' && !this.guard.admit(e)) {
          this.heldBack.inc();
          continue;
        }
        this.send(e, recvUs);
      }
    }
    out.length = 0;
  }

  /**
   * The venue announced that the server of this connection shuts down soon (Binance's
   * `serverShutdown`, OKX's notice 64008): the connection is replaced now by an overlapping one, handed over without
   * a gap, instead of reconnecting after the venue drops it.
   */
  private shutdownAnnounced(): void {
    this.log.warn('the venue announced its server\'s shutdown: replacing the connection by an overlapping one');
    this.connection.replace();
  }

  /** Events released later (a snapshot and the deltas held behind it), in order. */
  private forward(events: readonly MarketEvent[], recvUs: number): void {
    for (const e of events) this.send(e, recvUs);
  }

  private send(e: MarketEvent, recvUs: number): void {
    this.stats.events++;
    this.exchangeToReceive.observe(Math.max(0, recvUs - e.ts) / 1e6);
    this.producer.send(this.slots[e.type]!, e, recvUs);
  }

  /** A message not understood: logged (cut), counted, and kept whole in the dead-letter topic. */
  private unrecognized(reason: string, frame: string, recvUs: number): void {
    this.stats.unrecognized++;
    this.log.warn({ reason, raw: frame.length > RAW_LOGGED_CHARS ? `${frame.slice(0, RAW_LOGGED_CHARS)}...` : frame }, 'venue message not understood: kept in the dead-letter topic');
    this.producer.sendRaw(this.rawSlot, this.name, this.feed.venue, frame, reason, recvUs);
  }
}

/**
 * The ingest gateway: the configured venue WebSockets, normalized, produced to Kafka
 * (`ingest.topic`). Each feed is one connection that stays up on its own; they share the
 * producer, whose bounded queue absorbs a Kafka outage.
 */
export class IngestGateway {
  private readonly producer: IngestProducer;
  private readonly feeds: Feed[];

  constructor(private readonly kafka: KafkaConfig, private readonly config: IngestConfig, metrics: IngestMetrics, private readonly log: Logger) {
    const names = Object.keys(config.feeds);
    if (names.length === 0) {
      throw new HimariError(ErrorCode.CONFIG_INVALID, 'ingest.feeds is empty: configure at least one feed (HIMARI_INGEST_FEEDS or the config file; see docs/ingest.md)');
    }
    this.producer = new IngestProducer(kafka, config, metrics, log.child({ stage: 'ingest-producer' }));
    const gates = new HostGates();
    // A configured feed whose channels the venue serves on several endpoints runs as one feed per endpoint.
    const routes = names.flatMap((configured) => venueProtocol(config.feeds[configured]!.venue).routes(config.feeds[configured]!)
      .map((r) => ({ name: configured + r.suffix, feed: r.feed })));
    const taken = new Set<string>();
    for (const r of routes) {
      if (taken.has(r.name)) {
        throw new HimariError(ErrorCode.CONFIG_INVALID, `ingest.feeds: two feeds named ${r.name} (the venue's ${r.feed.venue} endpoints split a feed into <name>-market and <name>-public): rename one`);
      }
      taken.add(r.name);
    }
    this.feeds = routes.map(({ name, feed }) => {
      const published = { ...venueProtocol(feed.venue).limits, ...config.venueLimits[feed.venue] };
      const limits: VenueLimits = {
        connections: withMargin(published.connections), requests: withMargin(published.requests),
        snapshots: published.snapshots === null ? null : withMargin(published.snapshots),
      };
      return new Feed(name, feed, config, this.producer, metrics, log.child({ feed: name, venue: feed.venue }), limits, gates);
    });
  }

  /** Connects the producer (creating or checking the topic), then opens every feed. */
  async start(): Promise<void> {
    const topics = [this.config.topic, this.config.deadLetterTopic];
    if (this.kafka.createTopics) await ensureTopics(this.kafka, topics);
    else await requireTopics(this.kafka, topics);
    await this.producer.connect();
    for (const f of this.feeds) f.start();
    this.log.info({ feeds: this.feeds.map((f) => f.name), topic: this.config.topic }, 'ingest gateway started');
  }

  stats(): FeedStats[] {
    return this.feeds.map((f) => ({ ...f.stats }));
  }

  /** Receive → Kafka acknowledged of every delivered event since start (or the last reset), µs. */
  get ackLatency(): LatencyHistogram {
    return this.producer.ackLatency;
  }

  /** Events handed to Kafka and not yet acknowledged. */
  get pending(): number {
    return this.producer.pending;
  }

  /** Drops feed `name`'s connection as a network failure would. */
  dropConnection(name: string): void {
    const feed = this.feeds.find((f) => f.name === name);
    if (feed === undefined) throw new HimariError(ErrorCode.INVALID_INPUT, `no feed named ${name}`);
    feed.drop();
  }

  /** Live while the process runs (a dead connection is reconnected, not a reason to restart). */
  live(): boolean {
    return true;
  }

  /** Not ready while a feed has no connection or Kafka is unreachable: each reason, named. */
  notReadyReasons(): string[] {
    const reasons = this.feeds.filter((f) => !f.stats.connected).map((f) => `feed ${f.name} (${f.stats.venue}) not connected`);
    if (this.producer.kafkaDown) reasons.push(`Kafka unreachable: ${this.producer.pending} events buffered`);
    return reasons;
  }

  /**
   * Closes every feed, then gives Kafka up to `flushMs` for what is buffered. Returns how many
   * events Kafka had not acknowledged by then.
   */
  async close(flushMs = 10_000): Promise<number> {
    await Promise.all(this.feeds.map((f) => f.close()));
    return this.producer.close(flushMs);
  }
}
