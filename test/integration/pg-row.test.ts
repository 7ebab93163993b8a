import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { from as copyFrom } from 'pg-copy-streams';
import type { MarketEvent, Verdict } from '../../src/codec/event.js';
import { normalizeRecording } from '../../src/replay/recording.js';
import { ByteWriter } from '../../src/sinks/byte-writer.js';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER, EVENT_COLUMNS, EVENT_COLUMN_NAMES, encodeCopyRow, writeBinaryRow } from '../../src/sinks/pg-row.js';
import { T0 } from '../helpers/chunks.js';
import { RECORDINGS_DIR, recordingFiles } from '../helpers/recordings.js';
import { cleanup, testConfig, withPg } from '../helpers/services.js';

describe('binary COPY rows (real PostgreSQL)', { timeout: 120_000 }, () => {
  const { config } = testConfig();
  after(async () => {
    await cleanup(config);
  });

  it('load exactly what the text rows load, for every event of the real recordings', async (t) => {
    const files = recordingFiles();
    if (files.length === 0) return t.skip(`no recordings in ${RECORDINGS_DIR}`);
    // The recordings hold books, quotes and trades; liquidations and the optional fields are added.
    const events: MarketEvent[] = [...files.flatMap((f) => normalizeRecording(f)),
      { v: 1, type: 'liquidation', venue: 'binance-futures', symbol: 'BTC-USDT-PERP', ts: T0, recvTs: T0 + 5, id: 'liq\t"1"\\', posSide: 'long', price: 64123.5, size: 0.002 },
      { v: 1, type: 'liquidation', venue: 'bybit', symbol: 'ETH-USDT-PERP', ts: T0 + 1, recvTs: T0 + 6, posSide: 'short', price: 3000.25, size: 1e-8 },
      { v: 1, type: 'trade', venue: 'okx', symbol: 'BTC-USDT', ts: T0 + 2, recvTs: T0 + 7, id: 'é✓\n', price: 0.1 + 0.2, size: 123456789.123, side: '', offBook: true },
      { v: 1, type: 'quote', venue: 'kraken', symbol: 'BTC-USD', ts: T0 + 3, recvTs: T0 + 8, bid: 1, bidSize: 2, ask: 3, askSize: 4 },
    ];
    assert.equal(new Set(events.map((e) => e.type)).size, 4);
    // Verdict fields that exercise the sign bit of the bigint and a fractional real.
    const outcome = (i: number) => ({ verdict: (i % 3) as Verdict, failedLo: (i * 2654435761) >>> 0, failedHi: i % 5 === 0 ? 0x80000000 : i, score: (i % 100) / 64 });
    const text = new ByteWriter(1 << 20);
    const binary = new ByteWriter(1 << 20);
    events.forEach((e, i) => {
      text.write(encodeCopyRow(e, outcome(i), i % 7, i));
      writeBinaryRow(binary, e, outcome(i), i % 7, i);
    });
    await withPg(config, async (c) => {
      const cols = EVENT_COLUMNS.map(([n, type]) => `${n} ${type.replace(' NOT NULL', '')}`).join(', ');
      const names = EVENT_COLUMN_NAMES.join(', ');
      for (const table of ['rows_text', 'rows_binary']) await c.query(`CREATE TEMP TABLE ${table} (${cols})`);
      for (const [table, format, bytes] of [['rows_text', 'text', text.take()], ['rows_binary', 'binary', Buffer.concat([BINARY_COPY_HEADER, binary.take(), BINARY_COPY_TRAILER])]] as const) {
        const stream = c.query(copyFrom(`COPY ${table} (${names}) FROM STDIN (FORMAT ${format})`));
        await new Promise<void>((resolve, reject) => { stream.on('finish', resolve); stream.on('error', reject); stream.end(bytes); });
      }
      const n = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM rows_binary');
      assert.equal(n.rows[0]!.n, events.length);
      // jsonb compares by value; every other column exactly (floats included: both carry every bit).
      const diff = await c.query(`SELECT count(*)::int AS n FROM ((SELECT * FROM rows_text EXCEPT ALL SELECT * FROM rows_binary)
        UNION ALL (SELECT * FROM rows_binary EXCEPT ALL SELECT * FROM rows_text)) d`);
      assert.equal(diff.rows[0].n, 0);
    });
  });
});
