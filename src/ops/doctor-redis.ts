import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisConfig } from '../config/schema.js';
import { APPLY_BATCH_LUA } from '../sinks/redis-script.js';
import { redisOptions } from '../sinks/redis-sink.js';
import { seconds, type CheckResult } from './check-result.js';

/** Streams (XADD ... MAXLEN ~) arrived in Redis 5.0; the sink's script needs nothing newer. */
const MIN_MAJOR = 5;
/** Policies that may evict any key, the watermark hashes (`applied:<topic>`) among them. */
const EVICTS_ANY_KEY = new Set(['allkeys-lru', 'allkeys-lfu', 'allkeys-random']);

/**
 * Redis: connect and AUTH (a refused password told apart from no answer), the server's version,
 * the sink's batch script loads (SCRIPT LOAD compiles it in the server's Lua), and a key under
 * redis.keyPrefix can be written (not a read-only replica, not out of memory, allowed by ACLs).
 * Writes one short-lived key (`<prefix>doctor:<random>`, deleted at once, 10 s expiry).
 */
export async function probeRedis(config: RedisConfig, timeoutMs: number): Promise<CheckResult[]> {
  const options = redisOptions(config);
  const where = `${options.host}:${options.port}`;
  const client = new Redis({ ...options, connectTimeout: timeoutMs, commandTimeout: timeoutMs, retryStrategy: () => null, connectionName: 'himari-l0-doctor' });
  // ioredis says why a connection failed on 'error'; the promise only says it closed.
  let lastError = '';
  client.on('error', (err: Error) => { lastError = err.message; });
  try {
    try {
      await client.connect();
      await client.ping();
    } catch (err) {
      return [connectFailure(where, config, lastError || (err as Error).message, timeoutMs)];
    }
    const user = options.username ?? 'default';
    const results: CheckResult[] = [];
    const server = await client.info('server').then(parseInfo, () => null);
    const memory = await client.info('memory').then(parseInfo, () => null);
    const version = server?.get('redis_version') ?? server?.get('valkey_version');
    const connected = `${where} db ${options.db ?? 0} as ${user}`;
    if (version === undefined) {
      results.push({ name: 'redis', status: 'warn', detail: `connected to ${connected}; version not readable (INFO refused)`, fix: `allow INFO to the user (ACL SETUSER ${user} +info) so its version can be checked; the sink needs Redis ${MIN_MAJOR}.0 or later` });
    } else if (Number(version.split('.')[0]) < MIN_MAJOR) {
      results.push({ name: 'redis', status: 'fail', detail: `connected to ${connected}; Redis ${version} is too old (the sink writes streams: XADD)`, fix: `upgrade to Redis ${MIN_MAJOR}.0 or later (7.x tested)` });
    } else {
      results.push({ name: 'redis', status: 'ok', detail: `connected to ${connected}; Redis ${version}` });
    }
    const policy = memory?.get('maxmemory_policy');
    if (policy !== undefined && EVICTS_ANY_KEY.has(policy)) {
      results.push({
        name: 'redis memory', status: 'warn', detail: `maxmemory-policy ${policy} may evict any key, the watermarks (${config.keyPrefix}applied:<topic>) among them, and a lost watermark lets a replay apply twice`,
        fix: 'use noeviction or a volatile-* policy (CONFIG SET maxmemory-policy noeviction), or a Redis of its own for the processor',
      });
    }
    results.push(await scriptResult(client, user));
    results.push(await writeResult(client, config, user));
    return results;
  } finally {
    client.disconnect();
  }
}

function connectFailure(where: string, config: RedisConfig, why: string, timeoutMs: number): CheckResult {
  if (/WRONGPASS|invalid username-password/i.test(why)) {
    return { name: 'redis', status: 'fail', detail: `${where} refused the password: wrong user or password (${why})`, fix: 'check redis.password and redis.username (or user:password in redis.url); the user must exist and be on (ACL GETUSER <user>)' };
  }
  if (/NOAUTH/i.test(why)) {
    return { name: 'redis', status: 'fail', detail: `${where} requires a password and none is configured (${why})`, fix: 'set redis.password (HIMARI_REDIS_PASSWORD) and redis.username for an ACL user' };
  }
  if (/NOPERM/i.test(why)) {
    return { name: 'redis', status: 'fail', detail: `${where}: the user may not run what a connection needs (${why})`, fix: 'grant the user at least +ping +select +info +evalsha +eval +script|load and its keys (ACL SETUSER)' };
  }
  if (/DB index|invalid DB/i.test(why)) {
    return { name: 'redis', status: 'fail', detail: `${where}: ${why}`, fix: 'the database number in redis.url (redis://host:port/N) is beyond the server\'s databases setting' };
  }
  if (/certificate|SSL|TLS|self.signed|EPROTO/i.test(why)) {
    return { name: 'redis', status: 'fail', detail: `TLS to ${where} failed (${why})`, fix: `check redis.tls / rediss:// and redis.tlsCaFile${config.tlsCaFile === undefined ? ' (not set: the system CAs are used)' : ''}` };
  }
  return { name: 'redis', status: 'fail', detail: `no answer at ${where} within ${seconds(timeoutMs)} (${why})`, fix: 'is Redis running? check redis.url (host, port, TLS)' };
}

async function scriptResult(client: Redis, user: string): Promise<CheckResult> {
  try {
    const sha = await client.script('LOAD', APPLY_BATCH_LUA) as string;
    return { name: 'redis script', status: 'ok', detail: `the sink's batch script loads (${sha.slice(0, 12)})` };
  } catch (err) {
    const why = (err as Error).message;
    if (/NOPERM/i.test(why)) {
      return { name: 'redis script', status: 'fail', detail: `the user may not load scripts (${why})`, fix: `ACL SETUSER ${user} +script|load +evalsha +eval` };
    }
    return { name: 'redis script', status: 'fail', detail: `the server refused the sink's batch script (${why})`, fix: 'the server\'s Lua lacks what the script uses (struct, cjson): use Redis 5.0+ or a Valkey release' };
  }
}

async function writeResult(client: Redis, config: RedisConfig, user: string): Promise<CheckResult> {
  const key = `${config.keyPrefix}doctor:${randomBytes(4).toString('hex')}`;
  try {
    await client.set(key, String(Date.now()), 'PX', 10_000);
    await client.del(key);
    return { name: 'redis write', status: 'ok', detail: `wrote and deleted ${key}` };
  } catch (err) {
    const why = (err as Error).message;
    if (/READONLY/i.test(why)) return { name: 'redis write', status: 'fail', detail: `read-only (${why})`, fix: 'redis.url points at a replica: point it at the primary' };
    if (/OOM/i.test(why)) return { name: 'redis write', status: 'fail', detail: `out of memory (${why})`, fix: 'maxmemory is reached: raise it, or trim what else the server holds' };
    if (/NOPERM/i.test(why)) return { name: 'redis write', status: 'fail', detail: `may not write ${key} (${why})`, fix: `ACL SETUSER ${user} ~${config.keyPrefix}* +@write +@read` };
    return { name: 'redis write', status: 'fail', detail: `writing ${key}: ${why}` };
  }
}

/** INFO's `key:value` lines. */
function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) out.set(line.slice(0, at), line.slice(at + 1));
  }
  return out;
}
