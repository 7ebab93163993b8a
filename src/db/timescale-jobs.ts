import type pg from 'pg';
import type { Logger } from 'pino';
import type { PostgresConfig } from '../config/schema.js';

/** One of the table's TimescaleDB policies, as `timescaledb_information` reports it. */
export interface PolicyJob {
  id: number;
  /** `policy_compression`, `policy_retention`, `policy_refresh_continuous_aggregate`. */
  proc: string;
  scheduleIntervalMs: number;
  /** The background scheduler's last run: `Success`, `Failed`, or null before the first. */
  lastRunStatus: string | null;
  /** When a run of the job last succeeded (any runner), ms since the epoch; 0 never. */
  lastSuccessMs: number;
  /** Failed background runs since the job was created. */
  backgroundFailures: number;
  /** The last background error's message, when the job has one. */
  lastError: string | null;
}

/** Where the keeper reports each job's state (the processor's Prometheus metrics). */
export interface PolicyJobMetrics {
  lastSuccess(policy: string, epochSeconds: number): void;
  backgroundFailures(policy: string, total: number): void;
  foregroundRun(policy: string, ok: boolean): void;
}

/** What a keeper reports after each look (one entry per job). */
export interface PolicyJobReport {
  proc: string;
  lastSuccessMs: number;
  backgroundFailures: number;
  foregroundRuns: number;
  foregroundFailures: number;
}

/** The table's policies and their state (one query). */
export async function readPolicyJobs(c: pg.ClientBase, table: string): Promise<PolicyJob[]> {
  const r = await c.query(`SELECT j.job_id, j.proc_name, EXTRACT(EPOCH FROM j.schedule_interval) * 1000 AS interval_ms,
      s.last_run_status, EXTRACT(EPOCH FROM s.last_successful_finish) * 1000 AS success_ms, COALESCE(s.total_failures, 0) AS failures,
      (SELECT e.err_message FROM timescaledb_information.job_errors e WHERE e.job_id = j.job_id ORDER BY e.start_time DESC LIMIT 1) AS last_error
    FROM timescaledb_information.jobs j LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
    WHERE j.hypertable_name IN ($1, $2) ORDER BY j.job_id`, [table, `${table}_bars_1m`]);
  return r.rows.map((row) => ({
    id: Number(row.job_id),
    proc: String(row.proc_name),
    scheduleIntervalMs: Number(row.interval_ms),
    lastRunStatus: row.last_run_status === null ? null : String(row.last_run_status),
    // -infinity (never) reads as -Infinity: 0.
    lastSuccessMs: Number.isFinite(Number(row.success_ms)) ? Number(row.success_ms) : 0,
    backgroundFailures: Number(row.failures),
    lastError: row.last_error === null ? null : String(row.last_error),
  }));
}

/**
 * Keeps the hypertable's policies running where TimescaleDB's background scheduler cannot: on
 * Debian's PostgreSQL 15.20 with TimescaleDB 2.28.3 every background run fails ("cannot drop
 * portal "" while it is being set up", SQLSTATE 24000) while `CALL run_job(id)` in the
 * foreground completes, so nothing would ever be compressed or dropped and the bars would stop
 * refreshing, silently. On each `tick` it reads the jobs' state; a job whose last background run
 * failed is run in the foreground, then again each schedule interval after the last success,
 * for as long as the background runs keep failing. It says why once per job, and again when the
 * scheduler recovers. A job the server runs fine is left to the server.
 */
export class TimescaleJobKeeper {
  private readonly state = new Map<number, { foregroundRuns: number; foregroundFailures: number; lastForegroundMs: number; takenOver: boolean; lastSuccessMs: number }>();

  constructor(private readonly config: PostgresConfig, private readonly log: Logger, private readonly metrics?: PolicyJobMetrics) {}

  /** One look at the jobs, running those due; returns what metrics show. Never throws for a job's failure. */
  async tick(c: pg.ClientBase, nowMs = Date.now()): Promise<PolicyJobReport[]> {
    const jobs = await readPolicyJobs(c, this.config.table);
    const reports: PolicyJobReport[] = [];
    for (const job of jobs) {
      let s = this.state.get(job.id);
      if (s === undefined) {
        s = { foregroundRuns: 0, foregroundFailures: 0, lastForegroundMs: 0, takenOver: false, lastSuccessMs: 0 };
        this.state.set(job.id, s);
      }
      const backgroundFailing = job.lastRunStatus === 'Failed';
      if (backgroundFailing && !s.takenOver) {
        s.takenOver = true;
        this.log.warn({ job: job.id, policy: job.proc, backgroundFailures: job.backgroundFailures, lastError: job.lastError, scheduleIntervalMs: job.scheduleIntervalMs },
          'TimescaleDB\'s background runs of this policy fail; the processor runs it in the foreground (CALL run_job) on its schedule');
      } else if (!backgroundFailing && s.takenOver && job.lastRunStatus === 'Success') {
        s.takenOver = false;
        this.log.info({ job: job.id, policy: job.proc }, 'TimescaleDB runs this policy again; the processor leaves it to the server');
      }
      const lastSuccess = Math.max(job.lastSuccessMs, s.lastSuccessMs);
      if (s.takenOver && nowMs - Math.max(lastSuccess, s.lastForegroundMs) >= job.scheduleIntervalMs) {
        s.lastForegroundMs = nowMs;
        s.foregroundRuns++;
        try {
          await runJob(c, job.id);
          s.lastSuccessMs = Date.now();
          this.metrics?.foregroundRun(job.proc, true);
        } catch (err) {
          s.foregroundFailures++;
          this.metrics?.foregroundRun(job.proc, false);
          this.log.warn({ err, job: job.id, policy: job.proc }, 'running the policy in the foreground failed; tried again at its next interval');
        }
      }
      this.metrics?.lastSuccess(job.proc, Math.max(job.lastSuccessMs, s.lastSuccessMs) / 1000);
      this.metrics?.backgroundFailures(job.proc, job.backgroundFailures);
      reports.push({ proc: job.proc, lastSuccessMs: Math.max(job.lastSuccessMs, s.lastSuccessMs), backgroundFailures: job.backgroundFailures, foregroundRuns: s.foregroundRuns, foregroundFailures: s.foregroundFailures });
    }
    return reports;
  }
}

/** How often a refusal as concurrent (the scheduler started the same job) is tried again. */
const CONCURRENT_RETRIES = 20;
const CONCURRENT_RETRY_MS = 500;

/**
 * `CALL run_job(id)`. The background scheduler may start the same job at that moment (its runs
 * fail here, but take the job's lock first): a run refused as concurrent is tried again.
 */
export async function runJob(c: pg.ClientBase, id: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await c.query(`CALL run_job(${Number(id)})`);
      return;
    } catch (err) {
      if (attempt >= CONCURRENT_RETRIES || !/concurrent/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, CONCURRENT_RETRY_MS));
    }
  }
}

/** The state of every storage policy, for `himari-l0 migrate`'s report. */
export async function describeTimescalePolicies(c: pg.ClientBase, table: string): Promise<Array<Record<string, unknown>>> {
  return (await readPolicyJobs(c, table)).map((j) => ({
    policy: j.proc, job: j.id, everyS: Math.round(j.scheduleIntervalMs / 1000), lastBackgroundRun: j.lastRunStatus,
    lastSuccess: j.lastSuccessMs > 0 ? new Date(j.lastSuccessMs).toISOString() : null, backgroundFailures: j.backgroundFailures, lastError: j.lastError,
  }));
}
