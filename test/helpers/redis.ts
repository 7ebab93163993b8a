import type { Redis } from 'ioredis';

/** Every key matching `pattern`, by SCAN (never KEYS: the server may hold other users' keys). */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Removes every key under `prefix` (a test's own prefix: the cleanup after it). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  const keys = await scanKeys(redis, `${prefix}*`);
  for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
}

/** Events the Redis sink applied under `prefix`: the sum of its quality counters (each event counts once). */
export async function countedEvents(redis: Redis, prefix: string): Promise<number> {
  let counted = 0;
  for (const key of await scanKeys(redis, `${prefix}quality:*`)) {
    const [a, f, r] = await redis.hmget(key, 'accepted', 'flagged', 'rejected');
    counted += Number(a ?? 0) + Number(f ?? 0) + Number(r ?? 0);
  }
  return counted;
}

/** Every key under `prefix`: hashes and sorted sets whole, streams by length (to compare two states). */
export async function redisDump(redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const k of (await scanKeys(redis, `${prefix}*`)).sort()) {
    const type = await redis.type(k);
    if (type === 'hash') out[k] = await redis.hgetall(k);
    else if (type === 'zset') out[k] = await redis.zrange(k, '0', '-1', 'WITHSCORES');
    else if (type === 'stream') out[k] = await redis.xlen(k);
  }
  return out;
}
