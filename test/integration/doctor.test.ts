import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/config/load.js';
import { SCHEMA_VERSION_TABLE, ensureDatabase, latestSchemaVersion } from '../../src/db/migrate.js';
import { CLI, ProcessorProcess } from '../helpers/processor.js';
import { secureKafka } from '../helpers/secure-services.js';
import { cleanup, createTopics, endOffsets, produceRaw, redisClient, testConfig, waitGroupCommitted } from '../helpers/services.js';
import { encodeEvent } from '../../src/codec/encode.js';
import { DEFAULT_VENUES, SyntheticMarket, symbolNames } from '../../src/codec/synthetic.js';

/** `himari-l0 doctor` as an operator runs it, with the config in the environment. */
function doctor(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'doctor', ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function runCli(env: Record<string, string>, args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: 'ignore' });
    child.on('exit', (code) => resolve(code));
  });
}

describe('himari-l0 doctor', { timeout: 120_000 }, () => {
  const t = testConfig();
  const database = `himari_doctor_${t.id}`;
  const role = `himari_doctor_${t.id}`;
  const env = { ...t.env, HIMARI_POSTGRES_URL: `postgres://postgres@127.0.0.1:5432/${database}` };
  const config = loadConfig({ env });
  const admin = () => new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });

  before(async () => {
    await ensureDatabase(config.postgres);
    await createTopics(config);
    assert.equal(await runCli(env, ['migrate']), 0);
  });

  after(async () => {
    await cleanup(config).catch(() => {});
    const redis = redisClient(config);
    await redis.call('ACL', 'DELUSER', role).catch(() => {});
    redis.disconnect();
    const c = admin();
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await c.query(`DROP ROLE IF EXISTS ${role}`);
    } finally {
      await c.end();
    }
  });

  it('passes against running services, after migrate, with a line per check', async () => {
    const r = await doctor(env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok {3}config: valid/m);
    assert.match(r.stdout, new RegExp(`^ok {3}kafka topic it\\.${t.id}: 4 partitions$`, 'm'));
    assert.match(r.stdout, /^ok {3}kafka dead-letter topic/m);
    assert.match(r.stdout, new RegExp(`^ok {3}kafka group it-${t.id}: unknown to the coordinator`, 'm'));
    assert.match(r.stdout, /^ok {3}redis: connected to 127\.0\.0\.1:6379 db 0 as default; Redis \d/m);
    assert.match(r.stdout, /^ok {3}redis script: /m);
    assert.match(r.stdout, /^ok {3}redis write: /m);
    assert.match(r.stdout, new RegExp(`^ok {3}postgres: connected to 127\\.0\\.0\\.1:5432/${database} as postgres`, 'm'));
    // ok (installed, or not on the server) or warn (packaged, not preloaded): the machine's choice.
    assert.match(r.stdout, /^(ok {3}|warn )postgres timescaledb: /m);
    assert.match(r.stdout, new RegExp(`^ok {3}postgres schema: table ${config.postgres.table}: partitioned by day .*; schema version ${latestSchemaVersion()}, this release's$`, 'm'));
    assert.match(r.stdout, /^ok {3}postgres rights: /m);
    assert.match(r.stdout, /^doctor: ready to run( \(1 warning\))?$/m);

    const json = await doctor(env, ['--json']);
    assert.equal(json.code, 0);
    const report = JSON.parse(json.stdout) as { ok: boolean; checks: Array<{ name: string; status: string }> };
    assert.equal(report.ok, true);
    assert.ok(report.checks.every((c) => c.status === 'ok' || c.name === 'postgres timescaledb'), json.stdout);
  });

  it('reads the group\'s state, members, committed offsets and lag while a processor runs', async () => {
    const processor = new ProcessorProcess(env);
    try {
      await processor.ready();
      const market = new SyntheticMarket(DEFAULT_VENUES, symbolNames(8));
      const events = Array.from({ length: 200 }, () => market.next(Date.now() * 1000));
      await produceRaw(config, config.kafka.topics[0]!, events.map((e) => ({ key: e.symbol, value: encodeEvent(e) })));
      await waitGroupCommitted(config, await endOffsets(config), 30_000);
      const r = await doctor(env);
      assert.equal(r.code, 0, r.stdout);
      assert.match(r.stdout, new RegExp(`^ok {3}kafka group it-${t.id}: Stable, 1 member \\(himari-l0@[^)]+\\); committed on \\d/4 partitions, lag 0$`, 'm'));
    } finally {
      await processor.stop();
    }
  });

  it('says no broker answered, and what to check, when Kafka is down', async () => {
    const r = await doctor({ ...env, HIMARI_KAFKA_BROKERS: '127.0.0.1:1' });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /^FAIL kafka: no broker answered at 127\.0\.0\.1:1 within 3 s .*: is the broker running\? check kafka\.brokers/m);
    // The other services are still checked.
    assert.match(r.stdout, /^ok {3}redis write: /m);
    assert.match(r.stdout, /^doctor: not ready \(1 failed[,)]/m);
  });

  it('checks a SASL_SSL broker with the configured credentials, and says when it refuses them', async () => {
    const secure = { ...env, ...secureKafka('sasl_ssl') };
    const ok = await doctor(secure);
    assert.match(ok.stdout, /^ok {3}kafka: 1 broker \([^)]+\), sasl_ssl$/m);
    assert.match(ok.stdout, new RegExp(`^ok {3}kafka group it-${t.id}: `, 'm'));
    const refused = await doctor({ ...secure, HIMARI_KAFKA_SASL_PASSWORD: 'wrong-password' });
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stdout, /^FAIL kafka: .*refused the connection: .*SASL authentication error.*: check kafka\.securityProtocol \(sasl_ssl\), kafka\.saslMechanism \/ saslUsername \/ saslPassword/m);
  });

  it('tells a refused Redis password apart from an unreachable Redis', async () => {
    const redis = redisClient(config);
    try {
      await redis.call('ACL', 'SETUSER', role, 'on', '>right-password', '~*', '+@all');
    } finally {
      redis.disconnect();
    }
    const wrong = await doctor({ ...env, HIMARI_REDIS_USERNAME: role, HIMARI_REDIS_PASSWORD: 'wrong-password' });
    assert.equal(wrong.code, 1, wrong.stdout);
    assert.match(wrong.stdout, /^FAIL redis: 127\.0\.0\.1:6379 refused the password: wrong user or password .*: check redis\.password/m);
    const right = await doctor({ ...env, HIMARI_REDIS_USERNAME: role, HIMARI_REDIS_PASSWORD: 'right-password' });
    assert.match(right.stdout, new RegExp(`^ok {3}redis: connected to 127\\.0\\.0\\.1:6379 db 0 as ${role}`, 'm'));
    const down = await doctor({ ...env, HIMARI_REDIS_URL: 'redis://127.0.0.1:1/0' });
    assert.equal(down.code, 1);
    assert.match(down.stdout, /^FAIL redis: no answer at 127\.0\.0\.1:1 within 3 s .*: is Redis running\?/m);
  });

  it('names a missing database and how to make it', async () => {
    const missing = `himari_doctor_missing_${t.id}`;
    const r = await doctor({ ...env, HIMARI_POSTGRES_URL: `postgres://postgres@127.0.0.1:5432/${missing}` });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`^FAIL postgres: database ${missing} does not exist at 127\\.0\\.0\\.1:5432: create it .*then run 'himari-l0 migrate'`, 'm'));
  });

  it('names the rights a role without grants lacks, and the grant that gives them', async () => {
    const c = admin();
    await c.connect();
    try {
      await c.query(`CREATE ROLE ${role} LOGIN`);
    } finally {
      await c.end();
    }
    const r = await doctor({ ...env, HIMARI_POSTGRES_URL: `postgres://${role}@127.0.0.1:5432/${database}`, HIMARI_POSTGRES_MIGRATE_ON_START: 'false' });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`^ok {3}postgres: connected to 127\\.0\\.0\\.1:5432/${database} as ${role}`, 'm'));
    assert.match(r.stdout, new RegExp(`^FAIL postgres rights: role ${role} may not insert into and read ${config.postgres.table}, nor read, insert and update himari_sink_offsets.*: run 'himari-l0 migrate --grant-to ${role}'`, 'm'));
  });

  it('reports a schema without a recorded version: migrated at start, or a failure when migrate-on-start is off', async () => {
    // The versions live in the test's own database.
    const own = new pg.Client({ connectionString: env.HIMARI_POSTGRES_URL });
    await own.connect();
    const saved = await own.query(`SELECT * FROM ${SCHEMA_VERSION_TABLE} WHERE target = $1`, [config.postgres.table]);
    try {
      await own.query(`DELETE FROM ${SCHEMA_VERSION_TABLE} WHERE target = $1`, [config.postgres.table]);
      const atStart = await doctor(env);
      assert.equal(atStart.code, 0, atStart.stdout);
      assert.match(atStart.stdout, /^warn postgres schema: .*; no schema version recorded \(made before versioned migrations\), this release writes \d+: the processor migrates it at start/m);
      const off = await doctor({ ...env, HIMARI_POSTGRES_MIGRATE_ON_START: 'false' });
      assert.equal(off.code, 1, off.stdout);
      assert.match(off.stdout, /^FAIL postgres schema: .*: run 'himari-l0 migrate' as the schema's owner/m);
    } finally {
      for (const row of saved.rows as Array<Record<string, unknown>>) {
        const cols = Object.keys(row);
        await own.query(`INSERT INTO ${SCHEMA_VERSION_TABLE} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map((k) => row[k]));
      }
      await own.end();
    }
  });

  it('stops at an invalid config with its problems and exit code 2, as every command', async () => {
    const r = await doctor({ ...env, HIMARI_KAFKA_TOPIC_PARTITIONS: 'many' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /HIMARI_KAFKA_TOPIC_PARTITIONS/);
    assert.equal(r.stdout, '');
  });
});
