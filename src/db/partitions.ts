import type pg from 'pg';
import type { PostgresConfig } from '../config/schema.js';

/** What each table's daily partitions follow: written by migrate (the owner), read by the function. */
export const PARTITION_POLICY_TABLE = 'himari_partition_policy';
/** The maintenance function; SECURITY DEFINER, so a least-privilege processor can run it. */
export const MAINTAIN_PARTITIONS_FUNCTION = 'himari_maintain_partitions';

/**
 * Daily partitions are created and dropped by one SQL function owned by the schema's owner and
 * running with the owner's rights (SECURITY DEFINER). The processor's role may call it (it has
 * EXECUTE, see roles.ts) but can only make it apply the policy the owner wrote at migrate time:
 * the function takes nothing but the table's name, and reads how far ahead to create and how long
 * to keep from `himari_partition_policy`, which the processor cannot write. So a processor that
 * must not create or drop tables still keeps its partitions current, and cannot drop more than
 * the retention says.
 *
 * Per call: partitions from yesterday to `ahead_days` ahead (UTC days) are created, rows already
 * in the default partition for a new day moved into it (or the attach would fail), partitions
 * older than `retention_days` dropped, and rows of the default partition older than it deleted. One maintainer at a time per table (advisory lock).
 */
function maintainFunctionDdl(schema: string): string {
  return `CREATE OR REPLACE FUNCTION ${MAINTAIN_PARTITIONS_FUNCTION}(target text)
RETURNS TABLE (action text, part_name text)
LANGUAGE plpgsql SECURITY DEFINER
-- A SECURITY DEFINER function must not resolve names through the caller's search_path.
SET search_path = ${schema}, pg_temp
SET TimeZone = 'UTC'
AS $fn$
DECLARE
  policy ${PARTITION_POLICY_TABLE}%ROWTYPE;
  today date := current_date;
  d date;
  part text;
  expired record;
  purged bigint;
BEGIN
  SELECT * INTO policy FROM ${PARTITION_POLICY_TABLE} p WHERE p.target = ${MAINTAIN_PARTITIONS_FUNCTION}.target;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no partition policy for table %: run himari-l0 migrate for it', target USING ERRCODE = 'undefined_object';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('himari-partitions:' || target));
  FOR i IN -1 .. policy.ahead_days LOOP
    d := today + i;
    part := target || '_p' || to_char(d, 'YYYYMMDD');
    CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
    -- Rows already in the default partition for this day move into the new one, or the attach
    -- (which checks the default partition) would fail.
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', part, target);
    EXECUTE format('WITH moved AS (DELETE FROM %I WHERE ts >= $1 AND ts < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved',
      target || '_default', part) USING d::timestamptz, (d + 1)::timestamptz;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', target, part, d::timestamptz, (d + 1)::timestamptz);
    action := 'created'; part_name := part; RETURN NEXT;
  END LOOP;
  FOR expired IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = to_regclass(quote_ident(target)) AND c.relname ~ '_p[0-9]{8}$'
      AND c.relname < target || '_p' || to_char(today - policy.retention_days, 'YYYYMMDD')
  LOOP
    EXECUTE format('DROP TABLE %I', expired.relname);
    action := 'dropped'; part_name := expired.relname; RETURN NEXT;
  END LOOP;
  -- The default partition holds what no daily partition covers (replayed history, bad clocks):
  -- the retention applies to its rows too, or they would be kept for ever.
  IF to_regclass(quote_ident(target || '_default')) IS NOT NULL THEN
    EXECUTE format('DELETE FROM %I WHERE ts < $1', target || '_default') USING (today - policy.retention_days)::timestamptz;
    GET DIAGNOSTICS purged = ROW_COUNT;
    IF purged > 0 THEN
      action := 'purged'; part_name := target || '_default:' || purged; RETURN NEXT;
    END IF;
  END IF;
END
$fn$`;
}

/**
 * Creates (or replaces) the policy table and the maintenance function and records this table's
 * policy. Run by migrate, as the owner; idempotent.
 */
export async function installPartitionMaintenance(c: pg.ClientBase, config: PostgresConfig): Promise<void> {
  const schema = (await c.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
  await c.query(`CREATE TABLE IF NOT EXISTS ${PARTITION_POLICY_TABLE} (
    target text PRIMARY KEY, ahead_days integer NOT NULL, retention_days integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
  await c.query(maintainFunctionDdl(`"${schema.replaceAll('"', '""')}"`));
  // EXECUTE goes to PUBLIC by default; this one runs with the owner's rights, so only to the
  // roles migrate grants it to (roles.ts).
  await c.query(`REVOKE ALL ON FUNCTION ${MAINTAIN_PARTITIONS_FUNCTION}(text) FROM PUBLIC`);
  await c.query(`INSERT INTO ${PARTITION_POLICY_TABLE} (target, ahead_days, retention_days) VALUES ($1, $2, $3)
    ON CONFLICT (target) DO UPDATE SET ahead_days = EXCLUDED.ahead_days, retention_days = EXCLUDED.retention_days, updated_at = now()`,
  [config.table, config.partitionsAheadDays, config.retentionDays]);
}

/**
 * Creates the daily partitions due and drops those past the retention, by the policy migrate
 * recorded. Safe to run at any time and from any role with EXECUTE (the processor runs it at
 * start and hourly).
 */
export async function maintainPartitions(c: pg.ClientBase, config: PostgresConfig): Promise<{ created: string[]; dropped: string[]; purgedFromDefault: number }> {
  const res = await c.query<{ action: string; part_name: string }>(`SELECT action, part_name FROM ${MAINTAIN_PARTITIONS_FUNCTION}($1)`, [config.table]);
  const purged = res.rows.find((r) => r.action === 'purged');
  return {
    created: res.rows.filter((r) => r.action === 'created').map((r) => r.part_name),
    dropped: res.rows.filter((r) => r.action === 'dropped').map((r) => r.part_name),
    purgedFromDefault: purged === undefined ? 0 : Number(purged.part_name.slice(purged.part_name.lastIndexOf(':') + 1)),
  };
}
