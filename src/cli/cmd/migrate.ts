import { connectPostgres } from '../../db/client-config.js';
import { migrate } from '../../db/migrate.js';
import { grantProcessorRole } from '../../db/roles.js';
import { describeTimescalePolicies } from '../../db/timescale-jobs.js';
import { createLogger } from '../../obs/log.js';
import type { MigrateArgs } from '../commands.js';
import { load } from '../common.js';
import { Progress } from '../progress.js';

export async function cmdMigrate({ values }: MigrateArgs): Promise<void> {
  const config = load(values.config, values['grant-to'] === undefined ? {} : { 'postgres.grantTo': values['grant-to'] });
  const log = createLogger(config.log.level);
  // On a terminal: the step under way and its seconds (the migration lock may be held by another
  // migrator, and a first TimescaleDB migration takes a while).
  const progress = new Progress();
  progress.step(`migrate: creating or updating the schema of ${config.postgres.table}`);
  const report = await migrate(config.postgres, log);
  const role = config.postgres.grantTo;
  const client = await connectPostgres(config.postgres);
  let policies: unknown;
  try {
    if (role !== undefined) progress.step(`migrate: granting ${role} what the processor needs`);
    if (role !== undefined) log.info({ role, statements: await grantProcessorRole(client, config.postgres, role) }, 'processor role granted');
    // Which path is active and what keeps it in shape: TimescaleDB's jobs with their state, or the
    // daily partitions' policy.
    progress.step('migrate: reading the retention and maintenance policies');
    policies = report.mode === 'timescaledb'
      ? await describeTimescalePolicies(client, config.postgres.table)
      : { retentionDays: config.postgres.retentionDays, partitionsAheadDays: config.postgres.partitionsAheadDays, maintainedBy: 'the processor, at start and hourly (himari_maintain_partitions)' };
  } finally {
    await client.end();
    progress.done();
  }
  process.stdout.write(`${JSON.stringify({ ...report, policies, ...(role === undefined ? {} : { grantedTo: role }) })}\n`);
}
