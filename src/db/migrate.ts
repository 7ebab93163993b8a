import pg from 'pg';
import type { Logger } from 'pino';
import type { PostgresConfig } from '../config/schema.js';
import { EVENT_COLUMNS } from '../sinks/pg-row.js';
import { ErrorCode, HimariError, errorMessage } from '../errors.js';
import { connectPostgres } from './client-config.js';
import { installPartitionMaintenance, maintainPartitions } from './partitions.js';

/** Per-partition applied-offset watermarks, written in the same transaction as each COPY. */
export const WATERMARK_TABLE = 'himari_sink_offsets';
/**
 * Locks a batch's watermark rows before its COPY and refuses the batch when another writer has
 * moved one past the first offset the batch writes (see `PostgresSink`).
 */
export const CLAIM_WATERMARKS = 'himari_claim_watermarks';
/** SQLSTATE `CLAIM_WATERMARKS` raises: a watermark moved under the writer (its cache was stale). */
export const WATERMARK_MOVED_SQLSTATE = 'HLW01';

/** Which numbered schema steps each event table has had (`target` = the event table). */
export const SCHEMA_VERSION_TABLE = 'himari_schema_versions';

export type StorageMode = 'timescaledb' | 'partitioned';

export interface MigrationReport {
  mode: StorageMode;
  created: string[];
  dropped: string[];
  /** Plain-PostgreSQL path: rows of the default partition past the retention, deleted. */
  purgedFromDefault?: number;
  /** The schema version after this run (the highest step applied). */
  schemaVersion?: number;
  /** Steps this run applied (`N name`), oldest first; empty when the schema was current. */
  applied?: string[];
}

/**
 * One numbered schema change. Steps run in order, once per event table, each recorded in
 * `SCHEMA_VERSION_TABLE`; a step with `transactional` runs in one transaction with its record, so
 * a failed step leaves the version where it was. Never edit a step that has shipped: add one.
 */
export interface SchemaStep {
  version: number;
  name: string;
  /** False for DDL PostgreSQL or TimescaleDB refuse inside a transaction (continuous aggregates). */
  transactional: boolean;
  apply(c: pg.ClientBase, config: PostgresConfig, storage: { timescale: boolean }): Promise<void>;
}

/**
 * The schema's steps. Step 1 is the schema as it was before versions were recorded; it is
 * idempotent (IF NOT EXISTS throughout), so a table made by an unversioned migrate adopts it
 * unchanged. Routines and views are not steps: migrate replaces them on every run.
 */
export const SCHEMA_STEPS: readonly SchemaStep[] = [
  {
    version: 1,
    name: 'event table with its storage path (hypertable with compression, retention and 1-minute bars, or daily partitions)',
    transactional: false,
    apply: async (c, config, { timescale }) => {
      const t = config.table;
      if (timescale) {
        await c.query(eventTableDdl(t, false));
        // One-hour chunks: at ~50k events/s a chunk is ~180M rows before compression; queries on
        // the last minutes touch one chunk.
        await c.query(`SELECT create_hypertable('${t}', by_range('ts', INTERVAL '1 hour'), if_not_exists => TRUE)`);
        await c.query(`CREATE INDEX IF NOT EXISTS ${t}_symbol_ts ON ${t} (symbol, ts DESC)`);
        await c.query(`ALTER TABLE ${t} SET (timescaledb.compress, timescaledb.compress_segmentby = 'venue, symbol', timescaledb.compress_orderby = 'ts')`);
        // Compress well after any possible replay: ON CONFLICT / late writes into compressed
        // chunks are slow and historically buggy.
        await c.query(`SELECT add_compression_policy('${t}', INTERVAL '1 day', if_not_exists => TRUE)`);
        await c.query(`SELECT add_retention_policy('${t}', INTERVAL '${config.retentionDays} days', if_not_exists => TRUE)`);
        // Bars are built from accepted and flagged trades (rejected prints are bad ticks);
        // `flagged` counts the trades that carried a flag.
        await c.query(`CREATE MATERIALIZED VIEW IF NOT EXISTS ${t}_bars_1m WITH (timescaledb.continuous) AS
          SELECT time_bucket(INTERVAL '1 minute', ts) AS bucket, venue, symbol,
            first(price, ts) AS open, max(price) AS high, min(price) AS low, last(price, ts) AS close,
            sum(size) AS volume, count(*) AS trades, count(*) FILTER (WHERE verdict = 1) AS flagged
          FROM ${t} WHERE type = 'trade' AND verdict <> 2
          GROUP BY bucket, venue, symbol WITH NO DATA`);
        await c.query(`SELECT add_continuous_aggregate_policy('${t}_bars_1m', start_offset => INTERVAL '1 hour',
          end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE)`);
      } else {
        await c.query(eventTableDdl(t, true));
        // Events whose time falls outside every daily partition (replayed history, bad clocks) land here.
        await c.query(`CREATE TABLE IF NOT EXISTS ${t}_default PARTITION OF ${t} DEFAULT`);
        await c.query(`CREATE INDEX IF NOT EXISTS ${t}_symbol_ts ON ${t} (symbol, ts DESC)`);
      }
    },
  },
];

/** The version the steps lead to. */
export function latestSchemaVersion(steps: readonly SchemaStep[] = SCHEMA_STEPS): number {
  return steps.reduce((v, s) => Math.max(v, s.version), 0);
}

/**
 * The recorded schema version of an event table: 0 when the versions table or the table's rows
 * are missing (an unversioned or absent schema).
 */
export async function readSchemaVersion(c: pg.ClientBase, table: string): Promise<number> {
  const exists = await c.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [SCHEMA_VERSION_TABLE]);
  if (exists.rows[0]!.t === null) return 0;
  const r = await c.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${SCHEMA_VERSION_TABLE} WHERE target = $1`, [table]);
  return r.rows[0]!.v ?? 0;
}

function eventTableDdl(table: string, partitioned: boolean): string {
  const cols = EVENT_COLUMNS.map(([name, type]) => `  ${name} ${type}`).join(',\n');
  return `CREATE TABLE IF NOT EXISTS ${table} (\n${cols},\n  ingested_at timestamptz NOT NULL DEFAULT now()\n)${partitioned ? ' PARTITION BY RANGE (ts)' : ''}`;
}

/** True when the TimescaleDB extension is installed or can be (it must also be preloaded). */
export async function detectTimescale(client: pg.ClientBase): Promise<boolean> {
  const installed = await client.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`);
  if (installed.rowCount! > 0) return true;
  const available = await client.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'`);
  if (available.rowCount === 0) return false;
  // Installed but not preloaded: CREATE EXTENSION would fail with FATAL and drop the connection
  // (seen with 2.24), so look first. Not at shared_preload_libraries: only superusers and
  // pg_read_all_settings may read it, and a schema owner is usually neither. A preloaded library
  // registers its settings (timescaledb.*), which every role sees in pg_settings.
  const preloaded = await client.query(`SELECT 1 FROM pg_settings WHERE name LIKE 'timescaledb.%' LIMIT 1`);
  if (preloaded.rowCount === 0) return false;
  await client.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
  return true;
}

/**
 * Brings the schema to the latest version; idempotent. Applies the numbered steps the table has
 * not had (`SCHEMA_STEPS`, recorded in `SCHEMA_VERSION_TABLE`), then replaces the routines and
 * views. With TimescaleDB: a hypertable with compression, retention and a continuous aggregate of
 * 1-minute bars. Without: native range partitioning by day, a default partition for
 * out-of-range times, partitions created ahead and dropped after the retention, and a plain view
 * of 1-minute bars. `steps` is for tests of the mechanism.
 */
export async function migrate(config: PostgresConfig, log: Logger, client?: pg.ClientBase, steps: readonly SchemaStep[] = SCHEMA_STEPS): Promise<MigrationReport> {
  const own = client === undefined ? await connectPostgres(config) : null;
  const c = client ?? own!;
  try {
    // One migrator at a time (several processors may start together).
    await c.query('SELECT pg_advisory_lock(hashtext($1))', [`himari-migrate:${config.table}`]);
    try {
      await c.query(`CREATE TABLE IF NOT EXISTS ${WATERMARK_TABLE} (
        target text NOT NULL, topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (target, topic, partition))`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA_VERSION_TABLE} (
        target text NOT NULL, version integer NOT NULL, name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (target, version))`);
      await c.query(claimWatermarksDdl());
      const timescale = await detectTimescale(c);
      const applied = await applySteps(c, config, steps, { timescale });
      // The path the table took when it was made, whatever the server offers now.
      const kind = await c.query<{ k: string }>('SELECT relkind AS k FROM pg_class WHERE oid = to_regclass($1)', [config.table]);
      const report: MigrationReport = kind.rows[0]?.k === 'p' ? await migratePartitioned(c, config) : { mode: 'timescaledb', created: [], dropped: [] };
      report.schemaVersion = latestSchemaVersion(steps);
      report.applied = applied;
      if (config.uniqueSourceIndex) {
        await c.query(`CREATE UNIQUE INDEX IF NOT EXISTS ${config.table}_src_unique ON ${config.table} (src_partition, src_offset, ts)`);
      }
      log.info(report, 'schema ready');
      return report;
    } finally {
      await c.query('SELECT pg_advisory_unlock(hashtext($1))', [`himari-migrate:${config.table}`]);
    }
  } finally {
    if (own !== null) await own.end();
  }
}

/**
 * The guard that makes a partition's rows exact whoever writes them: a processor that took the
 * partition over from a dead owner, or a late owner whose partition was already handed on. Each
 * batch calls it first, in its own transaction, with the first offset it writes per partition.
 * The rows it locks stay locked until the batch commits, so a second writer of the same partition
 * waits, then sees the watermark the first one committed and is refused with `HLW01` (the sink
 * re-reads its watermarks and retries without the rows already there). A missing row is
 * inserted at the batch's first offset (a concurrent insert of the same row waits for the other
 * transaction, then finds its row). A procedure, not a function: `CALL` returns no rows, which
 * the COPY stream that carries the batch's query would not know what to do with.
 */
function claimWatermarksDdl(): string {
  return `CREATE OR REPLACE PROCEDURE ${CLAIM_WATERMARKS}(p_target text, p_topics text[], p_partitions integer[], p_first bigint[])
  LANGUAGE plpgsql AS $$
  DECLARE
    i integer;
    stored bigint;
  BEGIN
    FOR i IN 1 .. coalesce(array_length(p_topics, 1), 0) LOOP
      SELECT next_offset INTO stored FROM ${WATERMARK_TABLE}
        WHERE target = p_target AND topic = p_topics[i] AND partition = p_partitions[i] FOR UPDATE;
      IF NOT FOUND THEN
        INSERT INTO ${WATERMARK_TABLE} (target, topic, partition, next_offset)
          VALUES (p_target, p_topics[i], p_partitions[i], p_first[i]) ON CONFLICT DO NOTHING;
        SELECT next_offset INTO stored FROM ${WATERMARK_TABLE}
          WHERE target = p_target AND topic = p_topics[i] AND partition = p_partitions[i] FOR UPDATE;
      END IF;
      IF stored > p_first[i] THEN
        RAISE EXCEPTION 'watermark of %[%] in % is at %, past this batch''s first offset %',
          p_topics[i], p_partitions[i], p_target, stored, p_first[i]
          USING ERRCODE = '${WATERMARK_MOVED_SQLSTATE}';
      END IF;
    END LOOP;
  END $$`;
}

/**
 * Applies the steps above the table's recorded version, in order. A database newer than these
 * steps (a newer himari-l0 migrated it) is left alone with an error: an older processor must not
 * write into a schema it does not know.
 */
async function applySteps(c: pg.ClientBase, config: PostgresConfig, steps: readonly SchemaStep[], storage: { timescale: boolean }): Promise<string[]> {
  const current = await readSchemaVersion(c, config.table);
  const latest = latestSchemaVersion(steps);
  if (current > latest) {
    throw new HimariError(ErrorCode.CONFIG_INVALID, `${config.table}: schema version ${current} is newer than this himari-l0 knows (${latest}): run the newer release, or its migrate, not this one`);
  }
  const applied: string[] = [];
  for (const step of [...steps].sort((a, b) => a.version - b.version)) {
    if (step.version <= current) continue;
    const record = () => c.query(`INSERT INTO ${SCHEMA_VERSION_TABLE} (target, version, name) VALUES ($1, $2, $3)`, [config.table, step.version, step.name]);
    if (step.transactional) {
      await c.query('BEGIN');
      try {
        await step.apply(c, config, storage);
        await record();
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {});
        throw new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `${config.table}: schema step ${step.version} (${step.name}) failed, version stays ${step.version - 1}: ${errorMessage(err)}`, { cause: err });
      }
    } else {
      await step.apply(c, config, storage);
      await record();
    }
    applied.push(`${step.version} ${step.name}`);
  }
  return applied;
}

async function migratePartitioned(c: pg.ClientBase, config: PostgresConfig): Promise<MigrationReport> {
  const t = config.table;
  await c.query(`CREATE OR REPLACE VIEW ${t}_bars_1m AS
    SELECT date_trunc('minute', ts) AS bucket, venue, symbol,
      (array_agg(price ORDER BY ts, src_offset))[1] AS open, max(price) AS high, min(price) AS low,
      (array_agg(price ORDER BY ts DESC, src_offset DESC))[1] AS close,
      sum(size) AS volume, count(*) AS trades, count(*) FILTER (WHERE verdict = 1) AS flagged
    FROM ${t} WHERE type = 'trade' AND verdict <> 2
    GROUP BY 1, 2, 3`);
  await installPartitionMaintenance(c, config);
  const maintained = await maintainPartitions(c, config);
  return { mode: 'partitioned', ...maintained };
}

/**
 * Creates the database `postgres.url` names when it does not exist (a load test's or benchmark's
 * own database on a fresh machine); `postgres` and an empty name are left alone. Connects to the
 * `postgres` database with the same credentials and TLS as every other connection.
 */
export async function ensureDatabase(postgres: PostgresConfig): Promise<void> {
  const u = new URL(postgres.url);
  const db = decodeURIComponent(u.pathname.slice(1));
  if (db === '' || db === 'postgres') return;
  if (!/^[a-z_][a-z0-9_]*$/.test(db)) throw new HimariError(ErrorCode.CONFIG_INVALID, `database name ${db} must be a plain identifier`);
  u.pathname = '/postgres';
  const c = await connectPostgres({ ...postgres, url: u.toString() });
  try {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
    if (r.rowCount === 0) await c.query(`CREATE DATABASE ${db}`);
  } finally {
    await c.end();
  }
}
