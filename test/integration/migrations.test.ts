import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { SCHEMA_STEPS, SCHEMA_VERSION_TABLE, latestSchemaVersion, migrate, readSchemaVersion, type SchemaStep } from '../../src/db/migrate.js';
import { cleanup, testConfig, withPg } from '../helpers/services.js';

const log = pino({ level: 'silent' });

/** `n` trades in the event table, straight through SQL (the sink's COPY is tested elsewhere). */
async function insertRows(config: ReturnType<typeof testConfig>['config'], n: number): Promise<void> {
  await withPg(config, (c) => c.query(`INSERT INTO ${config.postgres.table}
    (ts, recv_ts, venue, symbol, type, price, size, verdict, failed_checks, quality, src_partition, src_offset)
    SELECT now() - i * INTERVAL '1 second', now(), 'binance', 'BTC-USDT', 'trade', 100 + i, 1, 0, 0, 1, 0, i
    FROM generate_series(1, $1) AS i`, [n]));
}

async function columnsOf(config: ReturnType<typeof testConfig>['config']): Promise<string[]> {
  return withPg(config, async (c) => (await c.query<{ n: string }>(
    'SELECT attname AS n FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum', [config.postgres.table])).rows.map((r) => r.n));
}

/**
 * Versioned schema steps on the real PostgreSQL (daily partitions here; the TimescaleDB path runs
 * the same steps in timescaledb.test.ts): the version is recorded, a new step reaches a table
 * made at the version before with its rows intact, a failed step leaves the version where it was,
 * and a schema newer than the release is refused.
 */
describe('versioned schema migrations (real PostgreSQL)', { timeout: 60_000 }, () => {
  const configs: Array<ReturnType<typeof testConfig>['config']> = [];
  after(async () => { for (const c of configs) await cleanup(c); });
  const latest = latestSchemaVersion();
  const addColumn: SchemaStep = {
    version: latest + 1, name: 'add column venue_region', transactional: true,
    apply: async (c, config) => { await c.query(`ALTER TABLE ${config.table} ADD COLUMN venue_region text`); },
  };

  it('records the latest version, and a second run applies nothing', async () => {
    const { config } = testConfig();
    configs.push(config);
    const first = await migrate(config.postgres, log);
    assert.equal(first.schemaVersion, latest);
    assert.deepEqual(first.applied, SCHEMA_STEPS.map((s) => `${s.version} ${s.name}`));
    const second = await migrate(config.postgres, log);
    assert.deepEqual(second.applied, []);
    assert.equal(await withPg(config, (c) => readSchemaVersion(c, config.postgres.table)), latest);
  });

  it('a table at version N-1 gets step N: the new column on the existing table, every row kept', async () => {
    const { config } = testConfig();
    configs.push(config);
    await migrate(config.postgres, log);
    await insertRows(config, 500);
    const report = await migrate(config.postgres, log, undefined, [...SCHEMA_STEPS, addColumn]);
    assert.deepEqual(report.applied, [`${latest + 1} add column venue_region`]);
    assert.equal(report.schemaVersion, latest + 1);
    assert.ok((await columnsOf(config)).includes('venue_region'));
    const rows = await withPg(config, async (c) => (await c.query<{ n: string; s: string }>(
      `SELECT count(*) AS n, sum(src_offset) AS s FROM ${config.postgres.table}`)).rows[0]!);
    assert.deepEqual(rows, { n: '500', s: String((500 * 501) / 2) });
    // The same table through the release that knows only N-1: refused, not written into.
    await assert.rejects(migrate(config.postgres, log), new RegExp(`schema version ${latest + 1} is newer than this himari-l0 knows \\(${latest}\\)`));
  });

  it('an unversioned table made before versions were recorded adopts step 1 unchanged', async () => {
    const { config } = testConfig();
    configs.push(config);
    await migrate(config.postgres, log);
    await insertRows(config, 10);
    const before = await columnsOf(config);
    await withPg(config, (c) => c.query(`DELETE FROM ${SCHEMA_VERSION_TABLE} WHERE target = $1`, [config.postgres.table]));
    const report = await migrate(config.postgres, log);
    assert.deepEqual(report.applied, SCHEMA_STEPS.map((s) => `${s.version} ${s.name}`));
    assert.deepEqual(await columnsOf(config), before);
    assert.equal(await withPg(config, async (c) => (await c.query(`SELECT 1 FROM ${config.postgres.table}`)).rowCount), 10);
  });

  it('a failing step rolls back with its record: the version stays, the error names the step', async () => {
    const { config } = testConfig();
    configs.push(config);
    await migrate(config.postgres, log);
    const broken: SchemaStep = {
      version: latest + 1, name: 'add a column, then fail', transactional: true,
      apply: async (c, cfg) => {
        await c.query(`ALTER TABLE ${cfg.table} ADD COLUMN half_done text`);
        await c.query('SELECT no_such_column FROM pg_class');
      },
    };
    await assert.rejects(migrate(config.postgres, log, undefined, [...SCHEMA_STEPS, broken]),
      new RegExp(`schema step ${latest + 1} \\(add a column, then fail\\) failed, version stays ${latest}`));
    assert.equal(await withPg(config, (c) => readSchemaVersion(c, config.postgres.table)), latest);
    assert.ok(!(await columnsOf(config)).includes('half_done'), 'the step\'s DDL rolled back with it');
  });
});
