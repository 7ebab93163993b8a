import pg from 'pg';
import type { PostgresConfig } from '../config/schema.js';
import { pgClientConfig } from '../db/client-config.js';
import { latestSchemaVersion, readSchemaVersion, WATERMARK_TABLE } from '../db/migrate.js';
import { checkProcessorAccess } from '../db/roles.js';
import { seconds, type CheckResult } from './check-result.js';

/**
 * PostgreSQL: connect (a missing database, refused credentials and no answer told apart),
 * TimescaleDB there or not, the schema migrate makes (the event table and how it is stored, the
 * watermark table), and the connecting role's rights on it, as start-up checks them. Read-only:
 * unlike migrate it never installs the extension.
 */
export async function probePostgres(config: PostgresConfig, timeoutMs: number): Promise<CheckResult[]> {
  const target = describeUrl(config.url);
  const client = new pg.Client(pgClientConfig(config, {
    connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, statement_timeout: timeoutMs, application_name: 'himari-l0-doctor',
  }));
  // A connection dropped by the server after connect is reported by the query that meets it.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    client.end().catch(() => {});
    return [connectFailure(config, target, err as Error & { code?: string }, timeoutMs)];
  }
  try {
    const who = await client.query<{ role: string; db: string; version: string; superuser: boolean }>(
      `SELECT current_user AS role, current_database() AS db, current_setting('server_version') AS version,
         (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`);
    const { role, db, version, superuser } = who.rows[0]!;
    const results: CheckResult[] = [{ name: 'postgres', status: 'ok', detail: `connected to ${target.host}/${db} as ${role}; PostgreSQL ${version}` }];
    results.push(await timescaleResult(client));
    const schema = await schemaResult(client, config);
    results.push(schema.result);
    if (schema.exists) results.push(...await rightsResults(client, config, role, superuser));
    return results;
  } catch (err) {
    return [{ name: 'postgres', status: 'fail', detail: `${target.host}: ${(err as Error).message}` }];
  } finally {
    await client.end().catch(() => {});
  }
}

function connectFailure(config: PostgresConfig, target: { host: string; db: string; user: string }, err: Error & { code?: string }, timeoutMs: number): CheckResult {
  const code = err.code ?? '';
  const at = `${target.host} (sslMode ${config.sslMode})`;
  if (code === '3D000') {
    return { name: 'postgres', status: 'fail', detail: `database ${target.db} does not exist at ${target.host}`, fix: `create it (createdb ${target.db}, or CREATE DATABASE ${target.db} as a role that may), then run 'himari-l0 migrate'; or fix the database in postgres.url` };
  }
  if (code === '28P01') {
    return { name: 'postgres', status: 'fail', detail: `${at} refused the password of ${target.user} (${err.message})`, fix: 'check postgres.password (HIMARI_POSTGRES_PASSWORD) or the password in postgres.url' };
  }
  if (code.startsWith('28')) {
    return { name: 'postgres', status: 'fail', detail: `${at} refused ${target.user} (${err.message})`, fix: 'check the user in postgres.url exists (CREATE ROLE ... LOGIN), and that pg_hba.conf has an entry for this host, user, database and postgres.sslMode' };
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code) || /does not support SSL|certificate/i.test(err.message)) {
    return { name: 'postgres', status: 'fail', detail: `TLS to ${at} failed (${err.message})`, fix: 'check postgres.sslMode and postgres.sslCaFile (the CA that signed the server\'s certificate)' };
  }
  return { name: 'postgres', status: 'fail', detail: `no answer at ${at} within ${seconds(timeoutMs)} (${err.message || code})`, fix: 'is PostgreSQL running? check postgres.url (host, port) and listen_addresses' };
}

/** Looks only: migrate installs the extension when it can, the doctor never does. */
async function timescaleResult(c: pg.Client): Promise<CheckResult> {
  const name = 'postgres timescaledb';
  const installed = await c.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'timescaledb'`);
  if (installed.rowCount! > 0) return { name, status: 'ok', detail: `installed (${installed.rows[0]!.v}): hypertable storage` };
  const available = await c.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'`);
  if (available.rowCount === 0) return { name, status: 'ok', detail: 'not available: plain PostgreSQL storage (daily range partitions)' };
  // A preloaded library registers its settings (timescaledb.*), which every role sees.
  const preloaded = await c.query(`SELECT 1 FROM pg_settings WHERE name LIKE 'timescaledb.%' LIMIT 1`);
  if (preloaded.rowCount === 0) {
    return { name, status: 'warn', detail: 'packaged on the server but not preloaded, so migrate uses plain PostgreSQL (daily range partitions)', fix: 'to use it: add timescaledb to shared_preload_libraries in postgresql.conf, restart PostgreSQL, then run \'himari-l0 migrate\' on an empty database' };
  }
  return { name, status: 'ok', detail: 'available and preloaded, not installed in this database: migrate installs it' };
}

async function schemaResult(c: pg.Client, config: PostgresConfig): Promise<{ exists: boolean; result: CheckResult }> {
  const name = 'postgres schema';
  const t = config.table;
  const rel = await c.query<{ kind: string; owner: string; parts: string; watermarks: boolean }>(
    `SELECT c.relkind AS kind, pg_get_userbyid(c.relowner) AS owner,
       (SELECT count(*) FROM pg_inherits WHERE inhparent = c.oid) AS parts,
       to_regclass($2) IS NOT NULL AS watermarks
     FROM pg_class c WHERE c.oid = to_regclass($1)`, [t, WATERMARK_TABLE]);
  const row = rel.rows[0];
  // Migrations are idempotent CREATE ... IF NOT EXISTS and record no version: what is there is the state.
  if (row === undefined || !row.watermarks) {
    const missing = row === undefined ? `table ${t}` : `table ${WATERMARK_TABLE}`;
    return {
      exists: false,
      result: config.migrateOnStart
        ? { name, status: 'warn', detail: `${missing} does not exist yet`, fix: 'the processor creates it at start (postgres.migrateOnStart), or run \'himari-l0 migrate\' now' }
        : { name, status: 'fail', detail: `${missing} does not exist and postgres.migrateOnStart is off`, fix: 'run \'himari-l0 migrate\' (as the schema\'s owner; --grant-to ROLE for the processor\'s role)' },
    };
  }
  let storage: string;
  if (row.kind === 'p') {
    storage = `partitioned by day (${row.parts} partitions)`;
  } else {
    const ht = await c.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`).then(async (ext) =>
      ext.rowCount! > 0 && (await c.query('SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = $1', [t])).rowCount! > 0);
    if (!ht) {
      return { exists: false, result: { name, status: 'fail', detail: `table ${t} exists but is neither partitioned nor a hypertable, so migrate did not make it`, fix: 'point postgres.table at a table of its own, or drop this one and run \'himari-l0 migrate\'' } };
    }
    storage = `TimescaleDB hypertable (${row.parts} chunks)`;
  }
  const detail = `table ${t}: ${storage}, owner ${row.owner}; watermarks ${WATERMARK_TABLE} present`;
  const latest = latestSchemaVersion();
  let version: number;
  try {
    version = await readSchemaVersion(c, t);
  } catch (err) {
    return { exists: true, result: { name, status: 'warn', detail: `${detail}; schema version not readable (${(err as Error).message})`, fix: `grant the role SELECT on the schema versions ('himari-l0 migrate --grant-to ROLE')` } };
  }
  if (version === latest) return { exists: true, result: { name, status: 'ok', detail: `${detail}; schema version ${version}, this release's` } };
  if (version > latest) {
    return { exists: true, result: { name, status: 'fail', detail: `${detail}; schema version ${version}, newer than this release knows (${latest})`, fix: 'run the newer himari-l0 release that migrated it' } };
  }
  const behind = version === 0 ? `no schema version recorded (made before versioned migrations), this release writes ${latest}` : `schema version ${version}, this release writes ${latest}`;
  return {
    exists: true,
    result: config.migrateOnStart
      ? { name, status: 'warn', detail: `${detail}; ${behind}`, fix: 'the processor migrates it at start (postgres.migrateOnStart), or run \'himari-l0 migrate\' now' }
      : { name, status: 'fail', detail: `${detail}; ${behind}`, fix: 'run \'himari-l0 migrate\' as the schema\'s owner (postgres.migrateOnStart is off)' },
  };
}

async function rightsResults(c: pg.Client, config: PostgresConfig, role: string, superuser: boolean): Promise<CheckResult[]> {
  const name = 'postgres rights';
  const results: CheckResult[] = [];
  try {
    await checkProcessorAccess(c, config);
    results.push({ name, status: 'ok', detail: `role ${role} may insert into ${config.table}, advance the watermarks and call their functions` });
  } catch (err) {
    // checkProcessorAccess says "PostgreSQL: <what is missing>: run '...'".
    const message = (err as Error).message.replace(/^PostgreSQL: /, '');
    // It checks the version after the rights: a version mismatch means the rights are there
    // (the schema line reports the version).
    if (/is at schema version/.test(message)) {
      results.push({ name, status: 'ok', detail: `role ${role} may insert into ${config.table}, advance the watermarks and call their functions` });
      return results;
    }
    const at = message.indexOf(': run \'');
    results.push(at < 0 ? { name, status: 'fail', detail: message } : { name, status: 'fail', detail: message.slice(0, at), fix: message.slice(at + 2) });
    return results;
  }
  if (config.migrateOnStart && !superuser) {
    const owner = await c.query<{ owns: boolean }>('SELECT pg_has_role(current_user, c.relowner, \'USAGE\') AS owns FROM pg_class c WHERE c.oid = to_regclass($1)', [config.table]);
    if (owner.rows[0]?.owns !== true) {
      results.push({
        name: 'postgres migrate at start', status: 'fail', detail: `postgres.migrateOnStart is on but role ${role} does not own ${config.table}, so the migration at start fails`,
        fix: 'set postgres.migrateOnStart=false (the role has what the processor needs), or connect as the schema\'s owner',
      });
    }
  }
  return results;
}

/** Host, database and user of the URL, never the password. */
function describeUrl(url: string): { host: string; db: string; user: string } {
  try {
    const u = new URL(url);
    return { host: `${u.hostname}:${u.port || '5432'}`, db: decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username) || 'postgres', user: decodeURIComponent(u.username) || 'postgres' };
  } catch {
    return { host: 'PostgreSQL', db: '?', user: '?' };
  }
}
