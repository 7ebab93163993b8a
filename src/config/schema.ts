import { accessSync, constants } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { DEFAULT_KNOWN_VENUES } from '../checks/thresholds.js';

/**
 * The processor's configuration. Every key has a description and a default that fits the
 * production box (8 vCPU CPX41) and local services. `docs/config.md` is generated from this
 * schema (`himari-l0 config --markdown`), so descriptions are the reference documentation.
 */
const defaultThreads = Math.max(1, Math.min(8, availableParallelism()));

/** A file the processor must read (certificates, keys): checked at start, naming the key. */
const readableFile = () => z.string().min(1).refine((path) => {
  if (path === '') return true; // reported as empty already
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}, { message: 'no such file, or not readable' });

/** Names spliced into SQL (tables, roles): plain lower-case identifiers only. */
const sqlIdentifier = () => z.string().regex(/^[a-z_][a-z0-9_]*$/).max(63);

/** Reports a key that is set but has no effect under the chosen protocol or mode. */
function unused(ctx: z.RefinementCtx, key: string, value: unknown, why: string): void {
  if (value !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `set, but ${why}, so it would not be used` });
}

const kafka = z.strictObject({
  brokers: z.string().min(1).default('127.0.0.1:9092')
    .describe('Kafka bootstrap servers, comma separated (metadata.broker.list).'),
  topics: z.array(z.string().min(1)).min(1).default(['market.events'])
    .describe('Input topics of normalized market events, keyed by symbol.'),
  groupId: z.string().min(1).default('himari-l0')
    .describe('Consumer group id; offsets are committed under it.'),
  clientId: z.string().min(1).default('himari-l0').describe('Kafka client.id.'),
  deadLetterTopic: z.string().min(1).default('market.events.dlq')
    .describe('Topic receiving undecodable and permanently rejected messages, reason in headers.'),
  outputTopic: z.string().min(1).optional()
    .describe('Optional validated stream: every checked event, with its verdict, is also produced here (at-least-once, source offset in headers).'),
  createTopics: z.boolean().default(false)
    .describe('Create the input, dead-letter and output topics at start when missing. Off for production, where topics are provisioned with their replication and retention: start-up then checks that they exist and stops naming the missing ones.'),
  topicPartitions: z.number().int().min(1).max(1024).default(8)
    .describe('Partitions of a topic the processor or a tool (produce, replay, loadtest) creates (one per worker on the production box).'),
  topicReplicationFactor: z.number().int().min(-1).max(32).refine((n) => n !== 0, 'must be -1 (the broker\'s default.replication.factor) or at least 1').default(-1)
    .describe('Replicas of a topic the processor or a tool creates; -1: the broker\'s default.replication.factor.'),
  fetchWaitMaxMs: z.number().int().min(0).max(1000).default(3)
    .describe('fetch.wait.max.ms: longest the broker holds a fetch waiting for kafka.fetchMinBytes of data: the latency a fetch may add.'),
  fetchMinBytes: z.number().int().min(1).max(100_000_000).default(65_536)
    .describe('fetch.min.bytes: the broker answers a fetch once this much data is there (or after kafka.fetchWaitMaxMs). At 10,000 events/s, 64 KiB / 3 ms against 1 byte / 5 ms: processor CPU 58-61 % of a core against 71-79 %, the broker 36-38 % against 45-49 % (fewer, fuller fetches, so fewer worker tasks and wake-ups).'),
  consumeBatchSize: z.number().int().min(1).max(100_000).default(1000)
    .describe('Messages taken per consume() call on the libuv pool; 1000 amortises the native call (~190k msg/s vs ~75k at 10).'),
  consumeTimeoutMs: z.number().int().min(1).max(1000).default(100)
    .describe('How long an idle consumer blocks waiting for the next message; queued messages are always taken without waiting.'),
  sessionTimeoutMs: z.number().int().min(1000).max(300_000).default(10_000)
    .describe('session.timeout.ms: how fast the group notices a dead processor.'),
  heartbeatIntervalMs: z.number().int().min(100).max(100_000).default(500)
    .describe('heartbeat.interval.ms: a member learns of a rebalance at its next heartbeat, so when partitions move to another processor (scale-out, a restart) they wait longer for their new owner: measured here, 1.97-1.98 s at the former 2,000 (session / 5), 0.95-0.97 s at 500, no less at 200 or 100 (librdkafka\'s own rounds). At most a third of kafka.sessionTimeoutMs.'),
  commitIntervalMs: z.number().int().min(10).max(60_000).default(200)
    .describe('How often stored (sink-confirmed) offsets are committed to the group.'),
  queuedMaxMessagesKbytes: z.number().int().min(1024).max(2_097_151).default(65_536)
    .describe('queued.max.messages.kbytes: prefetch budget per consumer; bounds memory when sinks stall.'),
  deadLetterMaxMessageBytes: z.number().int().min(4096).max(100 * 1024 * 1024).default(1_000_000)
    .describe('Largest dead letter sent (librdkafka\'s message.max.bytes for that producer). At start the dead-letter topic\'s own max.message.bytes is read from the broker (plaintext listeners) and the smaller of the two is used. A dead letter that would be larger is stored truncated, with headers x-truncated, x-original-size and x-original-sha256; if the broker still refuses it as too large, the kept part is halved until it is taken.'),
  deadLetterMaxAttempts: z.number().int().min(1).max(100).default(5)
    .describe('Attempts at a dead letter the broker refuses for good (not a timeout or a lost connection, which are retried like a sink outage). After the last one the message\'s partition stops consuming and the processor says why (log, /readyz, himari_partitions_stopped), since committing past it would lose it.'),
  maxMessageBytes: z.number().int().min(64).max(16 * 1024 * 1024).default(1024 * 1024)
    .describe('Messages larger than this go to the dead-letter topic undecoded.'),
  securityProtocol: z.enum(['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl']).default('plaintext')
    .describe('security.protocol of every Kafka client (consumer, dead-letter and output producers, admin): plaintext, ssl (TLS), sasl_ssl (SASL over TLS) or sasl_plaintext (SASL without TLS: SCRAM only, for networks already encrypted).'),
  saslMechanism: z.enum(['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN']).default('SCRAM-SHA-512')
    .describe('SASL mechanism with a sasl_* protocol. PLAIN sends the password itself, so it is refused without TLS.'),
  saslUsername: z.string().min(1).optional().describe('SASL user; required with a sasl_* protocol.'),
  saslPassword: z.string().min(1).optional().describe('SASL password; required with a sasl_* protocol. Redacted in logs.'),
  sslCaFile: readableFile().optional()
    .describe('PEM file of the CA that signed the brokers\' certificates, with ssl or sasl_ssl (default: the system CAs).'),
  sslCertFile: readableFile().optional()
    .describe('PEM client certificate, for brokers that require one (mutual TLS); with kafka.sslKeyFile.'),
  sslKeyFile: readableFile().optional().describe('PEM private key (unencrypted) of kafka.sslCertFile.'),
  sslVerifyHostname: z.boolean().default(true)
    .describe('Check that a broker\'s certificate names the address connected to (ssl.endpoint.identification.algorithm=https). The chain is always verified; turn this off only for brokers whose certificates lack their addresses.'),
}).superRefine((k, ctx) => {
  if (k.heartbeatIntervalMs * 3 > k.sessionTimeoutMs) {
    ctx.addIssue({ code: 'custom', path: ['heartbeatIntervalMs'], message: `${k.heartbeatIntervalMs} is more than a third of kafka.sessionTimeoutMs (${k.sessionTimeoutMs}): a missed heartbeat or two would end the session` });
  }
  // Cross-key rules: a half-configured security setup must stop start-up, not connect weaker.
  const sasl = k.securityProtocol.startsWith('sasl_');
  const tls = k.securityProtocol.endsWith('ssl');
  if (sasl) {
    if (k.saslUsername === undefined) ctx.addIssue({ code: 'custom', path: ['saslUsername'], message: `required with securityProtocol ${k.securityProtocol}` });
    if (k.saslPassword === undefined) ctx.addIssue({ code: 'custom', path: ['saslPassword'], message: `required with securityProtocol ${k.securityProtocol}` });
    if (!tls && k.saslMechanism === 'PLAIN') ctx.addIssue({ code: 'custom', path: ['saslMechanism'], message: 'PLAIN without TLS would send the password in the clear: use sasl_ssl or SCRAM' });
  } else {
    unused(ctx, 'saslUsername', k.saslUsername, `securityProtocol is ${k.securityProtocol}`);
    unused(ctx, 'saslPassword', k.saslPassword, `securityProtocol is ${k.securityProtocol}`);
  }
  if (!tls) {
    for (const key of ['sslCaFile', 'sslCertFile', 'sslKeyFile'] as const) unused(ctx, key, k[key], `securityProtocol ${k.securityProtocol} has no TLS`);
  } else if ((k.sslCertFile === undefined) !== (k.sslKeyFile === undefined)) {
    ctx.addIssue({ code: 'custom', path: [k.sslCertFile === undefined ? 'sslCertFile' : 'sslKeyFile'], message: 'sslCertFile and sslKeyFile go together' });
  }
});

const workers = z.strictObject({
  threads: z.number().int().min(1).max(256).default(defaultThreads)
    .describe('Worker threads running the checks; default min(8, available cores). Each partition is pinned to one. On a 2-core machine shared with Kafka, Redis and PostgreSQL, 1 is better: at 10,000 events/s Redis p99 19-20 ms against 29-32 with 2, drains unchanged (README).'),
  maxBatchMessages: z.number().int().min(1).max(100_000).default(1000)
    .describe('Most messages packed into one worker task (one moved buffer).'),
  taskRetries: z.number().int().min(0).max(10).default(3)
    .describe('How often a batch whose worker crashed is retried on a fresh worker; after that it runs in halves (each once, halved again when it fails), so only a message that crashes every worker is dead-lettered (WORKER_FAILED).'),
  pipelineThread: z.boolean().default(true)
    .describe('Run the pipeline (dispatch, results, sinks, metrics, the check pool) in a thread of its own, the main thread keeping only the Kafka clients (node-rdkafka runs its callbacks on the main loop, so they cannot move): each consume call crosses as one moved buffer, and the two stages use two cores. Draining 500,000 events on the 2-core development box (which also runs Kafka, Redis and PostgreSQL): 1.25x the rate and 0.89x the CPU per event of one thread, its busiest thread 8.4 instead of 12.3 us per event. Off: one thread does both.'),
  warmupEvents: z.number().int().min(0).max(1_000_000).default(30_000)
    .describe('Synthetic events each worker checks before the processor reports ready (on state of its own, thrown away), so the first real events meet compiled code; 0 skips.'),
});

const retry = z.strictObject({
  initialMs: z.number().int().min(1).max(60_000).default(50).describe('First retry delay of a failed sink write.'),
  maxMs: z.number().int().min(1).max(600_000).default(5_000).describe('Cap of the exponential retry delay (full jitter below it).'),
});

/**
 * When a sink writes a partial batch: the trade between latency and the fixed cost of a write.
 * Per sink, because the two differ: Redis is the trading system's read path (latency is the
 * point), PostgreSQL the store of record, where each write is a transaction ending in a WAL flush.
 */
const flushPolicy = (what: string, maxMs: number, whenIdle: boolean, why: string) => z.strictObject({
  batchMaxMs: z.number().int().min(0).max(60_000).default(maxMs)
    .describe(`${what}: write a partial batch this long after its first event entered it (or at sink.batchMaxRows / sink.batchMaxBytes, whichever comes first).`),
  flushWhenIdle: z.boolean().default(whenIdle)
    .describe(`${what}: write at once when no write is in flight, so batches fill only while the sink is busy; off = wait for rows/bytes/time. ${why}`),
});

export const SINK_STORES = ['redis', 'postgres'] as const;
export type SinkStore = (typeof SINK_STORES)[number];

const sink = z.strictObject({
  stores: z.array(z.enum(SINK_STORES)).min(1).default([...SINK_STORES])
    .refine((s) => new Set(s).size === s.length, 'names a store twice')
    .describe('The stores every valid event is written to, offsets committed once all of them (and the output topic, when set) hold it: redis (the trading system\'s latest ticks) and postgres (the store of record). One of them alone runs a consumer group per store, each with its own group.id, so a slow PostgreSQL never holds back Redis; the other store is then neither reached nor migrated at start-up.'),
  batchMaxRows: z.number().int().min(1).max(1_000_000).default(1000)
    .describe('Every sink: flush a batch at this many events ... (under load: draining a backlog ran 32k events/s at 250, 38-41k at 1000-2000)'),
  batchMaxBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(4 * 1024 * 1024)
    .describe('... or at this many encoded bytes.'),
  maxInFlightBatches: z.number().int().min(1).max(1024).default(4)
    .describe('Batches queued or being written per sink connection before the consumer pauses (backpressure). More buys no throughput (a connection writes one at a time) and costs memory: draining at 32 in flight peaked at 665 MB RSS, at 4 at 482 MB.'),
  redis: flushPolicy('Redis', 50, true, 'On: Redis is the latency path.').prefault({}),
  postgres: flushPolicy('PostgreSQL', 20, false,
    'Off: every write is a transaction with a WAL flush, and at 1,000 events/s writing at once made ~370 transactions/s of 2.7 events.').prefault({}),
  output: flushPolicy('Kafka output topic', 50, true, 'On: the producer batches again (linger) behind it.').prefault({}),
  deadLetter: flushPolicy('Dead-letter topic', 50, true, 'On: dead letters are few, and the producer batches again (linger) behind it.').prefault({}),
  retry: retry.prefault({}),
  probeIntervalMs: z.number().int().min(100).max(600_000).default(5_000)
    .describe('A sink connection that has not written for this long is probed (Redis PING, PostgreSQL SELECT 1), so /readyz turns 503 within about this plus the command timeout when a server stops answering while traffic is light.'),
});

const redis = z.strictObject({
  url: z.string().min(1).default('redis://127.0.0.1:6379/0')
    .describe('Redis URL (redis:// or rediss:// for TLS); user and password may be in it.'),
  username: z.string().optional().describe('ACL user (overrides the URL).'),
  password: z.string().optional().describe('Password (overrides the URL). Redacted in logs.'),
  tls: z.boolean().default(false).describe('Connect with TLS (also implied by rediss://).'),
  tlsCaFile: z.string().min(1).optional().describe('PEM file of the CA that signed the Redis server certificate (default: the system CAs).'),
  keyPrefix: z.string().default('l0:').describe('Prefix of every key the processor writes.'),
  recentMax: z.number().int().min(1).max(1_000_000).default(1000)
    .describe('Recent events kept per symbol in the sorted set.'),
  connections: z.number().int().min(1).max(64).default(1)
    .describe('Connections the sink writes with, one batch script in flight on each; a Kafka partition always uses the same one (partition modulo this), so its events apply in order. More overlap the client\'s work with the server\'s; on 2 shared cores 2 drained no faster than 1.'),
  commandTimeoutMs: z.number().int().min(100).max(600_000).default(5_000)
    .describe('A Redis command (a batch script, a probe) that gets no reply in this long fails and is retried on a new connection: a server that accepts and never answers makes the sink unhealthy (/readyz 503) instead of hanging. A batch script takes ~1-2 ms here.'),
  cascadeMaxLen: z.number().int().min(100).max(10_000_000).default(100_000)
    .describe('Approximate length bound (XADD MAXLEN ~) of the cascade stream: rejects, cascade indicators, silent streams.'),
});

/** URL query parameters through which node-postgres would turn TLS on or off on its own. */
const URL_TLS_PARAMS = ['ssl', 'sslmode', 'sslcert', 'sslkey', 'sslrootcert', 'sslnegotiation'];

const postgres = z.strictObject({
  url: z.string().min(1).default('postgres://postgres@127.0.0.1:5432/postgres')
    .refine((url) => {
      try {
        const params = new URL(url).searchParams;
        return !URL_TLS_PARAMS.some((p) => params.has(p));
      } catch {
        return true; // not a URL: node-postgres reports it when connecting
      }
    }, { message: 'TLS is configured by postgres.sslMode and postgres.sslCaFile / sslCertFile / sslKeyFile, not in the URL (one place, one meaning)' })
    .describe('PostgreSQL / TimescaleDB connection URL (without ssl parameters: see postgres.sslMode). Password redacted in logs.'),
  password: z.string().min(1).optional().describe('Password (overrides the URL\'s). Redacted in logs.'),
  sslMode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).default('disable')
    .describe('TLS to PostgreSQL, as libpq\'s sslmode: disable; require (encrypted, server not verified); verify-ca (certificate signed by postgres.sslCaFile or a system CA); verify-full (that, and it names the host connected to). Every connection uses it: sink, migrate, partition maintenance. Off by default for a server on the same host; use verify-full across a network.'),
  sslCaFile: readableFile().optional()
    .describe('PEM file of the CA that signed the server certificate, with verify-ca / verify-full (default: the system CAs).'),
  sslCertFile: readableFile().optional()
    .describe('PEM client certificate, for servers that require one (pg_hba cert or clientcert); with postgres.sslKeyFile.'),
  sslKeyFile: readableFile().optional().describe('PEM private key (unencrypted) of postgres.sslCertFile.'),
  table: sqlIdentifier().default('market_events')
    .describe('Event table (a hypertable with TimescaleDB, range-partitioned by day without).'),
  migrateOnStart: z.boolean().default(true)
    .describe('Create or update the schema at start (needs the rights of the schema\'s owner). Off when the processor connects as a least-privilege role: the owner runs `himari-l0 migrate --grant-to ROLE` first, and the processor only checks that it may write the table.'),
  grantTo: sqlIdentifier().optional()
    .describe('Role that migrate grants what the processor needs and nothing more: insert and read events, read and advance its watermarks, run partition maintenance (see README, Security). Also `migrate --grant-to ROLE`.'),
  retentionDays: z.number().int().min(1).max(3650).default(30)
    .describe('Days of events kept; older partitions / chunks are dropped. Without migrateOnStart, the value the last migrate ran with applies.'),
  partitionsAheadDays: z.number().int().min(1).max(60).default(3)
    .describe('Daily partitions created ahead of time on the plain-PostgreSQL path. Without migrateOnStart, the value the last migrate ran with applies.'),
  policyCheckMs: z.number().int().min(1_000).max(3_600_000).default(60_000)
    .describe('With TimescaleDB: how often the processor reads its policies\' state (compression, retention, the bars\' refresh); a policy whose background runs fail is run in the foreground (CALL run_job) on its schedule. Needs the jobs\' owner: the processor that migrates (see docs/storage.md).'),
  uniqueSourceIndex: z.boolean().default(false)
    .describe('Also create a unique index on (src_partition, src_offset, ts) of the event table, a second guard behind the watermark claim (ts is in it because a partitioned table or hypertable requires its partition key there; a replayed event has the same ts). It assumes one input topic per table. A row it refuses is dead-lettered as SINK_REJECTED. Off by default: see its cost in the README.'),
  queryTimeoutMs: z.number().int().min(100).max(600_000).default(15_000)
    .describe('A PostgreSQL connect or batch transaction (COPY and watermarks) without an answer in this long fails and is retried on a new connection, so a server that stops answering makes the sink unhealthy (/readyz 503) instead of hanging. A 1,000-row batch takes ~16 ms under load here.'),
  connections: z.number().int().min(1).max(64).default(1)
    .describe('Connections the sink writes with concurrently, each its own transactions; a Kafka partition always uses the same one (partition modulo this), so its rows stay in order. More pay when the database server has cores to spare: on 2 shared cores 2 drained no faster than 1.'),
}).superRefine((p, ctx) => {
  if (p.sslMode === 'disable') {
    for (const key of ['sslCaFile', 'sslCertFile', 'sslKeyFile'] as const) unused(ctx, key, p[key], 'sslMode is disable');
  } else if (p.sslMode === 'require') {
    // libpq would quietly verify against a CA file under "require"; say which mode does that.
    unused(ctx, 'sslCaFile', p.sslCaFile, 'sslMode require does not verify the server (use verify-ca or verify-full)');
  }
  if (p.sslMode !== 'disable' && (p.sslCertFile === undefined) !== (p.sslKeyFile === undefined)) {
    ctx.addIssue({ code: 'custom', path: [p.sslCertFile === undefined ? 'sslCertFile' : 'sslKeyFile'], message: 'sslCertFile and sslKeyFile go together' });
  }
});

const metrics = z.strictObject({
  host: z.string().default('127.0.0.1')
    .describe('Address of the /metrics, /healthz and /readyz endpoint (and /debug/latency). Loopback by default: they are unauthenticated; expose them on purpose (0.0.0.0) behind a firewall or a scraper on the same host.'),
  port: z.number().int().min(0).max(65_535).default(9464).describe('Port of that endpoint (0 disables it).'),
});

const shutdown = z.strictObject({
  deadlineMs: z.number().int().min(1000).max(600_000).default(30_000)
    .describe('SIGTERM: longest the processor takes to stop. It drains and commits until this less 5 s, then abandons what is not confirmed (replayed on the next start) and exits with code 3. Keep systemd\'s TimeoutStopSec above it.'),
});

const systemd = z.strictObject({
  // Why 5 minutes: an outage stops consumption and loses nothing (Kafka keeps the events, the
  // sink core retries forever), and a restart cures a wedged client, not a server that is down;
  // so the bound rides out a Redis or PostgreSQL restart or failover (seconds to a minute or
  // two) without restarts that would only replay, and still restarts a wedged process within
  // minutes instead of leaving it for hours.
  watchdogSinkOutageMs: z.number().int().min(10_000).max(86_400_000).default(300_000)
    .describe('Under systemd with WatchdogSec= (deploy/himari-l0.service): how long a sink (Redis, PostgreSQL, the output topic) may stay in an outage before the processor stops pinging the watchdog, so that systemd restarts it. An outage loses nothing (consumption pauses, writes are retried); a restart helps a wedged client, not a server that is down, so the default rides out a server restart or failover. No effect without a watchdog.'),
});

const log = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')
    .describe('pino log level.'),
});

const thresholdOverrides = z.record(z.string(), z.record(z.string(), z.number()));

const checks = z.strictObject({
  disabled: z.array(z.string()).default([]).describe('Check ids that do not run (e.g. ["M2"]).'),
  thresholds: thresholdOverrides.default({}).describe('Global threshold overrides: {"T2": {"maxSkewMs": 500}} (see docs/checks.md).'),
  venues: z.record(z.string(), thresholdOverrides).default({}).describe('Per-venue overrides: {"kraken": {"T3": {"maxLatencyMs": 5000}}}.'),
  symbols: z.record(z.string(), thresholdOverrides).default({}).describe('Per venue:symbol overrides: {"binance:BTC-USDT": {"M3": {"factor": 20}}}.'),
  symbolIdleMs: z.number().int().min(1000).default(3_600_000).describe('Per-symbol check state is dropped after this long without events (bounded memory).'),
  referenceInstruments: z.number().int().min(16).max(1_000_000).default(4096)
    .describe('Instruments the shared cross-venue reference holds (x checks.referenceVenues); beyond it, new instruments get no cross-venue or silence checks (counted: himari_reference_refused_total{kind="instrument"}, and logged).'),
  referenceVenues: z.number().int().min(2).max(64).default(8)
    .describe('Venues (event `venue` names) the shared cross-venue reference holds; a venue beyond it gets no cross-venue or silence checks (counted: himari_reference_refused_total{kind="venue"}, and logged). Each cross-venue check reads every venue slot of its instrument.'),
  sweepMs: z.number().int().min(50).max(60_000).default(500)
    .describe('How often the pipeline sweeps the shared reference: silent streams (T5) and market breadth (C6).'),
  knownVenues: z.array(z.string().min(1)).min(1).default([...DEFAULT_KNOWN_VENUES])
    .describe('Venues whose events are accepted; an event of any other venue is dead-lettered (SCHEMA_INVALID "unknown venue"), so a typo or a stray producer does not start streams of its own in Redis, PostgreSQL and the checks. Default: every venue the normalizers write (the synthetic generator\'s among them).'),
});

/** Venues the ingest gateway connects to (normalizer venue ids, src/normalize/index.ts). */
export const INGEST_VENUES = ['binance', 'binance-futures', 'coinbase', 'kraken', 'okx', 'bybit', 'bybit-spot'] as const;
/** What a feed subscribes to, in every venue's terms (src/ingest/venues.ts maps them). */
export const INGEST_CHANNELS = ['trades', 'quotes', 'book', 'liquidations'] as const;
/** Venues without a public liquidation stream. */
const NO_LIQUIDATIONS: ReadonlySet<string> = new Set(['binance', 'coinbase', 'kraken', 'bybit-spot']);

const ingestFeed = z.strictObject({
  venue: z.enum(INGEST_VENUES).describe('Venue (normalizer id): binance (spot), binance-futures (USD-M), coinbase, kraken, okx, bybit (v5 linear), bybit-spot.'),
  symbols: z.array(z.string().min(1)).min(1)
    .describe('Instruments in the venue\'s own spelling: BTCUSDT (Binance, Bybit), BTC-USD (Coinbase), XBT/USD (Kraken), BTC-USDT-SWAP (OKX).'),
  channels: z.array(z.enum(INGEST_CHANNELS)).min(1).default(['trades', 'quotes', 'book'])
    .describe('trades, quotes (best bid/ask), book (snapshot and deltas), liquidations (Binance USD-M, OKX, Bybit).'),
  url: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL').optional()
    .describe('WebSocket endpoint instead of the venue\'s public one (a proxy, a test server). Binance USD-M: alone, it serves every channel on one connection; with publicUrl, trades and liquidations.'),
  publicUrl: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL').optional()
    .describe('Binance USD-M: the endpoint of quotes and book instead of wss://fstream.binance.com/public/stream, url then standing for /market/stream (trades, liquidations): a feed of both kinds runs as <name>-market and <name>-public.'),
  restUrl: z.string().regex(/^https?:\/\//, 'must be an http:// or https:// URL').optional()
    .describe('Binance: the REST depth endpoint book snapshots come from, instead of the venue\'s (https://api.binance.com/api/v3/depth, https://fapi.binance.com/fapi/v1/depth).'),
  bookDepth: z.number().int().min(1).max(1000).optional()
    .describe('Book depth where the venue lets the subscriber choose it (Kraken: 10, 25, 100, 500, 1000); default the venue\'s.'),
}).superRefine((f, ctx) => {
  if (NO_LIQUIDATIONS.has(f.venue) && f.channels.includes('liquidations')) {
    ctx.addIssue({ code: 'custom', path: ['channels'], message: `${f.venue} has no public liquidation stream` });
  }
  if (f.venue === 'bybit-spot' && f.channels.includes('quotes')) {
    ctx.addIssue({ code: 'custom', path: ['channels'], message: 'bybit-spot tickers carry no best bid/ask: subscribe to book instead of quotes' });
  }
  if (f.bookDepth !== undefined && f.venue !== 'kraken') unused(ctx, 'bookDepth', f.bookDepth, `${f.venue} has a fixed book depth`);
  if (f.restUrl !== undefined && !f.venue.startsWith('binance')) unused(ctx, 'restUrl', f.restUrl, `${f.venue} sends its book snapshots on the WebSocket`);
  if (f.publicUrl !== undefined && f.venue !== 'binance-futures') unused(ctx, 'publicUrl', f.publicUrl, `${f.venue} serves every channel on one endpoint`);
  const streams = f.symbols.length * f.channels.length;
  if (f.venue.startsWith('binance') && streams > BINANCE_MAX_STREAMS) {
    ctx.addIssue({ code: 'custom', path: ['symbols'], message: `${streams} streams (symbols × channels) on one connection: Binance serves ${BINANCE_MAX_STREAMS} at most; split the symbols over several feeds` });
  }
  if (f.bookDepth !== undefined && f.venue === 'kraken' && ![10, 25, 100, 500, 1000].includes(f.bookDepth)) {
    ctx.addIssue({ code: 'custom', path: ['bookDepth'], message: 'Kraken books come 10, 25, 100, 500 or 1000 levels deep' });
  }
});

const ingestRate = z.strictObject({
  count: z.number().int().min(1).max(100_000),
  perMs: z.number().int().min(1).max(86_400_000),
});

/** Streams Binance serves on one connection. */
export const BINANCE_MAX_STREAMS = 1024;

const ingest = z.strictObject({
  topic: z.string().min(1).default('market.events')
    .describe('Topic the gateway produces normalized events to (msgpack, keyed by symbol): the processor\'s input.'),
  deadLetterTopic: z.string().min(1).default('market.events.ingest.dlq')
    .describe('Venue messages the gateway could not understand (not JSON, an unknown shape, a venue error) go here as received, keyed by feed, with headers x-feed, x-venue, x-error-message and x-received-us: logged, counted and kept.'),
  feeds: z.record(z.string(), ingestFeed).default({})
    .describe('The connections, by name: {"binance-spot": {"venue": "binance", "symbols": ["BTCUSDT"], "channels": ["trades", "quotes"]}}. One WebSocket per feed. A feed\'s keys: venue, symbols, channels, url, publicUrl (Binance USD-M), restUrl (Binance), bookDepth (Kraken); see docs/ingest.md.'),
  lingerMs: z.number().min(0).max(1000).default(1)
    .describe('linger.ms of the gateway\'s producer: how long a message may wait for others to share its request (the latency it may add).'),
  compression: z.enum(['none', 'lz4', 'zstd', 'snappy', 'gzip']).default('lz4')
    .describe('compression.codec of the gateway\'s producer: lz4 compresses JSON-like ticks well for little CPU.'),
  bufferMaxMessages: z.number().int().min(1).max(10_000_000).default(1_000_000)
    .describe('Messages the gateway holds for Kafka at most (queue.buffering.max.messages): the bound of what a Kafka outage can keep; beyond it new messages are dropped and counted.'),
  bufferMaxMb: z.number().int().min(1).max(2047).default(512)
    .describe('Megabytes the gateway holds for Kafka at most (queue.buffering.max.kbytes), the same bound by memory.'),
  deliveryTimeoutMs: z.number().int().min(1000).max(3_600_000).default(300_000)
    .describe('How long a message may wait for Kafka (message.timeout.ms) before it is given up and counted as dropped: outages shorter than this lose nothing within the buffer bound.'),
  reconnectInitialMs: z.number().int().min(10).max(60_000).default(250)
    .describe('First reconnect delay after a connection failed or dropped; doubled per failed attempt up to ingest.reconnectMaxMs, with jitter.'),
  reconnectMaxMs: z.number().int().min(100).max(600_000).default(30_000)
    .describe('Longest delay between reconnect attempts.'),
  staleMs: z.number().int().min(1000).max(600_000).default(30_000)
    .describe('A connection that delivered nothing (message, ping or pong) for this long is dropped and reconnected: a silent socket, not a quiet market (every feed also pings).'),
  replaceConnectionsAfterMs: z.number().int().min(1000).max(86_000_000).default(84_600_000)
    .describe('Venues that close a connection at an age limit (Binance: 24 hours): the gateway opens a new one after this long (23.5 h) and hands over once both deliver the same messages, so nothing is lost or doubled.'),
  venueLimits: z.partialRecord(z.enum(INGEST_VENUES), z.strictObject({ connections: ingestRate.optional(), requests: ingestRate.optional(), snapshots: ingestRate.optional() })).default({})
    .describe('Replaces a venue\'s limits the gateway keeps to (docs/ingest.md lists them): {"okx": {"requests": {"count": 400, "perMs": 3600000}}}. connections: attempts to its host, across the feeds; requests: frames sent on one connection; snapshots: REST book snapshots (Binance), across the feeds. For a venue that changed its published limits.'),
  metricsPort: z.number().int().min(0).max(65_535).default(9465)
    .describe('Port of the gateway\'s /metrics and /healthz on metrics.host (0 disables it).'),
  inProcess: z.boolean().default(false)
    .describe('`run` also runs the gateway, on the thread of the processor\'s Kafka clients (node-rdkafka loads in one thread per process), stopped with it. Off by default: as a unit of its own (deploy/himari-l0-ingest.service) collection goes on through a processor restart, and the gateway\'s CPU does not share that thread.'),
}).superRefine((g, ctx) => {
  // Here rather than as the record's key schema, whose failure says only "Invalid key in record".
  for (const name of Object.keys(g.feeds)) {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) ctx.addIssue({ code: 'custom', path: ['feeds', name], message: 'a feed name is lower-case letters, digits, - and _ (it labels metrics and logs)' });
  }
  if (g.inProcess && Object.keys(g.feeds).length === 0) ctx.addIssue({ code: 'custom', path: ['inProcess'], message: 'set, but ingest.feeds is empty' });
  if (g.reconnectMaxMs < g.reconnectInitialMs) ctx.addIssue({ code: 'custom', path: ['reconnectMaxMs'], message: 'must be at least ingest.reconnectInitialMs' });
});

export const ConfigSchema = z.strictObject({
  kafka: kafka.prefault({}),
  workers: workers.prefault({}),
  sink: sink.prefault({}),
  redis: redis.prefault({}),
  postgres: postgres.prefault({}),
  metrics: metrics.prefault({}),
  log: log.prefault({}),
  checks: checks.prefault({}),
  shutdown: shutdown.prefault({}),
  systemd: systemd.prefault({}),
  ingest: ingest.prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;
export type KafkaConfig = Config['kafka'];
export type WorkersConfig = Config['workers'];
export type SinkConfig = Config['sink'];
/** The batching rules of one sink: the shared keys plus that sink's flush policy. */
export type SinkPolicy = Pick<SinkConfig, 'batchMaxRows' | 'batchMaxBytes' | 'maxInFlightBatches' | 'retry' | 'probeIntervalMs'> & SinkConfig['redis'];

/** The policy of the sink named `name` ('redis', 'postgres', 'dead-letter', anything else: the output topic's). */
export function sinkPolicy(sink: SinkConfig, name: string): SinkPolicy {
  const flush = name === 'redis' ? sink.redis : name === 'postgres' ? sink.postgres : name === 'dead-letter' ? sink.deadLetter : sink.output;
  return { batchMaxRows: sink.batchMaxRows, batchMaxBytes: sink.batchMaxBytes, maxInFlightBatches: sink.maxInFlightBatches, retry: sink.retry, probeIntervalMs: sink.probeIntervalMs, ...flush };
}
export type RedisConfig = Config['redis'];
export type PostgresConfig = Config['postgres'];
export type ChecksConfig = Config['checks'];
export type IngestConfig = Config['ingest'];
export type IngestFeedConfig = IngestConfig['feeds'][string];
export type IngestVenue = (typeof INGEST_VENUES)[number];
export type IngestChannel = (typeof INGEST_CHANNELS)[number];
