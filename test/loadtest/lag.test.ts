import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeLag, lagSlope, nextSearchRate, type LagSample } from '../../src/loadtest/lag.js';

const series = (n: number, f: (t: number) => number): LagSample[] => Array.from({ length: n }, (_, t) => ({ t, lag: f(t) }));

describe('lag-bounded criterion', () => {
  it('fits the slope by least squares', () => {
    assert.equal(lagSlope(series(10, (t) => 300 * t + 7)), 300);
    assert.equal(lagSlope([{ t: 1, lag: 5 }]), 0);
  });

  it('a saw-tooth that does not grow is bounded', () => {
    const v = judgeLag(series(20, (t) => (t % 2 ? 3000 : 500)), 10_000);
    assert.equal(v.bounded, true, v.reason);
  });

  it('a backlog growing by more than 5 % of the rate is not, even when still small', () => {
    const v = judgeLag(series(20, (t) => 800 * t), 10_000);
    assert.equal(v.bounded, false);
    assert.match(v.reason, /lag grows 800\/s/);
  });

  it('a large final backlog fails even when it stopped growing', () => {
    const v = judgeLag(series(20, (t) => (t < 10 ? 5000 * t : 50_000)), 10_000);
    assert.equal(v.bounded, false);
    assert.match(v.reason, /final lag 50000 above 10000/);
  });

  it('a ramp-up in the first half is forgiven; low rates get the floor', () => {
    assert.equal(judgeLag(series(20, (t) => (t < 10 ? 200 * t : 1500)), 1000).bounded, true);
    assert.equal(judgeLag(series(3, () => 0), 1000).bounded, false);
  });
});

describe('max-rate search', () => {
  const o = { startRate: 5000, maxRate: 100_000, minRate: 100, precision: 0.1 };
  it('doubles while steps pass, then bisects to 10 %', () => {
    const steps: Array<{ rate: number; passed: boolean }> = [];
    const capacity = 27_000;
    for (let rate = nextSearchRate(steps, o); rate !== null; rate = nextSearchRate(steps, o)) steps.push({ rate, passed: rate <= capacity });
    assert.deepEqual(steps.slice(0, 4).map((s) => s.rate), [5000, 10_000, 20_000, 40_000]);
    const best = Math.max(...steps.filter((s) => s.passed).map((s) => s.rate));
    const lowestFail = Math.min(...steps.filter((s) => !s.passed).map((s) => s.rate));
    assert.ok(best <= capacity && (lowestFail - best) / best <= 0.1, `${best}..${lowestFail}`);
  });

  it('halves when the first step fails, and stops at the bounds', () => {
    assert.equal(nextSearchRate([{ rate: 5000, passed: false }], o), 2500);
    assert.equal(nextSearchRate([{ rate: 80_000, passed: true }], o), null);
    assert.equal(nextSearchRate([{ rate: 150, passed: false }], o), null);
  });
});
