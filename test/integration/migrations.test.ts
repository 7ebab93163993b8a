import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { SCHEMA_STEPS, SCHEMA_VERSION_TABLE, latestSchemaVersion, migrate, readSchemaVersion, type SchemaStep } from '../../src/db/migrate.js';
import { maintainPartitions } from '../../src/db/partitions.js';
import { storageDocQueries } from '../helpers/doc-queries.js';
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

describe('partitioned layout and retention (real PostgreSQL)', { timeout: 60_000 }, () => {
  const { config } = testConfig();
  after(async () => { await cleanup(config); });

  it('run twice in a row without error and create the partitioned layout', async () => {
    const first = await migrate(config.postgres, log);
    const second = await migrate(config.postgres, log);
    assert.equal(second.mode, first.mode);
    assert.deepEqual(second.created, []);
    if (first.mode !== 'partitioned') return; // the TimescaleDB path: test/integration/timescaledb.test.ts
    assert.equal(first.created.length, config.postgres.partitionsAheadDays + 2);
    await withPg(config, async (c) => {
      const parts = await c.query(`SELECT count(*)::int AS n FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1`, [config.postgres.table]);
      assert.equal(parts.rows[0].n, config.postgres.partitionsAheadDays + 3, 'daily partitions + default');
      const view = await c.query(`SELECT count(*)::int AS n FROM ${config.postgres.table}_bars_1m`);
      assert.equal(view.rows[0].n, 0);
    });
  });

  it('the example queries of docs/storage.md run on this path', async () => {
    const { config: cfg } = testConfig();
    try {
      assert.equal((await migrate(cfg.postgres, pino({ level: 'silent' }))).mode, 'partitioned');
      await withPg(cfg, async (c) => { for (const q of storageDocQueries(cfg.postgres.table)) await c.query(q); });
    } finally {
      await cleanup(cfg);
    }
  });

  it('retention covers everything: expired daily partitions are dropped and the default partition\'s expired rows deleted', async () => {
    const { config: cfg } = testConfig({ HIMARI_POSTGRES_RETENTION_DAYS: '7' });
    try {
      assert.equal((await migrate(cfg.postgres, log)).mode, 'partitioned');
      const t = cfg.postgres.table;
      await withPg(cfg, async (c) => {
        // A daily partition 10 days old (as if made back then), and rows no daily partition covers:
        // replayed history 40 and 3 days old, and one from the far future (a bad clock).
        const old = (await c.query<{ d: string }>(`SELECT to_char(current_date - 10, 'YYYYMMDD') AS d`)).rows[0]!.d;
        await c.query(`CREATE TABLE ${t}_p${old} PARTITION OF ${t} FOR VALUES FROM ('${old}') TO ('${old}'::date + 1)`);
        const row = (ts: string, offset: number) => c.query(`INSERT INTO ${t} (ts, recv_ts, venue, symbol, type, verdict, failed_checks, quality, src_partition, src_offset)
          VALUES (${ts}, now(), 'binance', 'BTC-USDT', 'trade', 0, 0, 1, 0, ${offset})`);
        await row(`'${old}'::timestamptz + interval '1 hour'`, 1);
        await row(`now() - interval '40 days'`, 2);
        await row(`now() - interval '39 days'`, 3);
        await row(`now() - interval '3 days'`, 4);
        await row(`now() + interval '400 days'`, 5);
        assert.equal((await c.query(`SELECT count(*)::int AS n FROM ${t}_default`)).rows[0].n, 4);
        const report = await maintainPartitions(c, cfg.postgres);
        assert.deepEqual(report.dropped, [`${t}_p${old}`]);
        assert.equal(report.purgedFromDefault, 2);
        const left = await c.query(`SELECT src_offset::int AS o FROM ${t} ORDER BY 1`);
        assert.deepEqual(left.rows.map((r) => r.o), [4, 5], 'the 3-day-old and the future row stay');
        // Nothing more to do the second time.
        const again = await maintainPartitions(c, cfg.postgres);
        assert.deepEqual([again.dropped, again.purgedFromDefault], [[], 0]);
      });
    } finally {
      await cleanup(cfg);
    }
  });
});
