import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import { readRecordingEvents, recordingFailure } from '../../src/replay/recording.js';
import { recordingFiles } from '../helpers/recordings.js';

/** Received messages per recording, as ../shared/data/README.md lists them. */
const MESSAGES: Record<string, number> = {
  'BINANCE.ws.1.0': 265, 'BINANCE.http.0.0': 4, 'BINANCE_FUTURES.ws.1.0': 1_535, 'BINANCE_FUTURES.http.0.0': 4,
  'COINBASE.ws.28.0': 9_946, 'KRAKEN.ws.50.0': 4_321, 'OKX.ws.1.0': 410, 'BYBIT.ws.26.0': 1_098,
};

describe('every recording: each message gave events, was ignored by channel, or is reported', () => {
  const files = recordingFiles();
  it('the recordings are there', (t) => {
    if (files.length === 0) { t.skip('shared/data/cryptofeed not found'); return; }
    assert.deepEqual(files.map((f) => basename(f)).sort(), Object.keys(MESSAGES).sort());
  });
  for (const file of files) {
    it(basename(file), () => {
      const { events, report } = readRecordingEvents(file);
      const ignored = Object.values(report.ignored).reduce((a, b) => a + b, 0);
      assert.equal(report.messages, MESSAGES[basename(file)]);
      assert.equal(report.messages, report.withEvents + ignored + report.errors, JSON.stringify(report));
      assert.equal(report.errors, 0, JSON.stringify(report.problems));
      assert.equal(report.events, events.length);
      assert.ok(report.withEvents > 0);
      assert.equal(recordingFailure(report), null);
    });
  }
});
