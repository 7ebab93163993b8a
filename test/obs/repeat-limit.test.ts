import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RepeatLimit } from '../../src/obs/repeat-limit.js';

describe('RepeatLimit', () => {
  it('lets the first of a kind through, holds back repeats within the window, then says how many were held', () => {
    const limit = new RepeatLimit(10_000);
    assert.equal(limit.admit('-187', 0), 0);
    assert.equal(limit.admit('-187', 500), -1);
    assert.equal(limit.admit('-187', 9_999), -1);
    assert.equal(limit.admit('-195', 1_000), 0, 'another kind has its own window');
    assert.equal(limit.admit('-187', 10_000), 2, 'the window passed: through, with the two held back');
    assert.equal(limit.admit('-187', 10_001), -1);
    assert.equal(limit.admit('-187', 30_000), 1);
    assert.equal(limit.admit('-187', 45_000), 0, 'nothing held since');
  });

  it('forgets the kinds it has seen past its bound, so kinds that never repeat do not grow it', () => {
    const limit = new RepeatLimit(10_000, 3);
    for (const k of ['a', 'b', 'c']) assert.equal(limit.admit(k, 0), 0);
    assert.equal(limit.admit('a', 1), -1);
    assert.equal(limit.admit('d', 2), 0, 'a fourth kind: the three are forgotten');
    assert.equal(limit.admit('a', 3), 0, 'so a is new again');
  });
});
