import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WATERMARK_MOVED_SQLSTATE } from '../../src/db/migrate.js';
import { PostgresSink } from '../../src/sinks/postgres-sink.js';
import { OffsetTracker } from '../../src/source/offset-tracker.js';
import { fakeChunk } from '../helpers/chunks.js';
import { testConfig } from '../helpers/services.js';

// What the PostgreSQL sink decides without a server: error classes and lanes. What it writes is
// tested against the real PostgreSQL in test/integration/postgres-sink.test.ts.

const { config } = testConfig();

/** An error as node-postgres reports it: the server's SQLSTATE in `code`, or Node's socket code. */
function pgError(message: string, code?: string): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code });
}

describe('PostgreSQL sink: which errors a retry can heal', () => {
  const sink = new PostgresSink(config.postgres);
  const table: Array<[string, string | undefined, boolean]> = [
    // Classes 22 (data exception) and 23 (integrity constraint violation): the rows themselves.
    ['numeric field overflow', '22003', false],
    ['invalid input syntax for type double precision', '22P02', false],
    ['invalid byte sequence for encoding "UTF8"', '22021', false],
    ['duplicate key value violates unique constraint', '23505', false],
    ['new row violates check constraint "price_cap"', '23514', false],
    ['null value in column "ts" violates not-null constraint', '23502', false],
    // Everything else: the server, the connection or a concurrent writer.
    ['partition moved: watermark ahead of the batch', WATERMARK_MOVED_SQLSTATE, true],
    ['could not serialize access due to concurrent update', '40001', true],
    ['deadlock detected', '40P01', true],
    ['terminating connection due to administrator command', '57P01', true],
    ['sorry, too many clients already', '53300', true],
    ['could not extend file: No space left on device', '53100', true],
    ['relation "it_events" does not exist', '42P01', true],
    ['connection failure', '08006', true],
    ['connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED', true],
    ['Connection terminated unexpectedly', undefined, true],
    ['Query read timeout', undefined, true],
  ];
  for (const [message, code, retriable] of table) {
    it(`${code ?? 'no code'} (${message}): ${retriable ? 'retriable' : 'not retriable'}`, () => {
      assert.equal(sink.isRetriable(pgError(message, code)), retriable);
    });
  }
});

describe('PostgreSQL sink: lanes', () => {
  it('refuses a chunk of another lane\'s partition before it connects', async () => {
    // Never connected, and pointed at a port nothing listens on: only the lane check can answer.
    const sink = new PostgresSink({ ...config.postgres, url: 'postgres://postgres@127.0.0.1:1/postgres', connections: 3 });
    const tracker = new OffsetTracker();
    await assert.rejects(sink.writeBatch([fakeChunk(4, 0, tracker.partition('t', 4).track(0, 3, 1), 4)], 0), /partition 4 is not written by connection 0 of 3/);
    await assert.rejects(sink.writeBatch([fakeChunk(4, 0, tracker.partition('t', 0).track(0, 3, 1), 0), fakeChunk(4, 4, tracker.partition('t', 4).track(4, 7, 1), 4)]),
      /partition 4 is not written by connection 0 of 3/, 'without a lane, the first chunk\'s lane');
    await sink.close();
  });
});
