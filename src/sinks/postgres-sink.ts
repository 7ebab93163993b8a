import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { PostgresConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import { WATERMARK_TABLE } from '../db/migrate.js';
import type { EventChunk } from './chunk.js';
import type { SinkDriver } from './core.js';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER, EVENT_COLUMN_NAMES } from './pg-row.js';

/** SQLSTATE classes that no retry can fix: data exceptions (22) and integrity violations (23). */
const PERMANENT_SQLSTATE_CLASSES = new Set(['22', '23']);

/**
 * PostgreSQL sink: one binary COPY per batch (rows built by the workers), exactly once. Each batch runs in one transaction that
 * also advances a per-partition watermark (next offset to apply) in `himari_sink_offsets`.
 * Rows below the watermark are skipped, so a batch replayed after a crash writes nothing twice.
 * Measured against staging + `INSERT ... ON CONFLICT DO NOTHING` in `bench/pg-strategies.ts`.
 */
export class PostgresSink implements SinkDriver {
  readonly name = 'postgres';
  private client: pg.Client | null = null;
  /** Watermarks as committed; trusted only while the connection that wrote them is healthy. */
  private readonly watermarks = new Map<string, number>();
  private watermarksValid = false;
  private readonly copySql: string;

  constructor(private readonly config: PostgresConfig) {
    this.copySql = `COPY ${config.table} (${EVENT_COLUMN_NAMES.join(', ')}) FROM STDIN (FORMAT binary)`;
  }

  async connect(): Promise<void> {
    try {
      await this.ensureClient();
    } catch (err) {
      // Refused credentials (28xxx) or a missing database (3D000) need an operator: fail start-up.
      const code = String((err as { code?: unknown }).code ?? '');
      const fatal = code.startsWith('28') || code === '3D000';
      throw new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `PostgreSQL: ${(err as Error).message}`, { retriable: !fatal, cause: err });
    }
  }

  private async ensureClient(): Promise<pg.Client> {
    if (this.client !== null) return this.client;
    const client = new pg.Client({ connectionString: this.config.url, keepAlive: true, application_name: 'himari-l0' });
    // An idle client that loses its connection emits 'error'; the next write reconnects.
    client.on('error', () => { if (this.client === client) this.drop(); });
    await client.connect();
    await client.query('SELECT 1'); // warm: first round trip, catalog caches
    this.client = client;
    return client;
  }

  private drop(): void {
    const c = this.client;
    this.client = null;
    this.watermarksValid = false;
    if (c !== null) c.end().catch(() => {});
  }

  private async loadWatermarks(client: pg.Client): Promise<void> {
    const res = await client.query<{ topic: string; partition: number; next_offset: string }>(
      `SELECT topic, partition, next_offset FROM ${WATERMARK_TABLE} WHERE target = $1`, [this.config.table]);
    this.watermarks.clear();
    for (const r of res.rows) this.watermarks.set(`${r.topic}\u0000${r.partition}`, Number(r.next_offset));
    this.watermarksValid = true;
  }

  async writeBatch(chunks: readonly EventChunk[]): Promise<void> {
    let client: pg.Client;
    try {
      client = await this.ensureClient();
      if (!this.watermarksValid) await this.loadWatermarks(client);
    } catch (err) {
      this.drop();
      throw err;
    }
    const next = new Map<string, { topic: string; partition: number; offset: number }>();
    try {
      await client.query('BEGIN');
      const stream = client.query(copyFrom(this.copySql));
      const done = new Promise<void>((resolve, reject) => {
        stream.on('finish', resolve);
        stream.on('error', reject);
      });
      done.catch(() => {}); // observed below; a write that throws first must not leave it unhandled
      stream.write(BINARY_COPY_HEADER);
      for (const chunk of chunks) {
        const key = `${chunk.topic}\u0000${chunk.partition}`;
        const applied = this.watermarks.get(key) ?? -1;
        let first = chunk.from;
        while (first < chunk.to && chunk.offset(first) < applied) first++;
        if (first < chunk.to) {
          const ends = chunk.result.copyEnds;
          const start = first === 0 ? 0 : ends[first - 1]!;
          const end = ends[chunk.to - 1]!;
          if (end > start) stream.write(chunk.result.copyRows.subarray(start, end));
          const last = chunk.offset(chunk.to - 1) + 1;
          const prev = next.get(key);
          if (prev === undefined || prev.offset < last) next.set(key, { topic: chunk.topic, partition: chunk.partition, offset: last });
        }
      }
      stream.end(BINARY_COPY_TRAILER);
      await done;
      // The watermark and the COMMIT travel in one simple query (one round trip, not two): the
      // values are integers and quoted identifiers-as-literals, so no parameters are needed.
      let tail = 'COMMIT';
      if (next.size > 0) {
        const rows: string[] = [];
        for (const v of next.values()) rows.push(`(${sqlLiteral(this.config.table)}, ${sqlLiteral(v.topic)}, ${v.partition | 0}, ${Math.trunc(v.offset)})`);
        tail = `INSERT INTO ${WATERMARK_TABLE} (target, topic, partition, next_offset) VALUES ${rows.join(', ')}
           ON CONFLICT (target, topic, partition) DO UPDATE
             SET next_offset = GREATEST(${WATERMARK_TABLE}.next_offset, EXCLUDED.next_offset), updated_at = now();
           COMMIT`;
      }
      await client.query(tail);
    } catch (err) {
      // The transaction's fate is unknown if the connection broke during COMMIT: reconnect and
      // re-read the watermarks, which tell exactly what is in the table.
      this.drop();
      throw err;
    }
    for (const [key, v] of next) this.watermarks.set(key, v.offset);
  }

  isRetriable(err: unknown): boolean {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return !PERMANENT_SQLSTATE_CLASSES.has(code.slice(0, 2));
    return true; // socket errors, "Connection terminated", timeouts
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c !== null) await c.end();
  }
}

/** A SQL string literal (standard_conforming_strings: only the quote needs doubling). */
function sqlLiteral(v: string): string {
  return `'${v.replaceAll("'", "''")}'`;
}
