import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import pino from 'pino';
import { produce } from '../../src/loadtest/generator.js';
import { loadConfig } from '../../src/config/load.js';
import { connectPostgres } from '../../src/db/client-config.js';
import { SCHEMA_VERSION_TABLE, WATERMARK_TABLE, latestSchemaVersion, migrate } from '../../src/db/migrate.js';
import { MAINTAIN_PARTITIONS_FUNCTION, PARTITION_POLICY_TABLE } from '../../src/db/partitions.js';
import { CLI, ProcessorProcess, drainAndStop } from '../helpers/processor.js';
import { tlsPostgres } from '../helpers/secure-services.js';
import { cleanup, endOffsets, testConfig } from '../helpers/services.js';

/**
 * The processor as a least-privilege role, on the project's TLS cluster (scripts/pg-cluster.sh):
 * an owner role owns a fresh database and runs `migrate --grant-to`; the processor connects as
 * the writer role with migrate-on-start off. Kafka and Redis are the plain local services.
 */
describe('least-privilege PostgreSQL role', { timeout: 150_000 }, () => {
  const id = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const roles = { owner: `himari_owner_${id}`, writer: `himari_writer_${id}`, stranger: `himari_stranger_${id}` };
  const passwords = { owner: randomBytes(12).toString('hex'), writer: randomBytes(12).toString('hex'), stranger: randomBytes(12).toString('hex') };
  const database = `himari_it_${id}`;
  let pgEnv: Record<string, string> = {};
  const processes: ProcessorProcess[] = [];
  let kafkaEnv: ReturnType<typeof testConfig>;

  /** The settings of one role on the test database (password as its own key, over verify-full). */
  function as(role: keyof typeof roles): Record<string, string> {
    const url = new URL(pgEnv.HIMARI_POSTGRES_URL!);
    url.username = roles[role];
    url.password = '';
    url.pathname = `/${database}`;
    return { ...pgEnv, HIMARI_POSTGRES_URL: url.toString(), HIMARI_POSTGRES_PASSWORD: passwords[role] };
  }
  async function connectAs(role: keyof typeof roles): Promise<pg.Client> {
    return connectPostgres(loadConfig({ env: as(role) }).postgres);
  }
  async function superuser<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = await connectPostgres(loadConfig({ env: pgEnv }).postgres);
    try { return await fn(c); } finally { await c.end(); }
  }

  before(async () => {
    pgEnv = tlsPostgres();
    kafkaEnv = testConfig(as('owner'));
    await superuser(async (c) => {
      for (const role of Object.keys(roles) as Array<keyof typeof roles>) await c.query(`CREATE ROLE ${roles[role]} LOGIN PASSWORD '${passwords[role]}'`);
      await c.query(`CREATE DATABASE ${database} OWNER ${roles.owner}`);
    });
  });
  after(async () => {
    for (const p of processes) await p.stop();
    await cleanup(kafkaEnv.config).catch(() => {});
    await superuser(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      for (const role of Object.values(roles)) await c.query(`DROP ROLE IF EXISTS ${role}`);
    });
  });

  it('migrate --grant-to as the owner; the processor as the role writes events and watermarks as before', async () => {
    const { config, env } = kafkaEnv;
    const migrate = spawnSync(process.execPath, [CLI, 'migrate', '--grant-to', roles.writer], {
      env: { PATH: process.env.PATH ?? '', ...env, HIMARI_LOG_LEVEL: 'warn' }, encoding: 'utf8', timeout: 60_000,
    });
    assert.equal(migrate.status, 0, migrate.stderr);
    assert.equal(JSON.parse(migrate.stdout).grantedTo, roles.writer);

    const stats = await produce(config.kafka, {
      topic: config.kafka.topics[0]!, symbols: 8, venues: ['binance', 'okx'], rate: 0, durationS: 0, count: 1000, bad: 0, seed: 3,
    });
    const processor = new ProcessorProcess({ ...env, ...as('writer'), HIMARI_POSTGRES_MIGRATE_ON_START: 'false' });
    processes.push(processor);
    await processor.ready(60_000);
    const ends = await endOffsets(config);
    await drainAndStop(processor, config, 60_000);

    const c = await connectAs('owner');
    try {
      const rows = await c.query(`SELECT count(*)::int AS n, count(DISTINCT (src_partition, src_offset))::int AS d FROM ${config.postgres.table}`);
      assert.deepEqual(rows.rows[0], { n: stats.produced, d: stats.produced }, 'every event once');
      const marks = await c.query<{ partition: number; next_offset: string }>(
        `SELECT partition, next_offset FROM ${WATERMARK_TABLE} WHERE target = $1`, [config.postgres.table]);
      const written = new Map(marks.rows.map((r) => [r.partition, Number(r.next_offset)]));
      for (const [p, end] of ends) if (end > 0) assert.equal(written.get(p), end, `watermark of partition ${p}`);
    } finally {
      await c.end();
    }
  });

  it('the role cannot delete, update, truncate or drop events, nor delete watermarks or change the partition policy (42501)', async () => {
    const t = kafkaEnv.config.postgres.table;
    const c = await connectAs('writer');
    try {
      assert.ok((await c.query(`SELECT 1 FROM ${t} LIMIT 1`)).rowCount === 1, 'it may read the events');
      for (const sql of [
        `DELETE FROM ${t}`,
        `UPDATE ${t} SET price = 0`,
        `TRUNCATE ${t}`,
        `DROP TABLE ${t}`,
        `DROP TABLE ${t}_default`,
        `ALTER TABLE ${t} ADD COLUMN x int`,
        `DELETE FROM ${WATERMARK_TABLE}`,
        `UPDATE ${PARTITION_POLICY_TABLE} SET retention_days = 1`,
        'CREATE TABLE himari_not_allowed (a int)',
      ]) {
        await assert.rejects(c.query(sql), (err: Error & { code?: string }) => err.code === '42501', sql);
      }
    } finally {
      await c.end();
    }
  });

  it('the role keeps the partitions current through the owner\'s function, by the owner\'s policy only', async () => {
    const t = kafkaEnv.config.postgres.table;
    const owner = await connectAs('owner');
    const writer = await connectAs('writer');
    try {
      // The furthest day ahead loses its partition; a row for that day meanwhile lands in the default one.
      const day = (await owner.query<{ d: string }>(`SELECT to_char(current_date + $1::int, 'YYYYMMDD') AS d`, [kafkaEnv.config.postgres.partitionsAheadDays])).rows[0]!.d;
      await owner.query(`DROP TABLE ${t}_p${day}`);
      const moved1 = await owner.query(`UPDATE ${t} SET ts = to_date('${day}', 'YYYYMMDD')::timestamptz + interval '1 hour'
        WHERE (src_partition, src_offset) = (SELECT src_partition, src_offset FROM ${t} LIMIT 1) RETURNING tableoid::regclass::text AS part`);
      assert.deepEqual(moved1.rows, [{ part: `${t}_default` }]);

      const made = await writer.query(`SELECT action, part_name FROM ${MAINTAIN_PARTITIONS_FUNCTION}($1)`, [t]);
      assert.deepEqual(made.rows, [{ action: 'created', part_name: `${t}_p${day}` }]);
      const moved = await owner.query(`SELECT tableoid::regclass::text AS part FROM ${t} WHERE ts >= to_date('${day}', 'YYYYMMDD')`);
      assert.deepEqual(moved.rows, [{ part: `${t}_p${day}` }], 'the row moved out of the default partition');

      await assert.rejects(writer.query(`SELECT * FROM ${MAINTAIN_PARTITIONS_FUNCTION}('pg_class')`), (err: Error & { code?: string }) =>
        err.code === '42704' && /no partition policy/.test(err.message));
      // Not callable by everyone: it runs with the owner's rights.
      const stranger = await connectAs('stranger');
      try {
        await assert.rejects(stranger.query(`SELECT * FROM ${MAINTAIN_PARTITIONS_FUNCTION}($1)`, [t]), (err: Error & { code?: string }) => err.code === '42501');
      } finally {
        await stranger.end();
      }
    } finally {
      await owner.end();
      await writer.end();
    }
  });

  it('the role left migrating on start is told to turn it off (exit 1)', async () => {
    const processor = new ProcessorProcess({ ...kafkaEnv.env, ...as('writer') });
    processes.push(processor);
    const exit = await processor.exited;
    assert.equal(exit.code, 1, processor.stderr);
    assert.match(processor.stderr, /start failed: PostgreSQL at .*: migrate on start needs the schema owner's rights \(permission denied.*set postgres\.migrateOnStart=false/);
  });

  it('a role without the grants cannot start the processor, and start-up says what is missing (exit 1)', async () => {
    const processor = new ProcessorProcess({ ...kafkaEnv.env, ...as('stranger'), HIMARI_POSTGRES_MIGRATE_ON_START: 'false' });
    processes.push(processor);
    const exit = await processor.exited;
    assert.equal(exit.code, 1, processor.stderr);
    assert.match(processor.stderr, new RegExp(`start failed: PostgreSQL: role ${roles.stranger} may not insert into and read ${kafkaEnv.config.postgres.table}.*run 'himari-l0 migrate --grant-to ${roles.stranger}'`));
  });

  it('a schema behind the release stops the role\'s start-up, asking for migrate (exit 1); migrate brings it back', async () => {
    const table = kafkaEnv.config.postgres.table;
    const owner = await connectAs('owner');
    try {
      await owner.query(`DELETE FROM ${SCHEMA_VERSION_TABLE} WHERE target = $1`, [table]);
    } finally {
      await owner.end();
    }
    const processor = new ProcessorProcess({ ...kafkaEnv.env, ...as('writer'), HIMARI_POSTGRES_MIGRATE_ON_START: 'false' });
    processes.push(processor);
    const exit = await processor.exited;
    assert.equal(exit.code, 1, processor.stderr);
    assert.match(processor.stderr, new RegExp(`start failed: PostgreSQL: ${table} is at schema version 0, this himari-l0 writes version ${latestSchemaVersion()}: run 'himari-l0 migrate' as the schema's owner`));
    await migrate(kafkaEnv.config.postgres, pino({ level: 'silent' })); // as the owner (kafkaEnv is the owner's config)
    const again = new ProcessorProcess({ ...kafkaEnv.env, ...as('writer'), HIMARI_POSTGRES_MIGRATE_ON_START: 'false' });
    processes.push(again);
    await again.ready();
  });
});
