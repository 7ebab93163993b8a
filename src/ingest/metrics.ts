import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * A prom-client counter fed from a running total kept in a plain field on the hot path: `sync`,
 * called at scrape (`IngestMetrics.onScrape`), hands it what it does not hold yet.
 */
export class TotalCounter {
  private handed = 0;

  constructor(private readonly counter: Counter.Internal) {}

  sync(total: number): void {
    if (total === this.handed) return;
    this.counter.inc(total - this.handed);
    this.handed = total;
  }
}

/**
 * The ingest gateway's metrics, in a registry of its own (it runs as its own process, or beside
 * the processor with its own endpoint). Labels are bounded: feeds are configured, event types
 * and message kinds are fixed sets.
 */
export class IngestMetrics {
  readonly registry = new Registry();
  /**
   * Hand counts kept in plain fields on the hot path to the metrics below, before each scrape: a
   * labelled prom-client update hashes its labels on every call (9 % of the gateway's main
   * thread at 10,000 messages/s, counting each message and event).
   */
  private readonly flushers: Array<() => void> = [];
  private readonly flush = (): void => { for (const f of this.flushers) f(); };

  readonly messages = new Counter({ name: 'himari_ingest_messages_total', help: 'Venue messages received, by feed and what became of them (events, ignored: acknowledgements and heartbeats, unrecognized).', labelNames: ['feed', 'venue', 'kind'] as const, registers: [this.registry], collect: this.flush });
  readonly events = new Counter({ name: 'himari_ingest_events_total', help: 'Normalized events handed to the Kafka producer, by feed and event type (type="unrecognized": venue messages not understood, to ingest.deadLetterTopic).', labelNames: ['feed', 'venue', 'type'] as const, registers: [this.registry], collect: this.flush });
  readonly delivered = new Counter({ name: 'himari_ingest_delivered_total', help: 'Events Kafka acknowledged, by feed and event type (type="unrecognized": kept in ingest.deadLetterTopic).', labelNames: ['feed', 'venue', 'type'] as const, registers: [this.registry], collect: this.flush });
  readonly dropped = new Counter({ name: 'himari_ingest_dropped_total', help: 'Events that did not reach Kafka, by feed, event type and reason (buffer_full: the bound was reached; expired: Kafka did not take it within ingest.deliveryTimeoutMs; refused: Kafka refused it).', labelNames: ['feed', 'venue', 'type', 'reason'] as const, registers: [this.registry] });
  readonly reconnects = new Counter({ name: 'himari_ingest_reconnects_total', help: 'Connections lost and reopened, by feed and why they ended.', labelNames: ['feed', 'venue', 'reason'] as const, registers: [this.registry] });
  readonly disconnectedSeconds = new Counter({ name: 'himari_ingest_disconnected_seconds_total', help: 'Time feeds spent without a connection after having one (the gaps reconnects left).', labelNames: ['feed', 'venue'] as const, registers: [this.registry] });
  readonly replacements = new Counter({ name: 'himari_ingest_replacements_total', help: 'Connections replaced before the venue\'s age limit by an overlapping one (no gap), by feed and whether the overlap was seen (aligned) or the feed was too quiet to see it.', labelNames: ['feed', 'venue', 'aligned'] as const, registers: [this.registry] });
  readonly resyncs = new Counter({ name: 'himari_ingest_resyncs_total', help: 'Books resynchronized from a new snapshot after their sequence or checksum broke (a lost update, a reconnect), by feed.', labelNames: ['feed', 'venue'] as const, registers: [this.registry] });
  readonly heldBack = new Counter({ name: 'himari_ingest_book_updates_held_back_total', help: 'Book updates not handed on because their book was broken (sequence or checksum) and waits for the venue\'s new snapshot, by feed.', labelNames: ['feed', 'venue'] as const, registers: [this.registry] });
  readonly rateLimited = new Counter({ name: 'himari_ingest_rate_limited_total', help: 'Connection attempts (limit="connections"), requests such as resubscriptions (limit="requests") and REST book snapshots (limit="snapshots") that waited for the venue\'s limit (docs/ingest.md), by venue.', labelNames: ['venue', 'limit'] as const, registers: [this.registry] });
  readonly connected = new Gauge({ name: 'himari_ingest_connected', help: '1 while the feed\'s WebSocket is open and subscribed, else 0.', labelNames: ['feed', 'venue'] as const, registers: [this.registry] });
  readonly exchangeToReceive = new Histogram({ name: 'himari_ingest_exchange_to_receive_seconds', help: 'Receive time minus the venue\'s exchange time of each event (clocks differ: can be negative, counted in the lowest bucket).', labelNames: ['venue'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry] });
  readonly receiveToAck = new Histogram({ name: 'himari_ingest_receive_to_ack_seconds', help: 'Receive time of a venue message to Kafka\'s acknowledgement of its event.', buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  readonly buffered = new Gauge({ name: 'himari_ingest_buffered_events', help: 'Events handed to the producer and not yet acknowledged or dropped (what a Kafka outage piles up, bounded by ingest.bufferMaxMessages / bufferMaxMb).', registers: [this.registry], collect: this.flush });
  readonly kafkaDown = new Gauge({ name: 'himari_ingest_kafka_down', help: '1 while the producer reports every broker down, else 0.', registers: [this.registry] });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    // Unprefixed, as the processor's: the names stock Node.js dashboards look for (the scrape
    // job tells the two processes apart).
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** `flush` hands the counts it keeps to the metrics; called before every scrape (and read of the registry). */
  onScrape(flush: () => void): void {
    this.flushers.push(flush);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
