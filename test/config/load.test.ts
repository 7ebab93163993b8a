import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listConfigKeys, loadConfig, redactConfig } from '../../src/config/load.js';
import { DEFAULT_KNOWN_VENUES } from '../../src/checks/thresholds.js';
import { DEFAULT_VENUES } from '../../src/codec/synthetic.js';
import { HimariError } from '../../src/errors.js';
import { VENUES } from '../../src/normalize/index.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HimariError);
    assert.equal(err.code, 'CONFIG_INVALID');
    return (err.context as { problems: string[] }).problems;
  }
  assert.fail('expected a config error');
}

describe('config validation', () => {
  it('defaults fit local services and the production box', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.kafka.brokers, '127.0.0.1:9092');
    assert.equal(c.sink.batchMaxRows, 1000);
    assert.equal(c.sink.redis.batchMaxMs, 50);
    assert.equal(c.sink.redis.flushWhenIdle, true);
    assert.equal(c.sink.postgres.flushWhenIdle, false);
    assert.ok(c.workers.threads >= 1 && c.workers.threads <= 8);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.kafka) && Object.isFrozen(c.kafka.topics));
  });

  it('checks.knownVenues: by default the venues the normalizers write, the synthetic generator\'s among them', () => {
    assert.deepEqual(loadConfig({ env: {} }).checks.knownVenues, [...VENUES]);
    assert.deepEqual(DEFAULT_KNOWN_VENUES, [...VENUES]);
    for (const v of DEFAULT_VENUES) assert.ok((VENUES as readonly string[]).includes(v), `synthetic venue ${v} has no normalizer`);
    assert.deepEqual(loadConfig({ env: { HIMARI_CHECKS_KNOWN_VENUES: 'binance, ftx' } }).checks.knownVenues, ['binance', 'ftx']);
    assert.ok(problemsOf(() => loadConfig({ env: { HIMARI_CHECKS_KNOWN_VENUES: ' , ' } })).some((p) => p.startsWith('checks.knownVenues')));
  });

  it('reads typed values from the environment', () => {
    const c = loadConfig({ env: { HIMARI_SINK_BATCH_MAX_ROWS: '500', HIMARI_KAFKA_TOPICS: 'a, b', HIMARI_REDIS_TLS: 'true', HIMARI_WORKERS_THREADS: '3' } });
    assert.equal(c.sink.batchMaxRows, 500);
    assert.deepEqual(c.kafka.topics, ['a', 'b']);
    assert.equal(c.redis.tls, true);
    assert.equal(c.workers.threads, 3);
  });

  it('names every bad key at once: malformed, out of range, unknown env var', () => {
    const problems = problemsOf(() => loadConfig({ env: {
      HIMARI_SINK_BATCH_MAX_ROWS: 'lots', HIMARI_SINK_POSTGRES_BATCH_MAX_MS: '-1', HIMARI_KAFKA_BROKER: 'x', HIMARI_REDIS_TLS: 'yes', HIMARI_WORKERS_THREADS: '',
    } }));
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('sink.batchMaxRows (HIMARI_SINK_BATCH_MAX_ROWS)')));
    assert.ok(problems.some((p) => p.startsWith('sink.postgres.batchMaxMs (HIMARI_SINK_POSTGRES_BATCH_MAX_MS)')));
    assert.ok(problems.some((p) => p.startsWith('HIMARI_KAFKA_BROKER: unknown environment variable')));
    assert.ok(problems.some((p) => p.startsWith('redis.tls (HIMARI_REDIS_TLS)')));
    assert.ok(problems.some((p) => p.startsWith('workers.threads (HIMARI_WORKERS_THREADS)')));
  });

  it('rejects unknown and mistyped keys in a config file; env overrides the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'himari-config-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ sink: { batchMaxRowz: 1, redis: { batchMaxMs: 'fast' } }, nope: {} }));
    const problems = problemsOf(() => loadConfig({ env: {}, file: bad }));
    assert.ok(problems.includes('sink.batchMaxRowz: unknown config key'), problems.join('\n'));
    assert.ok(problems.includes('nope: unknown config key'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('sink.redis.batchMaxMs')));

    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ sink: { batchMaxRows: 100 }, postgres: { table: 'ticks' } }));
    const c = loadConfig({ env: { HIMARI_SINK_BATCH_MAX_ROWS: '7' }, file: good });
    assert.equal(c.sink.batchMaxRows, 7);
    assert.equal(c.postgres.table, 'ticks');
    assert.equal(c.sink.redis.batchMaxMs, 50);

    assert.match(problemsOf(() => loadConfig({ env: {}, file: join(dir, 'missing.json') }))[0]!, /missing\.json/);
  });

  it('refuses a table name that is not a plain identifier (it is spliced into SQL)', () => {
    const problems = problemsOf(() => loadConfig({ env: { HIMARI_POSTGRES_TABLE: 'x; drop table y' } }));
    assert.ok(problems[0]!.startsWith('postgres.table'));
  });

  it('lists every key with an env var and a description, and redacts secrets', () => {
    const keys = listConfigKeys();
    assert.ok(keys.length > 25);
    for (const k of keys) {
      assert.match(k.env, /^HIMARI_[A-Z0-9_]+$/);
      assert.ok(k.description.length > 5, `${k.path} has no description`);
    }
    const c = loadConfig({ env: { HIMARI_REDIS_PASSWORD: 'hunter2', HIMARI_POSTGRES_URL: 'postgres://u:secret@db/x' } });
    const shown = JSON.stringify(redactConfig(c));
    assert.ok(!shown.includes('hunter2') && !shown.includes('secret'), shown);
  });
});
