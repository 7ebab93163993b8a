import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { PostgresConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import { WATERMARK_TABLE } from '../db/migrate.js';
import { describeTarget, isPermanentConnectError, pgClientConfig } from '../db/client-config.js';
import type { EventChunk } from './chunk.js';
import { checkedLane, type SinkDriver } from './core.js';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER, EVENT_COLUMN_NAMES } from './pg-row.js';

/** SQLSTATE classes that no retry can fix: data exceptions (22) and integrity violations (23). */
const PERMANENT_SQLSTATE_CLASSES = new Set(['22', '23']);

/** One connection of the sink and the watermarks of the partitions it writes. */
interface Lane {
  readonly index: number;
  client: pg.Client | null;
  /** Watermarks as committed; trusted only while the connection that wrote them is healthy. */
  readonly watermarks: Map<string, number>;
  watermarksValid: boolean;
}

/**
 * PostgreSQL sink: one binary COPY per batch (rows built by the workers), exactly once. Each batch runs in one transaction that
 * also advances a per-partition watermark (next offset to apply) in `himari_sink_offsets`.
 * Rows below the watermark are skipped, so a batch replayed after a crash writes nothing twice.
 * Measured against staging + `INSERT ... ON CONFLICT DO NOTHING` in `bench/sinks.ts`.
 *
 * `postgres.connections` connections write concurrently, one per lane of the sink core; a
 * partition is only ever written by its lane's connection, which alone reads and advances its
 * watermark.
 */
export class PostgresSink implements SinkDriver {
  readonly name = 'postgres';
  readonly lanes: number;
  private readonly lane: Lane[];
  private readonly copySql: string;

  constructor(private readonly config: PostgresConfig) {
    this.copySql = `COPY ${config.table} (${EVENT_COLUMN_NAMES.join(', ')}) FROM STDIN (FORMAT binary)`;
    this.lanes = config.connections;
    this.lane = Array.from({ length: this.lanes }, (_, index) => ({ index, client: null, watermarks: new Map(), watermarksValid: false }));
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
    const client = new pg.Client(pgClientConfig(this.config, { keepAlive: true, application_name: 'himari-l0' }));
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
    lane.watermarksValid = false;
    if (c !== null) c.end().catch(() => {});
  }

  /** The lane's partitions' watermarks (`laneOf` in SQL: partition modulo the lane count). */
  private async loadWatermarks(lane: Lane, client: pg.Client): Promise<void> {
    const res = await client.query<{ topic: string; partition: number; next_offset: string }>(
      `SELECT topic, partition, next_offset FROM ${WATERMARK_TABLE} WHERE target = $1 AND partition % $2 = $3`,
      [this.config.table, this.lanes, lane.index]);
    lane.watermarks.clear();
    for (const r of res.rows) lane.watermarks.set(`${r.topic}\u0000${r.partition}`, Number(r.next_offset));
    lane.watermarksValid = true;
  }

  async writeBatch(chunks: readonly EventChunk[], laneArg?: number): Promise<void> {
    const laneIndex = checkedLane(chunks, this.lanes, laneArg);
    const lane = this.lane[laneIndex]!;
    let client: pg.Client;
    try {
      client = await this.ensureClient(lane);
      if (!lane.watermarksValid) await this.loadWatermarks(lane, client);
    } catch (err) {
      this.drop(lane);
      throw err;
    }
    // What is new: the rows at or above each partition's watermark, and the watermarks after them.
    const next = new Map<string, { topic: string; partition: number; offset: number }>();
    const rows: Uint8Array[] = [];
    for (const chunk of chunks) {
      const key = `${chunk.topic}\u0000${chunk.partition}`;
      const applied = lane.watermarks.get(key) ?? -1;
      let first = chunk.from;
      while (first < chunk.to && chunk.offset(first) < applied) first++;
      if (first === chunk.to) continue;
      const ends = chunk.result.copyEnds;
      const start = first === 0 ? 0 : ends[first - 1]!;
      const end = ends[chunk.to - 1]!;
      if (end > start) rows.push(chunk.result.copyRows.subarray(start, end));
      const last = chunk.offset(chunk.to - 1) + 1;
      const prev = next.get(key);
      if (prev === undefined || prev.offset < last) next.set(key, { topic: chunk.topic, partition: chunk.partition, offset: last });
    }
    if (next.size === 0) return; // all of it applied before (a replay)
    try {
      // BEGIN, the COPY, the watermark and COMMIT are one simple query, so one round trip: the
      // server takes the COPY data in the middle of it and runs the rest after the data ends.
      // The watermark values are integers and literals, so no parameters are needed.
      const stream = client.query(copyFrom(`BEGIN; ${this.copySql}; ${this.watermarkSql(next.values())}; COMMIT`));
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
    for (const [key, v] of next) lane.watermarks.set(key, v.offset);
  }

  private watermarkSql(next: Iterable<{ topic: string; partition: number; offset: number }>): string {
    const values: string[] = [];
    for (const v of next) values.push(`(${sqlLiteral(this.config.table)}, ${sqlLiteral(v.topic)}, ${v.partition | 0}, ${Math.trunc(v.offset)})`);
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
