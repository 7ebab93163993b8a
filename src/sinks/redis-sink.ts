import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import type { EventChunk } from './chunk.js';
import { checkedLane, type SinkDriver } from './core.js';
import { APPLY_BATCH_LUA } from './redis-script.js';

/** Approximate bound of the quarantine stream (XADD MAXLEN ~). */
const QUARANTINE_MAX_LEN = 100_000;
const HEADER_ARGS = 5;

type ApplyBatch = (...args: Array<string | number | Buffer | Uint8Array>) => Promise<number>;

/** Refused credentials or certificates need an operator: no retry helps (start-up fails instead). */
export function isPermanentRedisError(reason: string): boolean {
  return /WRONGPASS|NOAUTH|NOPERM|certificate|self.signed/i.test(reason);
}

export function redisOptions(config: RedisConfig): RedisOptions {
  const url = new URL(config.url);
  const tls = config.tls || url.protocol === 'rediss:';
  return {
    host: url.hostname,
    port: url.port === '' ? 6379 : Number(url.port),
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    username: config.username ?? (url.username === '' ? undefined : decodeURIComponent(url.username)),
    password: config.password ?? (url.password === '' ? undefined : decodeURIComponent(url.password)),
    // SNI takes host names only (RFC 6066); for an IP address the certificate's SAN is checked.
    ...(tls ? { tls: { ...(isIP(url.hostname) === 0 ? { servername: url.hostname } : {}), ...(config.tlsCaFile === undefined ? {} : { ca: readFileSync(config.tlsCaFile) }) } } : {}),
    noDelay: true,
    keepAlive: 30_000,
    lazyConnect: true,
    // Fail commands at once while disconnected: the sink core's retry loop owns retries, and an
    // offline queue would hide an outage behind growing memory.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: config.commandTimeoutMs,
    connectionName: 'himari-l0',
  };
}

/**
 * Redis sink: one script call per batch (see `redis-script.ts`), which applies every event
 * atomically behind a per-partition applied-offset watermark. Measured in NOTES: one script per
 * batch beats one pipeline of per-event commands because the client, not Redis, is the wall.
 */
export class RedisSink implements SinkDriver {
  readonly name = 'redis';
  readonly lanes: number;
  /** One connection per lane of the sink core; the first also publishes silences. */
  readonly clients: Redis[];
  private readonly apply: ApplyBatch[];
  /** Each lane's script arguments, reused call after call (lanes are written concurrently). */
  private readonly args: Array<Array<string | number | Uint8Array>>;
  /** ioredis reports why a connection failed on 'error'; the connect promise only says "closed". */
  private lastConnectionError = '';

  constructor(private readonly config: RedisConfig) {
    this.lanes = config.connections;
    this.clients = Array.from({ length: this.lanes }, () => new Redis(redisOptions(config)));
    this.apply = this.clients.map((client) => {
      // Connection errors surface through failed writes; without a listener ioredis would log them.
      client.on('error', (err: Error) => { this.lastConnectionError = err.message; });
      client.defineCommand('himariApplyBatch', { numberOfKeys: 0, lua: APPLY_BATCH_LUA });
      return (client as unknown as { himariApplyBatch: ApplyBatch }).himariApplyBatch.bind(client);
    });
    this.args = this.clients.map(() => []);
  }

  /** The first connection (silences, and tests that read what the sink wrote). */
  get client(): Redis {
    return this.clients[0]!;
  }

  async connect(): Promise<void> {
    try {
      await Promise.all(this.clients.map(async (client) => {
        if (client.status === 'wait' || client.status === 'end') await client.connect();
        await client.ping(); // warm the connection
      }));
    } catch (err) {
      const why = this.lastConnectionError || (err as Error).message;
      const { host, port } = this.client.options;
      const fatal = isPermanentRedisError(why);
      throw new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `Redis at ${host}:${port}: ${why}`, { retriable: !fatal, cause: err });
    }
  }

  async writeBatch(chunks: readonly EventChunk[], laneArg?: number): Promise<void> {
    const lane = checkedLane(chunks, this.lanes, laneArg);
    const a = this.args[lane]!;
    a.length = 0;
    a.push(this.config.keyPrefix, this.config.recentMax, '', QUARANTINE_MAX_LEN, this.config.cascadeMaxLen);
    let topic = '';
    for (const chunk of chunks) {
      if (topic === '') topic = chunk.topic;
      else if (chunk.topic !== topic) {
        // One watermark hash per topic per call: write mixed-topic batches topic by topic.
        await this.writeByTopic(chunks, lane);
        return;
      }
      this.appendChunk(a, chunk);
    }
    if (a.length === HEADER_ARGS) return;
    a[2] = topic;
    await this.timed(lane, this.apply[lane]!(...a));
  }

  /**
   * A command that timed out leaves its connection suspect (a server that accepts and never
   * answers): reconnect, so the retry does not queue behind the lost reply. The script is
   * idempotent, so a late execution of the timed-out call changes nothing.
   */
  private async timed<T>(lane: number, command: Promise<T>): Promise<T> {
    try {
      return await command;
    } catch (err) {
      if (/timed out/i.test((err as Error).message)) this.clients[lane]!.disconnect(true);
      throw err;
    }
  }

  async probe(lane: number): Promise<void> {
    const client = this.clients[lane]!;
    if (client.status === 'wait' || client.status === 'end') await client.connect();
    await this.timed(lane, client.ping());
  }

  private async writeByTopic(chunks: readonly EventChunk[], lane: number): Promise<void> {
    const topics = [...new Set(chunks.map((c) => c.topic))];
    for (const t of topics) await this.writeBatch(chunks.filter((c) => c.topic === t), lane);
  }

  /**
   * One partition and one buffer per chunk: the worker's packed records of its events, as a view
   * (ioredis writes Buffers as they are). Dead letters have no record.
   */
  private appendChunk(args: Array<string | number | Uint8Array>, chunk: EventChunk): void {
    const r = chunk.result;
    const start = chunk.from === 0 ? 0 : r.redisEnds[chunk.from - 1]!;
    const end = r.redisEnds[chunk.to - 1]!;
    if (end === start) return;
    args.push(chunk.partition, Buffer.from(r.redisRecords.buffer, r.redisRecords.byteOffset + start, end - start));
  }

  isRetriable(err: unknown): boolean {
    const msg = (err as Error).message ?? '';
    // A script error on a wrong key type is a data problem; everything else (connection refused,
    // "Stream isn't writeable", LOADING, BUSY, MASTERDOWN, even NOPERM after an ACL change)
    // heals with a retry or an operator, and must stop consumption rather than dead-letter.
    return !/WRONGTYPE|ERR Error running script/.test(msg);
  }

  /**
   * Appends timer-driven findings (a stream gone silent) to the cascade stream. Not tied to an
   * offset: a restart may report a silence again.
   */
  async publishSilence(venue: string, symbol: string, silentMs: number, thresholdMs: number): Promise<void> {
    await this.client.xadd(this.config.keyPrefix + 'cascade', 'MAXLEN', '~', String(this.config.cascadeMaxLen), '*',
      'venue', venue, 'symbol', symbol, 'ts', String(Date.now() * 1000), 'verdict', 'silent',
      'checks', `[{"id":"T5","severity":"flag","value":${silentMs},"threshold":${thresholdMs}}]`);
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
