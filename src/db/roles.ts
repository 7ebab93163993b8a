import type pg from 'pg';
import type { PostgresConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import { CLAIM_WATERMARKS, SCHEMA_VERSION_TABLE, WATERMARK_TABLE, latestSchemaVersion, readSchemaVersion, type MigrationReport, type StorageMode } from './migrate.js';
import { MAINTAIN_PARTITIONS_FUNCTION } from './partitions.js';

/**
 * The least-privilege processor. Migrate runs as the schema's owner; the processor can connect
 * as a role that may only do what it does:
 * - USAGE on the schema (to name what is in it),
 * - SELECT and INSERT on the event table (COPY into it; reads for operators' checks). Rows reach
 *   the daily partitions (or TimescaleDB's chunks) through the parent, and PostgreSQL checks
 *   the parent's privileges only, so partitions made later need no grant,
 * - SELECT, INSERT and UPDATE on the watermark table (read and advance its watermarks),
 * - SELECT on the schema versions (start-up checks the schema is the one it writes),
 * - EXECUTE on the schema's functions and procedures, now and later (default privileges): the watermark claim, the partition
 *   maintenance function, which runs with the owner's rights but only by the owner's policy
 *   (partitions.ts), and whatever migrate adds later.
 * No DELETE, UPDATE, TRUNCATE or DDL on the events: a compromised processor can add rows but
 * not destroy history.
 */
export async function grantProcessorRole(c: pg.ClientBase, config: PostgresConfig, role: string): Promise<string[]> {
  const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  if (exists.rowCount === 0) {
    throw new HimariError(ErrorCode.CONFIG_INVALID, `role ${role} does not exist: create it first (CREATE ROLE ${role} LOGIN PASSWORD '...'), then grant to it`);
  }
  const schema = quoteIdent((await c.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s);
  const statements = [
    `GRANT USAGE ON SCHEMA ${schema} TO ${role}`,
    `GRANT SELECT, INSERT ON TABLE ${config.table} TO ${role}`,
    `GRANT SELECT, INSERT, UPDATE ON TABLE ${WATERMARK_TABLE} TO ${role}`,
    `GRANT SELECT ON TABLE ${SCHEMA_VERSION_TABLE} TO ${role}`,
    `GRANT EXECUTE ON ALL ROUTINES IN SCHEMA ${schema} TO ${role}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT EXECUTE ON ROUTINES TO ${role}`,
  ];
  for (const sql of statements) await c.query(sql);
  return statements;
}

/**
 * Start-up without migrate (`postgres.migrateOnStart` off): the schema must be there and this
 * connection's role must be allowed what the processor does, or start-up stops naming what is
 * missing, instead of every write failing and being retried for ever.
 */
export async function checkProcessorAccess(c: pg.ClientBase, config: PostgresConfig): Promise<MigrationReport> {
  const t = config.table;
  const who = (await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
  const fix = `run 'himari-l0 migrate --grant-to ${who}' as the schema's owner`;
  const rel = await c.query<{ kind: string; events: boolean; watermarks: boolean | null }>(
    // has_table_privilege with a list is true when any one is held: each is asked on its own.
    `SELECT c.relkind AS kind, has_table_privilege(c.oid, 'INSERT') AND has_table_privilege(c.oid, 'SELECT') AS events,
       (SELECT has_table_privilege(w, 'SELECT') AND has_table_privilege(w, 'INSERT') AND has_table_privilege(w, 'UPDATE') FROM to_regclass($2) w) AS watermarks
     FROM pg_class c WHERE c.oid = to_regclass($1)`, [t, WATERMARK_TABLE]);
  const row = rel.rows[0];
  if (row === undefined || row.watermarks === null) {
    throw accessError(`table ${row === undefined ? t : WATERMARK_TABLE} does not exist (postgres.migrateOnStart is off): ${fix}`);
  }
  const problems: string[] = [];
  if (!row.events) problems.push(`insert into and read ${t}`);
  if (!row.watermarks) problems.push(`read, insert and update ${WATERMARK_TABLE}`);
  // Every batch calls the watermark claim (a procedure: ALL FUNCTIONS grants would leave it out).
  const claim = await c.query<{ ok: boolean | null }>(
    `SELECT has_function_privilege(p.oid, 'EXECUTE') AS ok FROM pg_proc p WHERE p.oid = to_regprocedure($1)`, [`${CLAIM_WATERMARKS}(text,text[],integer[],bigint[])`]);
  if (claim.rows[0]?.ok !== true) problems.push(`call ${CLAIM_WATERMARKS}`);
  let mode: StorageMode;
  if (row.kind === 'p') {
    mode = 'partitioned';
    const fn = await c.query<{ ok: boolean | null }>(
      `SELECT has_function_privilege(p.oid, 'EXECUTE') AS ok FROM pg_proc p WHERE p.oid = to_regprocedure($1)`, [`${MAINTAIN_PARTITIONS_FUNCTION}(text)`]);
    if (fn.rows[0]?.ok !== true) problems.push(`run ${MAINTAIN_PARTITIONS_FUNCTION}(text)`);
  } else if (await isHypertable(c, t)) {
    mode = 'timescaledb';
  } else {
    throw accessError(`table ${t} is neither partitioned nor a hypertable, so migrate did not make it: ${fix}`);
  }
  const versions = await c.query<{ ok: boolean | null }>(`SELECT has_table_privilege(v, 'SELECT') AS ok FROM to_regclass($1) v`, [SCHEMA_VERSION_TABLE]);
  if (versions.rows[0]?.ok === false) problems.push(`read ${SCHEMA_VERSION_TABLE}`);
  if (problems.length > 0) throw accessError(`role ${who} may not ${problems.join(', nor ')}: ${fix}`);
  const version = await readSchemaVersion(c, t);
  const latest = latestSchemaVersion();
  if (version !== latest) {
    throw accessError(version < latest
      ? `${t} is at schema version ${version}, this himari-l0 writes version ${latest}: run 'himari-l0 migrate' as the schema's owner`
      : `${t} is at schema version ${version}, newer than this himari-l0 knows (${latest}): run the newer release`);
  }
  return { mode, created: [], dropped: [], schemaVersion: version, applied: [] };
}

async function isHypertable(c: pg.ClientBase, table: string): Promise<boolean> {
  // Only looks (detectTimescale would install the extension): this role could not, and it is migrate's job.
  const ext = await c.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`);
  if (ext.rowCount === 0) return false;
  const ht = await c.query('SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = $1', [table]);
  return ht.rowCount! > 0;
}

function accessError(message: string): HimariError {
  return new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `PostgreSQL: ${message}`, { retriable: false });
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
