import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { countedEvents, scanKeys } from '../../helpers/redis.js';
import { redisClient, withPg } from '../../helpers/services.js';
import type { Ledger, PoisonRecord } from './load.js';
import { FAULT_DLQ_MAX_BYTES, kindOfKey } from './poison.js';
import { recordFigures, type ScenarioFigures } from './results.js';
import type { Scenario } from './scenario.js';
import { readWholeTopic, type TopicMessage } from './topic-reader.js';

/** What the processor keeps of a dead letter's value at most (its headroom for headers: src/sinks/dead-letter.ts). */
const DLQ_KEPT_BYTES = FAULT_DLQ_MAX_BYTES - 1024;
const SHOWN = 10;

/**
 * The end of every scenario, once its fault is over: stops the loads, waits (bounded) until the
 * group committed to the end offsets, which is the end of the recovery, then stops the instances
 * that still run with SIGTERM (each must drain and exit 0) and verifies.
 */
export async function settleAndVerify(s: Scenario, extra: { notes?: string } = {}): Promise<ScenarioFigures> {
  const ledger = await s.stopLoads();
  const committedAt = await s.waitCommittedToEnd();
  const recoveryMs = s.healedAt === null ? null : Math.max(0, committedAt - s.healedAt);
  for (const i of s.live()) {
    const stopped = await i.terminate(Number(s.env.HIMARI_SHUTDOWN_DEADLINE_MS ?? 30_000) + 30_000);
    assert.ok(stopped !== null, `${i.name} did not stop after SIGTERM\n${i.tail()}`);
    assert.equal(stopped.exit.code, 0, `${i.name} exit after SIGTERM with nothing left to do: ${JSON.stringify(stopped.exit)}\n${i.tail()}`);
  }
  return verify(s, ledger, recoveryMs, extra.notes);
}

interface DeadLetterCheck {
  count: number;
  problems: string[];
}

/** The dead-letter topic must hold each injected poison message exactly once, with its kind's code, and nothing else. */
function checkDeadLetters(s: Scenario, poison: readonly PoisonRecord[], dlq: readonly TopicMessage[]): DeadLetterCheck {
  const byKey = new Map(poison.map((p) => [p.key, p]));
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const m of dlq) {
    const where = `dead letter ${m.partition}@${m.offset} (key ${JSON.stringify(m.key)}, code ${m.headers['x-error-code']}, source ${m.headers['x-source-partition']}@${m.headers['x-source-offset']})`;
    const record = m.key === null ? undefined : byKey.get(m.key);
    if (record === undefined) {
      problems.push(`${where}: not an injected poison message${kindOfKey(m.key) === null ? ' (a valid event was dead-lettered)' : ''}`);
      continue;
    }
    if (seen.has(record.key)) {
      problems.push(`${where}: a second dead letter of ${record.kind}`);
      continue;
    }
    seen.add(record.key);
    const h = m.headers;
    if (h['x-error-code'] !== record.code) problems.push(`${where}: ${record.kind} must be ${record.code} (${h['x-error-message']})`);
    if (h['x-source-topic'] !== s.topic || Number(h['x-source-partition']) !== record.partition || Number(h['x-source-offset']) !== record.offset) {
      problems.push(`${where}: ${record.kind} was produced to ${record.partition}@${record.offset}`);
    }
    if (record.size > DLQ_KEPT_BYTES) {
      if (h['x-truncated'] !== 'true' || Number(h['x-original-size']) !== record.size || h['x-original-sha256'] !== record.sha256 || m.value.length > DLQ_KEPT_BYTES) {
        problems.push(`${where}: ${record.kind} of ${record.size} bytes must be stored truncated with its size and hash (x-truncated ${h['x-truncated']}, x-original-size ${h['x-original-size']}, ${m.value.length} bytes kept)`);
      }
    } else if (h['x-truncated'] !== undefined || createHash('sha256').update(m.value).digest('hex') !== record.sha256) {
      problems.push(`${where}: ${record.kind} must be stored whole (${m.value.length} of ${record.size} bytes)`);
    }
  }
  const missing = poison.filter((p) => !seen.has(p.key));
  for (const p of missing) problems.push(`${p.kind} at ${p.partition}@${p.offset}: no dead letter`);
  return { count: dlq.length, problems };
}

interface RedisCheck {
  mismatches: string[];
  counted: number;
}

/** Events Redis has applied (its quality counters), read directly, not through the scenario's proxy. */
export async function redisEventCount(s: Scenario): Promise<number> {
  const redis = redisClient(s.config);
  try {
    return await countedEvents(redis, s.config.redis.keyPrefix);
  } finally {
    redis.disconnect();
  }
}

/** Redis's latest view must be the newest event per venue and symbol that PostgreSQL holds, and its counters count each event once. */
async function checkRedis(s: Scenario): Promise<RedisCheck> {
  const table = s.config.postgres.table;
  const newest = await withPg(s.config, async (c) => (await c.query(
    `SELECT DISTINCT ON (venue, symbol) venue, symbol, (extract(epoch FROM ts) * 1000000)::bigint::text AS ts_us, src_offset::text AS src_offset
     FROM ${table} WHERE verdict <> 2 ORDER BY venue, symbol, ts DESC, src_offset DESC`)).rows as Array<{ venue: string; symbol: string; ts_us: string; src_offset: string }>);
  const prefix = s.config.redis.keyPrefix;
  const redis = redisClient(s.config);
  const mismatches: string[] = [];
  try {
    const latestKeys = new Set(await scanKeys(redis, `${prefix}latest:*`));
    for (const r of newest) {
      const key = `${prefix}latest:${r.venue}:${r.symbol}`;
      latestKeys.delete(key);
      const [ts, offset] = await redis.hmget(key, 'ts', 'offset');
      if (ts !== r.ts_us || offset !== r.src_offset) mismatches.push(`${key}: ts ${ts} offset ${offset}, PostgreSQL's newest ts ${r.ts_us} offset ${r.src_offset}`);
    }
    for (const key of latestKeys) mismatches.push(`${key}: in Redis, not in PostgreSQL`);
    return { mismatches, counted: await countedEvents(redis, prefix) };
  } finally {
    redis.disconnect();
  }
}

/**
 * The one verifier every scenario ends with. Measures, records the figures (so a failed scenario
 * still leaves its numbers), then asserts: the topic holds what the load delivered; PostgreSQL
 * holds every valid event exactly once and no poison; Redis's latest view and counters agree;
 * the dead-letter topic is exactly the injected poison, once each, with the right code; the
 * group committed the end offsets; every instance's peak RSS stayed under the profile's bound.
 */
export async function verify(s: Scenario, ledger: Ledger, recoveryMs: number | null, notes?: string): Promise<ScenarioFigures> {
  const table = s.config.postgres.table;
  const ends = await s.endOffsets();
  const inTopic = [...ends.values()].reduce((n, e) => n + e, 0);
  const pg = await withPg(s.config, async (c) => (await c.query(
    `SELECT count(*)::int AS n, count(DISTINCT (src_partition, src_offset))::int AS d FROM ${table}`)).rows[0] as { n: number; d: number });
  const poisonRows = await withPg(s.config, async (c) => (await c.query(
    `SELECT count(*)::int AS n FROM ${table} t JOIN unnest($1::int[], $2::bigint[]) AS p(part, off) ON t.src_partition = p.part AND t.src_offset = p.off`,
    [ledger.poison.map((p) => p.partition), ledger.poison.map((p) => p.offset)])).rows[0].n as number);
  const redis = await checkRedis(s);
  const dlq = checkDeadLetters(s, ledger.poison, await readWholeTopic(s.config.kafka, s.deadLetterTopic));
  const committed = await s.committed();
  const uncommitted = [...ends].filter(([p, end]) => end > 0 && committed.get(p) !== end).map(([p, end]) => `${p}: ${committed.get(p)} of ${end}`);
  const peakRssMb = Math.round(Math.max(0, ...s.instances.map((i) => i.peakRss)) / 1048576);

  const figures: ScenarioFigures = {
    scenario: s.name, produced: inTopic, valid: ledger.valid, poison: ledger.poison.length,
    kinds: new Set(ledger.poison.map((p) => p.kind)).size,
    lost: Math.max(0, ledger.valid - pg.d), duplicated: pg.n - pg.d, deadLettered: dlq.count, deadLetterMismatches: dlq.problems.length,
    redisMismatches: redis.mismatches.length, peakRssMb, recoveryMs, kills: s.kills,
    notes: [...s.notes, ...(notes === undefined ? [] : [notes])].join('; '), passed: false,
  };
  const failures: string[] = [];
  if (inTopic !== ledger.valid + ledger.poison.length) failures.push(`the topic holds ${inTopic} messages, the load delivered ${ledger.valid} valid and ${ledger.poison.length} poison`);
  if (pg.n !== ledger.valid || pg.d !== ledger.valid) failures.push(`PostgreSQL: ${pg.n} rows, ${pg.d} distinct offsets, for ${ledger.valid} valid events`);
  if (poisonRows > 0) failures.push(`PostgreSQL holds ${poisonRows} poison messages`);
  if (redis.counted !== ledger.valid) failures.push(`Redis quality counters count ${redis.counted} events, not ${ledger.valid}`);
  if (redis.mismatches.length > 0) failures.push(`Redis latest view differs from PostgreSQL in ${redis.mismatches.length} keys: ${redis.mismatches.slice(0, SHOWN).join('; ')}`);
  if (dlq.problems.length > 0) failures.push(`dead-letter topic: ${dlq.count} dead letters for ${ledger.poison.length} poison messages; ${dlq.problems.length} problems: ${dlq.problems.slice(0, SHOWN).join('; ')}`);
  if (uncommitted.length > 0) failures.push(`committed offsets short of the end: ${uncommitted.join(', ')}`);
  if (peakRssMb > s.profile.rssBoundMb) failures.push(`peak RSS ${peakRssMb} MB over the bound of ${s.profile.rssBoundMb} MB`);
  figures.passed = failures.length === 0;
  if (!figures.passed) figures.failure = failures.join(' | ');
  recordFigures(s.profile.name, figures);
  s.recorded = true;
  assert.deepEqual(failures, [], `${s.name}: ${failures.length} checks failed`);
  return figures;
}
