import { DEFAULT_VENUES } from '../codec/synthetic.js';
import type { CommandHandler, CommandSpec, ParsedArgs } from './options.js';

/**
 * Every command of `himari-l0`, with its options, positionals and examples: the parser and the
 * help are built from these entries (src/cli/options.ts), so a new command is one entry here
 * plus its handler module.
 */

export const RUN = {
  name: 'run',
  summary: 'Run the processor until SIGTERM/SIGINT (a second signal exits at once).',
  description: 'Consumes the input topics, checks every event on the worker threads, writes Redis and PostgreSQL, '
    + 'and commits offsets once both sinks hold the data. On SIGTERM/SIGINT it stops consuming, drains what it took, '
    + 'flushes and commits within shutdown.deadlineMs; a second signal exits at once (130). Says '
    + '"himari-l0: ready in N ms" on stderr when it takes traffic, and a run summary on stderr when it stops.',
  config: true,
  options: [
    { name: 'stop-when-idle', type: 'string', value: 'MS', number: true, defaultText: 'off',
      description: 'Stop after no message arrived for MS milliseconds (counted from the first message).' },
    { name: 'max-seconds', type: 'string', value: 'S', number: true, defaultText: 'off', description: 'Stop after S seconds.' },
  ],
  examples: [
    { args: 'run', says: 'The processor with the defaults and HIMARI_* environment variables (the systemd unit\'s way).' },
    { args: 'run --config /etc/himari-l0/config.json', says: 'With a JSON config file; environment variables still override it.' },
    { args: 'run --stop-when-idle 5000', says: 'Process what is in the topics, then stop 5 s after the last message (tests, backfills).' },
  ],
  exitCodes: {
    3: 'stopped at the shutdown deadline (shutdown.deadlineMs) with unconfirmed batches left to be replayed on the next start',
    130: 'a second SIGTERM/SIGINT: exited at once',
  },
  load: (): Promise<CommandHandler> => import('./cmd/run.js').then((m) => m.cmdRun),
} as const satisfies CommandSpec;

export const INGEST = {
  name: 'ingest',
  summary: 'Ingest gateway: exchange WebSockets, normalized, to Kafka (the processor\'s input).',
  description: 'Connects to the public market-data WebSockets of the feeds in ingest.feeds (Binance spot and USD-M, '
    + 'Coinbase, Kraken, OKX, Bybit), normalizes every message with the same normalizers as replay, stamps the receive '
    + 'time and produces msgpack events keyed by symbol to ingest.topic with an idempotent producer. Connections are kept '
    + 'up (pings, silence detection, reconnect with backoff, resubscribe); a Kafka outage is buffered within '
    + 'ingest.bufferMaxMessages / bufferMaxMb, what does not fit is counted. Serves /metrics, /healthz and /readyz on '
    + 'metrics.host:ingest.metricsPort. See docs/ingest.md.',
  config: true,
  options: [
    { name: 'max-seconds', type: 'string', value: 'S', number: true, defaultText: 'off', description: 'Stop after S seconds.' },
  ],
  examples: [
    { args: 'ingest', says: 'The gateway with the feeds of HIMARI_INGEST_FEEDS (JSON) or the config file (the systemd unit\'s way).' },
    { args: 'ingest --config /etc/himari-l0/ingest.json', says: 'With a JSON config file holding an "ingest" section.' },
  ],
  exitCodes: {
    3: 'stopped with events Kafka had not acknowledged within shutdown.deadlineMs (they are lost; logged with their count)',
    130: 'a second SIGTERM/SIGINT: exited at once',
  },
  load: (): Promise<CommandHandler> => import('./cmd/ingest.js').then((m) => m.cmdIngest),
} as const satisfies CommandSpec;

export const PRODUCE = {
  name: 'produce',
  summary: 'Load generator: synthetic ticks keyed by symbol, at a fixed open-loop rate.',
  description: 'Produces synthetic market events (msgpack, or JSON with --json) for N symbols on several venues to '
    + 'the first input topic, keyed by symbol, at a fixed rate for a duration or a count. Prints one JSON line of '
    + 'statistics on stdout; exits 1 when a message was not delivered.',
  config: true,
  options: [
    { name: 'symbols', type: 'string', value: 'N', number: true, default: '20', description: 'Instruments per venue.' },
    { name: 'venues', type: 'string', value: 'A,B,...', default: DEFAULT_VENUES.join(','), description: 'Venues, comma separated.' },
    { name: 'rate', type: 'string', value: 'N', number: true, default: '10000', description: 'Events per second; 0 = as fast as possible.' },
    { name: 'duration', type: 'string', value: 'S', number: true, default: '10', description: 'Seconds to produce for.' },
    { name: 'count', type: 'string', value: 'N', number: true, description: 'Produce N events instead of running for --duration.' },
    { name: 'bad', type: 'string', value: 'N', number: true, default: '0', description: 'Poison messages (undecodable) spread through the run.' },
    { name: 'json', type: 'boolean', description: 'Send JSON instead of msgpack.' },
    { name: 'topic', type: 'string', value: 'T', defaultText: 'the first of kafka.topics', description: 'Topic to produce to.' },
    { name: 'seed', type: 'string', value: 'N', number: true, default: '42', description: 'Seed of the synthetic market (same seed, same events).' },
  ],
  examples: [
    { args: 'produce --rate 5000 --duration 60', says: '5,000 events/s for a minute.' },
    { args: 'produce --count 100000 --rate 0 --bad 10', says: '100,000 events as fast as possible, 10 of them poison messages (dead-lettered).' },
    { args: 'produce --symbols 2 --venues binance,kraken --json --count 20', says: 'A few readable JSON events to look at.' },
  ],
  load: (): Promise<CommandHandler> => import('./cmd/produce.js').then((m) => m.cmdProduce),
} as const satisfies CommandSpec;

export const LOADTEST = {
  name: 'loadtest',
  summary: 'Start the processor as a child, load it, and report latency, throughput, lag, CPU and memory.',
  description: 'Runs the processor as a child process against its own topic, table and Redis prefix, and measures it. '
    + 'One of: an open loop at a fixed rate (--rate, --duration) or in steps (--pattern); a drain of a backlog '
    + '(--drain --count), timed, then a bare Kafka consume loop over it as the read ceiling; or the highest rate whose '
    + 'consumer lag stays bounded (--find-max). Writes a JSON result and an HTML report to --out, and a summary on stdout; '
    + 'progress lines on stderr.',
  config: true,
  options: [
    { name: 'rate', type: 'string', value: 'R', number: true, defaultText: '10000', description: 'Open loop at R events/s (excludes --pattern).' },
    { name: 'pattern', type: 'string', value: 'S:R,...', description: 'Rate steps SECOND:RATE, e.g. 0:1000,30:10000 (with --duration).' },
    { name: 'duration', type: 'string', value: 'S', number: true, default: '30', description: 'Measured seconds of the open loop.' },
    { name: 'warmup', type: 'string', value: 'S', number: true, default: '5', description: 'The first rate for S seconds before the measured window, reported apart.' },
    { name: 'transit', type: 'string', value: 'S', number: true, default: '10', description: 'First: Kafka alone at the first rate, a bare consumer, for S seconds (0 skips).' },
    { name: 'drain', type: 'boolean', description: 'A backlog of --count events first, then time the processor draining it.' },
    { name: 'count', type: 'string', value: 'N', number: true, default: '2000000', description: 'Backlog size of --drain.' },
    { name: 'stamped', type: 'boolean', description: '--drain: stamp each backlog message with its send time (header x-intended-ns, as the rate modes do; the gateway\'s events carry no header).' },
    { name: 'processes', type: 'string', value: 'N', number: true, default: '1', description: '--drain: N processor processes of one consumer group (metrics ports P, P+1, ...), draining together.' },
    { name: 'find-max', type: 'boolean', description: 'Search the highest rate whose consumer lag stays bounded.' },
    { name: 'step-duration', type: 'string', value: 'S', number: true, default: '20', description: '--find-max: seconds per step.' },
    { name: 'start-rate', type: 'string', value: 'R', number: true, default: '5000', description: '--find-max: first rate, doubled until a step fails.' },
    { name: 'max-rate', type: 'string', value: 'R', number: true, default: '200000', description: '--find-max: highest rate tried.' },
    { name: 'max-steps', type: 'string', value: 'N', number: true, default: '8', description: '--find-max: most steps.' },
    { name: 'symbols', type: 'string', value: 'N', number: true, default: '20', description: 'Instruments per venue.' },
    { name: 'venues', type: 'string', value: 'A,B,...', default: DEFAULT_VENUES.join(','), description: 'Venues, comma separated.' },
    { name: 'seed', type: 'string', value: 'N', number: true, default: '42', description: 'Seed of the synthetic market.' },
    { name: 'threads', type: 'string', value: 'N', number: true, defaultText: 'workers.threads', description: 'Worker threads of the processor.' },
    { name: 'partitions', type: 'string', value: 'N', number: true, defaultText: 'one per worker thread', description: 'Partitions of the load-test topic.' },
    { name: 'stores', type: 'string', value: 'S,...', defaultText: 'sink.stores', description: 'The stores the processor writes: redis, postgres or both (fewer take the services\' CPU off the machine).' },
    { name: 'pg-url', type: 'string', value: 'URL', default: 'postgres://postgres@127.0.0.1:5432/himari_lt', description: 'PostgreSQL of the run (the database is created if missing).' },
    { name: 'redis-url', type: 'string', value: 'URL', default: 'redis://127.0.0.1:6379/3', description: 'Redis of the run.' },
    { name: 'metrics-port', type: 'string', value: 'P', number: true, default: '9471', description: 'Metrics port of the child processor.' },
    { name: 'out', type: 'string', value: 'DIR', default: 'results', description: 'Directory of the JSON result and the HTML report.' },
    { name: 'name', type: 'string', value: 'NAME', description: 'Also write NAME.json and NAME.html.' },
    { name: 'keep', type: 'boolean', description: 'Keep the run\'s topic, table and Redis keys afterwards.' },
  ],
  examples: [
    { args: 'loadtest --rate 10000 --duration 30', says: '10,000 events/s, 30 s measured after 5 s of warm-up.' },
    { args: 'loadtest --drain --count 2000000', says: 'Time the drain of a 2,000,000-event backlog and compare it with a bare Kafka read.' },
    { args: 'loadtest --drain --count 1000000 --processes 2 --partitions 4', says: 'The same drained by two processes of one group.' },
  ],
  load: (): Promise<CommandHandler> => import('./cmd/loadtest.js').then((m) => m.cmdLoadtest),
} as const satisfies CommandSpec;

export const REPLAY = {
  name: 'replay',
  summary: 'Normalize cryptofeed recordings and produce them to Kafka.',
  description: 'Reads cryptofeed raw recordings (BINANCE.ws.1.0, KRAKEN.ws.50.0, ...), normalizes them into market '
    + 'events and produces those to the first input topic, keyed by symbol, merged across files in receive-time order. '
    + 'Prints per file where every message went (events, ignored by channel, not understood with the line) on stderr '
    + 'and the produce statistics as one JSON line on stdout. The events a file could give are produced even when '
    + 'some of its messages were not understood.',
  config: true,
  positionals: { name: 'FILE...', min: 1, description: 'Recordings, uncompressed, named as cryptofeed names them (the venue comes from the name).' },
  options: [
    { name: 'speed', type: 'string', value: 'X', number: true, default: '0', description: 'The recorded pace times X; 0 = as fast as possible.' },
    { name: 'topic', type: 'string', value: 'T', defaultText: 'the first of kafka.topics', description: 'Topic to produce to.' },
    { name: 'dry-run', type: 'boolean', description: 'Only read and report; nothing is sent to Kafka.' },
  ],
  examples: [
    { args: 'replay --dry-run data/cryptofeed/*.0', says: 'What every file holds and what would be produced, without Kafka.' },
    { args: 'replay data/cryptofeed/BINANCE.ws.1.0', says: 'Produce a recording as fast as possible.' },
    { args: 'replay --speed 1 data/cryptofeed/KRAKEN.ws.50.0', says: 'At the recorded pace.' },
  ],
  exitCodes: { 1: 'runtime failure, or a file gave no events, could not be read, or holds messages not understood' },
  load: (): Promise<CommandHandler> => import('./cmd/replay.js').then((m) => m.cmdReplay),
} as const satisfies CommandSpec;

export const MIGRATE = {
  name: 'migrate',
  summary: 'Create or update the PostgreSQL/TimescaleDB schema (idempotent), as its owner.',
  description: 'Creates the events table (a TimescaleDB hypertable with compression and retention when the extension '
    + 'is there, native daily range partitions otherwise), the offset watermarks and the 1-minute bars; safe to run '
    + 'again and from several hosts at once (an advisory lock). Prints the report as one JSON line on stdout.',
  config: true,
  options: [
    { name: 'grant-to', type: 'string', value: 'ROLE', description: 'Also grant ROLE what the processor needs, nothing more (then run the processor as ROLE with postgres.migrateOnStart off).' },
  ],
  examples: [
    { args: 'migrate', says: 'The schema in the database of postgres.url.' },
    { args: 'migrate --grant-to himari_writer', says: 'The schema, and the rights of a least-privilege processor role.' },
  ],
  load: (): Promise<CommandHandler> => import('./cmd/migrate.js').then((m) => m.cmdMigrate),
} as const satisfies CommandSpec;

export const DOCTOR = {
  name: 'doctor',
  summary: 'Check in a few seconds what the processor needs: config, Kafka, Redis, PostgreSQL; each problem with its fix.',
  description: 'Probes Kafka (brokers, input / dead-letter / output topics and their partitions, the group\'s state, '
    + 'committed offsets and lag), Redis (AUTH, version, the sink\'s script, a write under the key prefix) and PostgreSQL '
    + '(the database, TimescaleDB, the schema and its version, the role\'s rights) at once, each network call with a '
    + 'short timeout, so the report takes seconds even when everything is down. One line per check on stdout: ok, '
    + 'warn or FAIL, what was found and what to do. Read-only, apart from one Redis key written and deleted.',
  config: true,
  options: [
    { name: 'json', type: 'boolean', description: 'The same as JSON: { ok, checks: [{ name, status, detail, fix }] }.' },
    { name: 'timeout', type: 'string', value: 'S', number: true, default: '3', description: 'Timeout of each network call of a probe, seconds.' },
  ],
  examples: [
    { args: 'doctor', says: 'Check the services of the defaults and HIMARI_* environment variables.' },
    { args: 'doctor --config /etc/himari-l0/config.json --json', says: 'The same for a config file, as JSON for a script.' },
  ],
  exitCodes: { 1: 'a check failed (the lines starting FAIL say what and how to fix it)' },
  load: (): Promise<CommandHandler> => import('./cmd/doctor.js').then((m) => m.cmdDoctor),
} as const satisfies CommandSpec;

export const TOP = {
  name: 'top',
  summary: 'Live view of a running processor from its /metrics endpoint.',
  description: 'Scrapes the processor\'s /metrics every interval and shows consumed/s, events/s by verdict, consumer lag '
    + '(sum and the worst partition), end-to-end p50/p99 per sink (from the histogram buckets\' growth between scrapes), '
    + 'worker utilization and queue depth, the checks failing most, dead letters by code, freshness per venue and '
    + 'readiness. Redraws in place on a terminal (Ctrl-C restores it); into a pipe or a file, one block per interval. '
    + 'An endpoint that does not answer is said and retried.',
  config: false,
  options: [
    { name: 'url', type: 'string', value: 'URL', default: 'http://127.0.0.1:9464', description: 'The processor\'s metrics endpoint (metrics.host:metrics.port).' },
    { name: 'interval', type: 'string', value: 'S', number: true, default: '2', description: 'Seconds between scrapes (at least 0.2).' },
    { name: 'once', type: 'boolean', description: 'One block from two scrapes an interval apart, then exit (1 when the endpoint cannot be read).' },
  ],
  examples: [
    { args: 'top', says: 'The processor on this host, redrawn every 2 s.' },
    { args: 'top --url http://127.0.0.1:9464 --interval 1', says: 'Every second.' },
    { args: 'top --once > /tmp/himari-top.txt', says: 'One snapshot block, for a script or a cron job.' },
  ],
  exitCodes: { 1: 'with --once: the endpoint could not be read' },
  load: (): Promise<CommandHandler> => import('./cmd/top.js').then((m) => m.cmdTop),
} as const satisfies CommandSpec;

export const CONFIG = {
  name: 'config',
  summary: 'Print every config key as an environment file (or the effective values, or the docs table).',
  description: 'Prints every configuration key as a HIMARI_* variable with its default, each under its description, '
    + 'in a form both systemd\'s EnvironmentFile= and POSIX sh (set -a; . FILE) read back to the same values: lists '
    + 'comma separated, check threshold maps as JSON in single quotes, keys without a default commented out. '
    + '--effective prints the values this process would run with instead (defaults, --config file, environment), '
    + 'secrets left out.',
  config: true,
  options: [
    { name: 'effective', type: 'boolean', description: 'The effective values (env and --config file) instead of the defaults; secrets are not printed.' },
    { name: 'markdown', type: 'boolean', description: 'The reference table of docs/config.md instead.' },
  ],
  examples: [
    { args: 'config > /etc/himari-l0/env', says: 'A starting environment file for the systemd unit (EnvironmentFile=).' },
    { args: 'config --effective', says: 'What the processor would run with here, from the environment and HIMARI_CONFIG.' },
    { args: 'config --markdown', says: 'The table of docs/config.md (scripts/gen-docs.sh).' },
  ],
  load: (): Promise<CommandHandler> => import('./cmd/config.js').then((m) => m.cmdConfig),
} as const satisfies CommandSpec;

export const CHECKS = {
  name: 'checks',
  summary: 'List the data-quality checks.',
  description: 'Lists the decoder\'s schema checks (dead-lettering) and the data-quality checks with their id, '
    + 'severity and group; --json adds thresholds with defaults and bounds.',
  config: false,
  options: [
    { name: 'json', type: 'boolean', description: 'As JSON, with each check\'s thresholds.' },
    { name: 'markdown', type: 'boolean', description: 'The catalog table of docs/checks.md.' },
  ],
  examples: [
    { args: 'checks', says: 'One line per check.' },
    { args: 'checks --json', says: 'Everything, thresholds with their defaults and bounds included.' },
  ],
  load: (): Promise<CommandHandler> => import('./cmd/checks.js').then((m) => m.cmdChecks),
} as const satisfies CommandSpec;

export const HELP = {
  name: 'help',
  summary: 'This list, or a command\'s options and examples (help <command>).',
  description: 'Without an argument the command list; with one, the same as \'himari-l0 <command> --help\'.',
  config: false,
  positionals: { name: 'COMMAND', min: 0, max: 1, description: 'The command to describe.' },
  options: [],
  examples: [
    { args: 'help', says: 'The command list.' },
    { args: 'help replay', says: 'Options and examples of replay.' },
  ],
  // Answered by the dispatcher (src/cli.ts), which holds the table.
  load: (): Promise<CommandHandler> => Promise.resolve(() => undefined),
} as const satisfies CommandSpec;

/** In the order of `himari-l0 --help`. */
export const COMMANDS: readonly CommandSpec[] = [RUN, INGEST, PRODUCE, LOADTEST, REPLAY, MIGRATE, DOCTOR, TOP, CONFIG, CHECKS, HELP];

export type RunArgs = ParsedArgs<typeof RUN.options>;
export type IngestArgs = ParsedArgs<typeof INGEST.options>;
export type ProduceArgs = ParsedArgs<typeof PRODUCE.options>;
export type LoadtestArgs = ParsedArgs<typeof LOADTEST.options>;
export type ReplayArgs = ParsedArgs<typeof REPLAY.options>;
export type MigrateArgs = ParsedArgs<typeof MIGRATE.options>;
export type ConfigArgs = ParsedArgs<typeof CONFIG.options>;
export type ChecksArgs = ParsedArgs<typeof CHECKS.options>;
export type DoctorArgs = ParsedArgs<typeof DOCTOR.options>;
export type TopArgs = ParsedArgs<typeof TOP.options>;
