import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { connectPostgres } from './db/client-config.js';
import { ErrorCode, HimariError, errorMessage, isRetriable } from './errors.js';
import type { KafkaClients } from './kafka/kafka-clients.js';
import { isPermanentRedisError, redisOptions } from './sinks/redis-sink.js';

/**
 * How long start-up waits for each dependency to answer. Long enough for a service that is
 * itself starting at boot (systemd orders the units, it does not wait for them to listen), short
 * enough that an operator watching `systemctl start` learns what is missing while still looking.
 */
export const REACH_TIMEOUT_MS = 10_000;
/** Pause between two attempts at a dependency that refused or dropped the connection. */
const RETRY_MS = 250;

/** One dependency that did not answer, and why. */
export interface Unreached {
  name: 'Kafka' | 'Redis' | 'PostgreSQL';
  reason: string;
  /** False when no retry can help (refused credentials or certificates, a missing database). */
  retriable: boolean;
}

/**
 * Reaches Kafka and the stores of `sink.stores` (Redis, PostgreSQL), in parallel, before start-up
 * creates anything (topics, tables, partitions): a start that cannot write somewhere fails before
 * it changed anything, within `timeoutMs`, naming every dependency that did not answer. A refusal no retry can heal
 * (credentials, certificates, a missing database) fails at once; a closed port or a timeout is
 * retried until the deadline, saying once in the log that it waits.
 */
export async function reachDependencies(config: Readonly<Config>, kafka: KafkaClients, log: Logger, timeoutMs = REACH_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A store left out of sink.stores is not a dependency: a Redis-only group starts without PostgreSQL.
  const stores = new Set(config.sink.stores);
  const results = await Promise.all([
    settle('Kafka', kafka.verifyAccess(timeoutMs)),
    stores.has('redis') ? settle('Redis', retryUntil(deadline, 'Redis', log, () => pingRedis(config, deadline))) : null,
    stores.has('postgres') ? settle('PostgreSQL', retryUntil(deadline, 'PostgreSQL', log, () => selectOne(config, deadline))) : null,
  ]);
  const unreached = results.filter((r): r is Unreached => r !== null);
  if (unreached.length === 0) return;
  const retriable = unreached.every((u) => u.retriable);
  throw new HimariError(ErrorCode.SERVICE_UNAVAILABLE,
    `dependencies not ready within ${timeoutMs / 1000} s, nothing was created: ${unreached.map((u) => u.reason).join('; ')}`,
    { retriable, context: { unreached } });
}

async function settle(name: Unreached['name'], probe: Promise<void>): Promise<Unreached | null> {
  try {
    await probe;
    return null;
  } catch (err) {
    return { name, reason: errorMessage(err), retriable: isRetriable(err) };
  }
}

async function retryUntil(deadline: number, name: string, log: Logger, attempt: () => Promise<void>): Promise<void> {
  let said = false;
  for (;;) {
    try {
      await attempt();
      if (said) log.info({ dependency: name }, `${name} answered`);
      return;
    } catch (err) {
      if (err instanceof HimariError && !err.retriable) throw err;
      if (Date.now() + RETRY_MS >= deadline) throw err;
      if (!said) {
        said = true;
        log.warn({ dependency: name, err }, `${name} not reachable yet; retrying until the start-up deadline`);
      }
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
}

/** One connection, AUTH (in the connect) and PING, closed again. */
async function pingRedis(config: Readonly<Config>, deadline: number): Promise<void> {
  const options = redisOptions(config.redis);
  const client = new Redis({ ...options, connectTimeout: Math.max(100, deadline - Date.now()), retryStrategy: () => null });
  let reason = '';
  client.on('error', (err: Error) => { reason = err.message; });
  const { host, port } = options;
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    const why = reason || errorMessage(err);
    throw new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `Redis at ${host}:${port}: ${why}`,
      { retriable: !isPermanentRedisError(why), cause: err });
  } finally {
    client.disconnect();
  }
}

async function selectOne(config: Readonly<Config>, deadline: number): Promise<void> {
  const client = await connectPostgres(config.postgres, { connectionTimeoutMillis: Math.max(100, deadline - Date.now()) });
  try {
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => {});
  }
}
