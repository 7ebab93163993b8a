import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { PostgresConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import { CLAIM_WATERMARKS, WATERMARK_TABLE } from '../db/migrate.js';
import { describeTarget, isPermanentConnectError, pgClientConfig } from '../db/client-config.js';
import type { EventChunk } from './chunk.js';
import { checkedLane, type SinkDriver } from './core.js';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER, EVENT_COLUMN_NAMES } from './pg-row.js';
import { partitionKey } from '../source/partition-key.js';

/** SQLSTATE classes that no retry can fix: data exceptions (22) and integrity violations (23). */
const PERMANENT_SQLSTATE_CLASSES = new Set(['22', '23']);

/** One connection of the sink and the watermarks of the partitions it writes. */
interface Lane {
  readonly index: number;
  client: pg.Client | null;
  /**
   * Next offset to apply per partition (`topic\0partition`), -1 when the table has no row yet:
   * read when a partition is first written on this connection, advanced by each commit, and
   * forgotten when the partition is revoked or the connection drops. The transaction's claim
   * (below) is what makes it safe: a stale entry makes a batch fail, never write twice.
   */
  readonly watermarks: Map<string, number>;
}

/** A partition's share of one batch: the first offset it writes and its watermark after. */
interface PartitionWrite {
  topic: string;
  partition: number;
  first: number;
  next: number;
}

/**
 * PostgreSQL sink: one binary COPY per batch (rows built by the workers), exactly once. Each batch
 * is one transaction that first claims the watermark rows of its partitions (locked until it
 * commits, refused when another writer moved one past the batch's first offset: see
 * `CLAIM_WATERMARKS`), then copies the rows, then advances the watermarks. Rows below a
 * partition's watermark are skipped, so a batch replayed after a crash, by this process or by
 * the instance a partition moved to, writes nothing twice.
 * Measured against staging + `INSERT ... ON CONFLICT DO NOTHING` in `bench/sinks.ts`.
 *
 * `postgres.connections` connections write concurrently, one per lane of the sink core; a
 * partition is only ever written by its lane's connection.
 */
export class PostgresSink implements SinkDriver {
  readonly name = 'postgres';
  readonly lanes: number;
  private readonly lane: Lane[];
  private readonly copySql: string;

  constructor(private readonly config: PostgresConfig) {
    this.copySql = `COPY ${config.table} (${EVENT_COLUMN_NAMES.join(', ')}) FROM STDIN (FORMAT binary)`;
    this.lanes = config.connections;
    this.lane = Array.from({ length: this.lanes }, (_, index) => ({ index, client: null, watermarks: new Map() }));
  }

  async connect(): Promise<void> {
    try {
      await Promise.all(this.lane.map((l) => this.ensureClient(l)));
    } catch (err) {
      for (const l of this.lane) this.drop(l);
      // Refused credentials, a missing database or a refused certificate need an operator: fail start-up.
      throw new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `${describeTarget(this.config)}: ${(err as Error).message}`, { retriable: !isPermanentConnectError(err), cause: err });
    }
  }

  private async ensureClient(lane: Lane): Promise<pg.Client> {
    if (lane.client !== null) return lane.client;
    const client = new pg.Client(pgClientConfig(this.config, {
      keepAlive: true, application_name: 'himari-l0',
      // A server that accepts and never answers fails the connect or the batch instead of hanging it.
      connectionTimeoutMillis: this.config.queryTimeoutMs, query_timeout: this.config.queryTimeoutMs,
    }));
    // An idle client that loses its connection emits 'error'; the next write reconnects.
    client.on('error', () => { if (lane.client === client) this.drop(lane); });
    try {
      await client.connect();
      await client.query('SELECT 1'); // warm: first round trip, catalog caches
    } catch (err) {
      client.end().catch(() => {});
      throw err;
    }
    lane.client = client;
    return client;
  }

  private drop(lane: Lane): void {
    const c = lane.client;
    lane.client = null;
    lane.watermarks.clear();
    if (c !== null) c.end().catch(() => {});
  }

  /** Reads the watermarks of the chunks' partitions this connection has not read yet. */
  private async loadWatermarks(lane: Lane, client: pg.Client, chunks: readonly EventChunk[]): Promise<void> {
    const topics: string[] = [];
    const partitions: number[] = [];
    for (const c of chunks) {
      const key = partitionKey(c.topic, c.partition);
      if (lane.watermarks.has(key) || partitions.some((p, i) => p === c.partition && topics[i] === c.topic)) continue;
      topics.push(c.topic);
      partitions.push(c.partition);
    }
    if (topics.length === 0) return;
    const res = await client.query<{ topic: string; partition: number; next_offset: string }>(
      `SELECT w.topic, w.partition, w.next_offset FROM ${WATERMARK_TABLE} w
       JOIN unnest($2::text[], $3::integer[]) AS p(topic, partition) ON w.topic = p.topic AND w.partition = p.partition
       WHERE w.target = $1`, [this.config.table, topics, partitions]);
    for (let i = 0; i < topics.length; i++) lane.watermarks.set(partitionKey(topics[i]!, partitions[i]!), -1);
    for (const r of res.rows) lane.watermarks.set(partitionKey(r.topic, r.partition), Number(r.next_offset));
  }

  async writeBatch(chunks: readonly EventChunk[], laneArg?: number): Promise<void> {
    const laneIndex = checkedLane(chunks, this.lanes, laneArg);
    const lane = this.lane[laneIndex]!;
    let client: pg.Client;
    try {
      client = await this.ensureClient(lane);
      await this.loadWatermarks(lane, client, chunks);
    } catch (err) {
      this.drop(lane);
      throw err;
    }
    // What is new: the rows at or above each partition's watermark, and the watermarks after them.
    const writes = new Map<string, PartitionWrite>();
    const rows: Uint8Array[] = [];
    for (const chunk of chunks) {
      const key = partitionKey(chunk.topic, chunk.partition);
      const applied = lane.watermarks.get(key)!;
      let first = chunk.from;
      while (first < chunk.to && chunk.offset(first) < applied) first++;
      if (first === chunk.to) continue;
      const ends = chunk.result.copyEnds;
      const start = first === 0 ? 0 : ends[first - 1]!;
      const end = ends[chunk.to - 1]!;
      if (end > start) rows.push(chunk.result.copyRows.subarray(start, end));
      const next = chunk.offset(chunk.to - 1) + 1;
      const w = writes.get(key);
      if (w === undefined) writes.set(key, { topic: chunk.topic, partition: chunk.partition, first: chunk.offset(first), next });
      else if (w.next < next) w.next = next;
    }
    if (writes.size === 0) return; // all of it applied before (a replay)
    // Partitions in one order in every batch: two writers of the same partitions lock their
    // watermark rows in the same order instead of deadlocking.
    const ordered = [...writes.values()].sort((a, b) => a.partition - b.partition || (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
    try {
      // BEGIN, the claim, the COPY, the watermark and COMMIT are one simple query, so one round
      // trip: the server takes the COPY data in the middle of it and runs the rest after the data
      // ends. When the claim refuses the batch, the server never enters the COPY and the stream
      // sends none of its data. The values are integers and literals, so no parameters are needed.
      const sql = `BEGIN; ${this.claimSql(ordered)}; ${this.copySql}; ${this.watermarkSql(ordered)}; COMMIT`;
      const stream = client.query(copyFrom(sql));
      const done = new Promise<void>((resolve, reject) => {
        stream.on('finish', resolve);
        stream.on('error', reject);
      });
      done.catch(() => {}); // observed below; a write that throws first must not leave it unhandled
      stream.write(BINARY_COPY_HEADER);
      for (const r of rows) stream.write(r);
      stream.end(BINARY_COPY_TRAILER);
      await done;
    } catch (err) {
      // The transaction's fate is unknown if the connection broke during COMMIT, and after an
      // error inside it the session is in an aborted transaction: reconnect and re-read the
      // watermarks, which tell exactly what is in the table.
      this.drop(lane);
      throw err;
    }
    for (const w of ordered) lane.watermarks.set(partitionKey(w.topic, w.partition), w.next);
  }

  async probe(laneIndex: number): Promise<void> {
    const lane = this.lane[laneIndex]!;
    try {
      const client = await this.ensureClient(lane);
      await client.query('SELECT 1');
    } catch (err) {
      this.drop(lane);
      throw err;
    }
  }

  /**
   * Forgets a partition's watermark (it was revoked): whoever writes it next may move it, so it
   * is read again if it comes back.
   */
  release(topic: string, partition: number): void {
    for (const l of this.lane) l.watermarks.delete(partitionKey(topic, partition));
  }

  private claimSql(writes: readonly PartitionWrite[]): string {
    return `CALL ${CLAIM_WATERMARKS}(${sqlLiteral(this.config.table)}, ARRAY[${writes.map((w) => sqlLiteral(w.topic)).join(', ')}]::text[], `
      + `ARRAY[${writes.map((w) => w.partition | 0).join(', ')}]::integer[], ARRAY[${writes.map((w) => Math.trunc(w.first)).join(', ')}]::bigint[])`;
  }

  private watermarkSql(writes: readonly PartitionWrite[]): string {
    const values = writes.map((w) => `(${sqlLiteral(this.config.table)}, ${sqlLiteral(w.topic)}, ${w.partition | 0}, ${Math.trunc(w.next)})`);
    return `INSERT INTO ${WATERMARK_TABLE} (target, topic, partition, next_offset) VALUES ${values.join(', ')}
      ON CONFLICT (target, topic, partition) DO UPDATE
        SET next_offset = GREATEST(${WATERMARK_TABLE}.next_offset, EXCLUDED.next_offset), updated_at = now()`;
  }

  isRetriable(err: unknown): boolean {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return !PERMANENT_SQLSTATE_CLASSES.has(code.slice(0, 2));
    return true; // socket errors, "Connection terminated", timeouts
  }

  async close(): Promise<void> {
    await Promise.all(this.lane.map(async (l) => {
      const c = l.client;
      l.client = null;
      if (c !== null) await c.end();
    }));
  }
}

/** A SQL string literal (standard_conforming_strings: only the quote needs doubling). */
function sqlLiteral(v: string): string {
  return `'${v.replaceAll("'", "''")}'`;
}
