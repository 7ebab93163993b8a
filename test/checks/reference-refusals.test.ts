import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SharedReference } from '../../src/checks/reference.js';
import { ReferenceRefusals } from '../../src/checks/reference-refusals.js';

describe('reference refusals: counted, and said once a minute at most', () => {
  it('reports new refusals by kind for the counter, and a warning per kind when there are new ones', () => {
    const ref = SharedReference.create(16, 2);
    const refusals = new ReferenceRefusals(ref, 60_000);
    assert.deepEqual(refusals.poll(0), { added: { instrument: 0, venue: 0 }, warnings: [] });

    for (let i = 0; i < 18; i++) ref.instrument(`S${i}-USDT`);
    ref.entry(ref.instrument('S0-USDT'), 'binance', 'S0-USDT');
    ref.entry(ref.instrument('S0-USDT'), 'okx', 'S0-USDT');
    ref.entry(ref.instrument('S0-USDT'), 'kraken', 'S0-USDT');
    const first = refusals.poll(1000);
    assert.deepEqual(first.added, { instrument: 2, venue: 1 });
    assert.deepEqual(first.warnings, [
      { kind: 'instrument', refused: 2, first: ref.firstRefusedInstrument, slots: 16, configKey: 'checks.referenceInstruments' },
      { kind: 'venue', refused: 1, first: 'kraken', slots: 2, configKey: 'checks.referenceVenues' },
    ]);

    // More refusals within the minute: counted, not said again.
    ref.instrument('S20-USDT');
    assert.deepEqual(refusals.poll(30_000), { added: { instrument: 1, venue: 0 }, warnings: [] });
    // After it, said again with the total; a kind without new refusals stays quiet.
    ref.instrument('S21-USDT');
    const later = refusals.poll(61_001);
    assert.deepEqual(later.added, { instrument: 1, venue: 0 });
    assert.deepEqual(later.warnings.map((w) => [w.kind, w.refused]), [['instrument', 4]]);
    assert.deepEqual(refusals.poll(200_000), { added: { instrument: 0, venue: 0 }, warnings: [] });
  });
});
