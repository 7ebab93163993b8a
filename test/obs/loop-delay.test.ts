import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoopDelayMonitor } from '../../src/obs/loop-delay.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('event-loop delay monitor', () => {
  it('reports a blocked loop with the length of the block, once per period, and nothing after stop', async () => {
    const reports: number[] = [];
    const monitor = new LoopDelayMonitor((s) => reports.push(s), 100);
    try {
      await sleep(250); // a sample or two of an idle loop first
      const end = Date.now() + 150;
      while (Date.now() < end) { /* the loop is blocked for 150 ms */ }
      await sleep(250);
      // The 10 ms timer fired at least ~140 ms late during the block (the block is wall time:
      // a busier machine only makes it later).
      assert.ok(Math.max(...reports) >= 0.12, `the block was seen: ${JSON.stringify(reports)}`);
      assert.ok(reports.every((s) => Number.isFinite(s) && s >= 0));
    } finally {
      monitor.stop();
    }
    const seen = reports.length;
    await sleep(250);
    assert.equal(reports.length, seen, 'no report after stop');
  });
});
