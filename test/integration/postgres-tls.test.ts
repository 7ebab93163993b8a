import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { produce } from '../../src/loadtest/generator.js';
import { loadConfig } from '../../src/config/load.js';
import { connectPostgres } from '../../src/db/client-config.js';
import { ensureDatabase } from '../../src/db/migrate.js';
import { ProcessorProcess } from '../helpers/processor.js';
import { tlsDir, tlsPostgres } from '../helpers/secure-services.js';
import { cleanup, endOffsets, testConfig, waitGroupCommitted, withPg } from '../helpers/services.js';

/**
 * PostgreSQL over TLS against the project's own cluster (scripts/pg-cluster.sh), which accepts
 * TCP connections only over TLS and presents a certificate signed by the test CA. Kafka and
 * Redis are the plain local services.
 */
describe('PostgreSQL over TLS', { timeout: 150_000 }, () => {
  let pgEnv: Record<string, string> = {};
  let certs = '';
  const processes: ProcessorProcess[] = [];
  const used: Array<ReturnType<typeof testConfig>['config']> = [];
  before(() => {
    pgEnv = tlsPostgres();
    certs = tlsDir();
  });
  after(async () => {
    for (const p of processes) await p.stop();
    for (const config of used) await cleanup(config).catch(() => {});
  });

  function run(env: Record<string, string>): ProcessorProcess {
    const p = new ProcessorProcess(env);
    processes.push(p);
    return p;
  }

  it('the load test\'s and benchmarks\' database set-up goes over TLS too (ensureDatabase)', async () => {
    const { config } = testConfig(pgEnv);
    const url = new URL(config.postgres.url);
    const db = `himari_tls_${process.pid}`;
    url.pathname = `/${db}`;
    const postgres = { ...config.postgres, url: url.toString() };
    await ensureDatabase(postgres);
    await ensureDatabase(postgres); // exists: left alone
    const c = await connectPostgres(postgres);
    try {
      assert.equal((await c.query('SELECT current_database() AS d')).rows[0].d, db);
      assert.equal((await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0].ssl, true);
    } finally {
      await c.end();
    }
    const admin = await connectPostgres(config.postgres);
    await admin.query(`DROP DATABASE ${db}`).finally(() => admin.end());
  });

  it('the processor migrates and writes over verify-full, every connection encrypted', async () => {
    const { config, env } = testConfig({ ...pgEnv, HIMARI_POSTGRES_CONNECTIONS: '2' });
    used.push(config);
    const stats = await produce(config.kafka, {
      topic: config.kafka.topics[0]!, symbols: 8, venues: ['binance', 'okx'], rate: 0, durationS: 0, count: 800, bad: 0, seed: 5,
    });
    const processor = run(env);
    await processor.ready(60_000);
    await waitGroupCommitted(config, await endOffsets(config), 60_000);

    const rows = await withPg(config, async (c) => (await c.query(`SELECT count(*)::int AS n FROM ${config.postgres.table}`)).rows[0].n as number);
    assert.equal(rows, stats.produced);
    // The sink's connections as the server sees them (the server refuses plaintext anyway).
    const sessions = await withPg(config, async (c) => (await c.query<{ ssl: boolean }>(
      `SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'himari-l0'`)).rows);
    assert.ok(sessions.length >= 2, `the two sink connections are open (${sessions.length})`);
    assert.ok(sessions.every((s) => s.ssl));

    processor.kill('SIGTERM');
    assert.equal((await processor.exited).code, 0, processor.stderr);
  });

  it('a client without TLS is refused by the server, and the processor stops at start-up (exit 1)', async () => {
    const plain: Record<string, string> = { ...pgEnv, HIMARI_POSTGRES_SSL_MODE: 'disable' };
    delete plain.HIMARI_POSTGRES_SSL_CA_FILE;
    const { postgres } = loadConfig({ env: plain });
    await assert.rejects(connectPostgres(postgres), (err: Error & { retriable?: boolean; cause?: { code?: string } }) =>
      err.cause?.code === '28000' && /no pg_hba\.conf entry .*no encryption/.test(err.message) && err.retriable === false);

    const processor = run(testConfig(plain).env);
    const exit = await processor.exited;
    assert.equal(exit.code, 1, processor.stderr);
    assert.match(processor.stderr, /start failed: dependencies not ready within 10 s, nothing was created: PostgreSQL at 127\.0\.0\.1:\d+ \(sslMode disable\): no pg_hba\.conf entry .*no encryption/);
  });

  it('a CA that did not sign the server certificate stops start-up with the TLS error (exit 1)', async () => {
    const processor = run(testConfig({ ...pgEnv, HIMARI_POSTGRES_SSL_CA_FILE: join(certs, 'other-ca.pem') }).env);
    const exit = await processor.exited;
    assert.equal(exit.code, 1, processor.stderr);
    assert.match(processor.stderr, /start failed: dependencies not ready within 10 s, nothing was created: PostgreSQL at 127\.0\.0\.1:\d+ \(sslMode verify-full\): .*(self.signed|unable to verify|certificate)/i);
  });

  it('a client certificate logs in where the server asks for one, and its absence is refused', async () => {
    const { postgres: admin } = loadConfig({ env: pgEnv });
    const c = await connectPostgres(admin);
    try {
      // pg_hba.conf lets himari_cert in by certificate only (CN=himari_cert, signed by the test CA).
      await c.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'himari_cert') THEN CREATE ROLE himari_cert LOGIN; END IF; END $$`);
      const url = pgEnv.HIMARI_POSTGRES_URL!.replace(/\/\/[^@]*@/, '//himari_cert@');
      const base = { HIMARI_POSTGRES_URL: url, HIMARI_POSTGRES_SSL_MODE: 'verify-full', HIMARI_POSTGRES_SSL_CA_FILE: join(certs, 'ca.pem') };
      const withCert = await connectPostgres(loadConfig({ env: {
        ...base, HIMARI_POSTGRES_SSL_CERT_FILE: join(certs, 'client.pem'), HIMARI_POSTGRES_SSL_KEY_FILE: join(certs, 'client.key'),
      } }).postgres);
      try {
        assert.equal((await withCert.query('SELECT current_user AS u')).rows[0].u, 'himari_cert');
      } finally {
        await withCert.end();
      }
      await assert.rejects(connectPostgres(loadConfig({ env: base }).postgres), (err: Error & { retriable?: boolean }) =>
        /certificate/i.test(err.message) && err.retriable === false);
    } finally {
      await c.end();
    }
  });
});
