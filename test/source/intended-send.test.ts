import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INTENDED_SEND_HEADER, intendedSendMs, intendedSendValue } from '../../src/source/intended-send.js';

describe('intended send header', () => {
  it('round-trips Unix ms with µs precision through the ns header', () => {
    for (const ms of [1_795_320_365_171.6455, 1_700_000_000_000, 1_700_000_000_000.999_9996, 12.5]) {
      const value = intendedSendValue(ms);
      assert.match(value, /^\d+$/);
      const back = intendedSendMs([{ [INTENDED_SEND_HEADER]: Buffer.from(value) }]);
      assert.ok(Math.abs(back - ms) < 0.001, `${ms} -> ${value} -> ${back}`);
    }
    assert.equal(intendedSendValue(1_700_000_000_123.25), '1700000000123250000');
  });

  it('finds the header among others, as Buffer or string; -1 when absent or malformed', () => {
    const ns = '1700000000123456789';
    assert.equal(intendedSendMs([{ 'x-other': Buffer.from('1') }, { [INTENDED_SEND_HEADER]: ns }]), 1_700_000_000_123.456789);
    assert.equal(intendedSendMs(undefined), -1);
    assert.equal(intendedSendMs([{ 'x-other': Buffer.from('1') }]), -1);
    assert.equal(intendedSendMs([{ [INTENDED_SEND_HEADER]: Buffer.from('17000000001234x6789') }]), -1);
    assert.equal(intendedSendMs([{ [INTENDED_SEND_HEADER]: Buffer.from('') }]), -1);
  });
});
