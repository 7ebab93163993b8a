import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { listConfigKeys, loadConfig, redactConfig } from '../../src/config/load.js';
import { DEFAULT_KNOWN_VENUES } from '../../src/checks/thresholds.js';
import { DEFAULT_VENUES } from '../../src/codec/synthetic.js';
import { VENUES } from '../../src/normalize/index.js';
import { problemsOf } from '../helpers/config-problems.js';

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

  it('sink.stores: both by default, one alone for a group per store; an empty, unknown or repeated store is refused', () => {
    assert.deepEqual(loadConfig({ env: {} }).sink.stores, ['redis', 'postgres']);
    assert.deepEqual(loadConfig({ env: { HIMARI_SINK_STORES: 'postgres' } }).sink.stores, ['postgres']);
    assert.deepEqual(loadConfig({ env: { HIMARI_SINK_STORES: ' redis ' } }).sink.stores, ['redis']);
    for (const bad of [' , ', 'redis,mysql', 'redis,redis']) {
      const problems = problemsOf(() => loadConfig({ env: { HIMARI_SINK_STORES: bad } }));
      assert.ok(problems.length === 1 && problems[0]!.startsWith('sink.stores'), `${bad}: ${problems.join('\n')}`);
    }
    assert.match(problemsOf(() => loadConfig({ env: { HIMARI_SINK_STORES: 'redis,redis' } }))[0]!, /names a store twice/);
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
    const c = loadConfig({ env: {
      HIMARI_REDIS_PASSWORD: 'hunter2', HIMARI_REDIS_URL: 'redis://u:redisurlpw@h:6379/0', HIMARI_POSTGRES_URL: 'postgres://u:secret@db/x',
      HIMARI_POSTGRES_PASSWORD: 'pgkeypw', HIMARI_KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext', HIMARI_KAFKA_SASL_USERNAME: 'u', HIMARI_KAFKA_SASL_PASSWORD: 'kafkapw',
    } });
    const shown = JSON.stringify(redactConfig(c));
    for (const secret of ['hunter2', 'redisurlpw', 'secret', 'pgkeypw', 'kafkapw']) assert.ok(!shown.includes(secret), `${secret} in ${shown}`);
    // Redacted, not dropped: the line still says a password is set.
    const r = redactConfig(c);
    assert.equal(r.kafka.saslPassword, '[redacted]');
    assert.equal(r.postgres.password, '[redacted]');
    assert.equal(r.redis.password, '[redacted]');
    assert.equal(r.postgres.url, 'postgres://u:redacted@db/x');
    assert.equal(c.kafka.saslPassword, 'kafkapw', 'the config itself keeps the secret');
  });

  it('the consumer heartbeats every 500 ms by default, and at most every third of its session timeout', () => {
    assert.equal(loadConfig({ env: {} }).kafka.heartbeatIntervalMs, 500);
    assert.equal(loadConfig({ env: { HIMARI_KAFKA_SESSION_TIMEOUT_MS: '6000', HIMARI_KAFKA_HEARTBEAT_INTERVAL_MS: '2000' } }).kafka.heartbeatIntervalMs, 2000);
    assert.deepEqual(problemsOf(() => loadConfig({ env: { HIMARI_KAFKA_SESSION_TIMEOUT_MS: '6000', HIMARI_KAFKA_HEARTBEAT_INTERVAL_MS: '2001' } })),
      ['kafka.heartbeatIntervalMs (HIMARI_KAFKA_HEARTBEAT_INTERVAL_MS): 2001 is more than a third of kafka.sessionTimeoutMs (6000): a missed heartbeat or two would end the session']);
  });

  it('metrics and health listen on loopback unless told otherwise', () => {
    assert.equal(loadConfig({ env: {} }).metrics.host, '127.0.0.1');
  });
});

describe('security settings', () => {
  const readable = fileURLToPath(import.meta.url);

  it('Kafka: SASL needs a user and a password, PLAIN needs TLS, certificate and key go together', () => {
    const problems = problemsOf(() => loadConfig({ env: { HIMARI_KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext', HIMARI_KAFKA_SASL_MECHANISM: 'PLAIN' } }));
    assert.ok(problems.some((p) => p.startsWith('kafka.saslUsername (HIMARI_KAFKA_SASL_USERNAME): required')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('kafka.saslPassword (HIMARI_KAFKA_SASL_PASSWORD): required')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('kafka.saslMechanism') && p.includes('in the clear')), problems.join('\n'));
    const half = problemsOf(() => loadConfig({ env: { HIMARI_KAFKA_SECURITY_PROTOCOL: 'ssl', HIMARI_KAFKA_SSL_CERT_FILE: readable } }));
    assert.deepEqual(half, ['kafka.sslKeyFile (HIMARI_KAFKA_SSL_KEY_FILE): sslCertFile and sslKeyFile go together']);
  });

  it('a security key the chosen protocol or mode would ignore is an error, not a silent downgrade', () => {
    const problems = problemsOf(() => loadConfig({ env: {
      HIMARI_KAFKA_SASL_PASSWORD: 'p', HIMARI_KAFKA_SSL_CA_FILE: readable, HIMARI_POSTGRES_SSL_CA_FILE: readable,
    } }));
    assert.ok(problems.some((p) => p.startsWith('kafka.saslPassword') && p.includes('securityProtocol is plaintext')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('kafka.sslCaFile') && p.includes('no TLS')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('postgres.sslCaFile') && p.includes('sslMode is disable')), problems.join('\n'));
    const require = problemsOf(() => loadConfig({ env: { HIMARI_POSTGRES_SSL_MODE: 'require', HIMARI_POSTGRES_SSL_CA_FILE: readable } }));
    assert.match(require[0]!, /^postgres\.sslCaFile .*does not verify the server/);
  });

  it('certificate files must exist when the config is loaded, naming the key', () => {
    const problems = problemsOf(() => loadConfig({ env: { HIMARI_POSTGRES_SSL_MODE: 'verify-full', HIMARI_POSTGRES_SSL_CA_FILE: '/nonexistent/ca.pem' } }));
    assert.deepEqual(problems, ['postgres.sslCaFile (HIMARI_POSTGRES_SSL_CA_FILE): no such file, or not readable']);
  });

  it('PostgreSQL TLS is set by its keys, never by URL parameters node-postgres would act on alone', () => {
    const problems = problemsOf(() => loadConfig({ env: { HIMARI_POSTGRES_URL: 'postgres://u@h/db?sslmode=no-verify' } }));
    assert.match(problems[0]!, /^postgres\.url .*postgres\.sslMode/);
    assert.equal(loadConfig({ env: { HIMARI_POSTGRES_URL: 'postgres://u@h/db?application_name=x' } }).postgres.url, 'postgres://u@h/db?application_name=x');
  });

  it('the role migrate grants to is a plain identifier (it is spliced into SQL)', () => {
    assert.match(problemsOf(() => loadConfig({ env: { HIMARI_POSTGRES_GRANT_TO: 'x; drop role y' } }))[0]!, /^postgres\.grantTo/);
    assert.equal(loadConfig({ env: { HIMARI_POSTGRES_GRANT_TO: 'himari_writer' } }).postgres.grantTo, 'himari_writer');
  });
});
