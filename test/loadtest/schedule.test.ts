import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateSchedule, parsePattern, withWarmup } from '../../src/loadtest/schedule.js';

describe('rate pattern', () => {
  it('parses SECOND:RATE steps', () => {
    assert.deepEqual(parsePattern('0:1000,30:10000, 60:5000'), [{ fromS: 0, rate: 1000 }, { fromS: 30, rate: 10000 }, { fromS: 60, rate: 5000 }]);
    assert.deepEqual(parsePattern('0:2.5'), [{ fromS: 0, rate: 2.5 }]);
  });

  it('refuses malformed, unordered or late-starting patterns', () => {
    assert.throws(() => parsePattern(''), /at least one/);
    assert.throws(() => parsePattern('0:100,x'), /SECOND:RATE/);
    assert.throws(() => parsePattern('0:-5'), /SECOND:RATE/);
    assert.throws(() => parsePattern('5:100'), /start at second 0/);
    assert.throws(() => parsePattern('0:100,30:5,30:6'), /increase/);
  });
});

describe('open-loop schedule', () => {
  it('a fixed rate: message k due at k/rate, total = rate × duration', () => {
    const s = RateSchedule.fixed(1000, 3);
    assert.equal(s.total, 3000);
    assert.equal(s.timeOf(0), 0);
    assert.equal(s.timeOf(1500), 1.5);
    assert.equal(s.dueAt(0), 1);
    assert.equal(s.dueAt(0.0015), 2);
    assert.equal(s.dueAt(10), 3000);
  });

  it('a pattern: counts integrate the rate, times invert the counts', () => {
    const s = new RateSchedule(parsePattern('0:100,10:1000,20:0,25:10'), 30);
    assert.equal(s.total, 100 * 10 + 1000 * 10 + 0 + 10 * 5);
    assert.equal(s.expectedAt(15), 1000 + 5000);
    assert.equal(s.timeOf(999), 9.99);
    assert.equal(s.timeOf(1000), 10);
    assert.equal(s.timeOf(1500), 10.5);
    // The pause: the count reached at the end of second 20 is due then; the next waits for second 25.
    assert.equal(s.timeOf(11_000), 20);
    assert.equal(s.timeOf(11_001), 25.1);
    assert.equal(s.rateAt(22), 0);
    assert.equal(s.rateAt(30), 0);
    for (const k of [0, 1, 999, 1000, 5000, 10_999, 11_001, 11_049]) {
      const t = s.timeOf(k);
      assert.ok(s.dueAt(t) > k, `message ${k} is due at its own time ${t}`);
      if (t > 0.001) assert.ok(s.dueAt(t - 0.001) <= k, `message ${k} is not due before ${t}`);
    }
  });

  it('steps past the duration are ignored; a bad duration is refused', () => {
    assert.equal(new RateSchedule([{ fromS: 0, rate: 10 }, { fromS: 50, rate: 1e6 }], 5).total, 50);
    assert.throws(() => RateSchedule.fixed(10, 0), /duration/);
  });
});

describe('warm-up before the measured window', () => {
  it('runs the first rate for the warm-up and shifts every step by it', () => {
    const steps = withWarmup(parsePattern('0:1000,30:10000'), 5);
    assert.deepEqual(steps, [{ fromS: 0, rate: 1000 }, { fromS: 5, rate: 1000 }, { fromS: 35, rate: 10000 }]);
    const s = new RateSchedule(steps, 5 + 60);
    assert.equal(s.total, 5 * 1000 + 30 * 1000 + 30 * 10000);
    // The measured window's first message is due exactly at the end of the warm-up.
    assert.equal(s.timeOf(5000), 5);
    assert.equal(s.rateAt(36), 10000);
  });

  it('no warm-up leaves the steps as they are; a negative one is refused', () => {
    assert.deepEqual(withWarmup([{ fromS: 0, rate: 50 }], 0), [{ fromS: 0, rate: 50 }]);
    assert.throws(() => withWarmup([{ fromS: 0, rate: 50 }], -1), /non-negative/);
  });
});
