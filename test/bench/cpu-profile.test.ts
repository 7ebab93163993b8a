import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findStalls, formatStalls, formatSummary, shortUrl, summarizeCpuProfile, type CpuProfile } from '../../bench/cpu-profile.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0 });

/** root → main → { hot (two nodes of the same function), cold }, plus (idle) and (garbage collector). */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 6, 7] },
    { id: 2, callFrame: frame('main', 'file:///app/dist/src/pipeline.js', 9), children: [3, 4, 5] },
    { id: 3, callFrame: frame('hot', 'file:///app/node_modules/msgpackr/unpack.js', 99) },
    { id: 4, callFrame: frame('cold', 'file:///app/dist/src/sinks/core.js', 0) },
    { id: 5, callFrame: frame('hot', 'file:///app/node_modules/msgpackr/unpack.js', 99) },
    { id: 6, callFrame: frame('(idle)') },
    { id: 7, callFrame: frame('(garbage collector)') },
  ],
  startTime: 0,
  endTime: 1000,
  samples: [3, 5, 4, 6, 6, 7, 2, 3],
  timeDeltas: [100, 100, 50, 300, 300, 50, 25, 75],
};

describe('cpu profile summary', () => {
  it('charges each sample delta to its node and adds up nodes of one function', () => {
    const s = summarizeCpuProfile(profile);
    assert.equal(s.totalUs, 1000);
    assert.equal(s.busyUs, 400);
    assert.deepEqual(s.frames.map((f) => [f.frame, f.selfUs]), [
      ['(idle)', 600],
      ['hot (msgpackr/unpack.js:100)', 275],
      ['(garbage collector)', 50],
      ['cold (src/sinks/core.js:1)', 50],
      ['main (src/pipeline.js:10)', 25],
    ]);
    assert.equal(s.frames[1]!.share, 0.275);
  });

  it('ignores negative deltas and samples past the deltas', () => {
    const s = summarizeCpuProfile({ ...profile, samples: [3, 4, 5], timeDeltas: [-5, 10] });
    assert.equal(s.totalUs, 10);
    assert.deepEqual(s.frames.map((f) => f.frame), ['cold (src/sinks/core.js:1)', 'hot (msgpackr/unpack.js:100)']);
  });

  it('shortens script URLs to the package or dist path', () => {
    assert.equal(shortUrl('file:///w/node_modules/pg/lib/client.js'), 'pg/lib/client.js');
    assert.equal(shortUrl('file:///w/dist/workers/check-worker.js'), 'workers/check-worker.js');
    assert.equal(shortUrl('node:internal/streams/writable'), 'node:internal/streams/writable');
    assert.equal(shortUrl(''), '');
  });

  it('formats the top frames with shares of all and of busy time', () => {
    const md = formatSummary('main thread', summarizeCpuProfile({ ...profile, timeDeltas: profile.timeDeltas.map((d) => d * 1000) }), 2);
    assert.match(md, /^### main thread\n\nsampled 1\.0 s, busy \(not idle\) 0\.4 s/);
    assert.match(md, /\| 600 \| 60\.0 \|  \| `\(idle\)` \|/);
    assert.match(md, /\| 275 \| 27\.5 \| 68\.8 \| `hot \(msgpackr\/unpack\.js:100\)` \|/);
    assert.equal(md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| self')).length, 2);
  });

  /**
   * root → { (idle), (garbage collector), processTicks (node internal) → onResult (app) → encode (package) }:
   * samples 1 ms apart, except one 30 ms late one.
   */
  const loop: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3, 4] },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('(garbage collector)') },
      { id: 4, callFrame: frame('processTicksAndRejections', 'node:internal/process/task_queues', 66), children: [5] },
      { id: 5, callFrame: frame('onResult', 'file:///app/dist/src/sinks/result-router.js', 18), children: [6] },
      { id: 6, callFrame: frame('encode', 'file:///app/node_modules/msgpackr/pack.js', 9) },
    ],
    startTime: 0,
    endTime: 0,
    //        idle ×5         | a stall: 20 × 1 ms in encode, one 30 ms late sample, 5 ms GC | idle | 10 ms busy (short) | idle
    samples: [2, 2, 2, 2, 2, ...Array<number>(20).fill(6), 5, 3, 3, 3, 3, 3, 2, 2, ...Array<number>(10).fill(6), 2],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, ...Array<number>(20).fill(1000), 30_000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, ...Array<number>(10).fill(1000), 1000],
  };

  it('finds the runs of non-idle samples at least minMs long, and the time the thread waited for a core in them', () => {
    const stalls = findStalls(loop, { minMs: 20 });
    assert.equal(stalls.length, 1, 'the 10 ms run is shorter than 20 ms');
    const s = stalls[0]!;
    assert.equal(s.startMs, 5);
    assert.equal(s.durationMs, 55);
    // One sample 30 ms after the one before, at a 1 ms interval: 29 ms without a core.
    assert.equal(s.waitingMs, 29);
    assert.equal(s.gcMs, 5);
    assert.deepEqual(s.frames.map((f) => [f.frame, f.selfUs]), [
      ['onResult (src/sinks/result-router.js:19)', 30_000], ['encode (msgpackr/pack.js:10)', 20_000], ['(garbage collector)', 5000]]);
    // Entered from the application's callback, not from Node's tick loop; GC stands for itself.
    assert.deepEqual(s.entries.map((f) => [f.frame, f.selfUs]), [['onResult (src/sinks/result-router.js:19)', 50_000], ['(garbage collector)', 5000]]);
    assert.equal(findStalls(loop, { minMs: 10 }).length, 2);
    assert.equal(findStalls(loop, { minMs: 56 }).length, 0);
  });

  it('formats a thread\'s stalls: totals first, then the longest in time order', () => {
    const md = formatStalls(findStalls(loop, { minMs: 10 }), 10, 1);
    assert.match(md, /^Stalls of 10 ms or more \(the event loop not back in its poll\): 2, 65 ms in all, 29 ms of it waiting/);
    const rows = md.split('\n').filter((l) => /^\| \d/.test(l));
    assert.deepEqual(rows, ['| 0.01 | 55.0 | 29.0 | 5.0 | `onResult (src/sinks/result-router.js:19)` 50, `(garbage collector)` 5 | `onResult (src/sinks/result-router.js:19)` 30, `encode (msgpackr/pack.js:10)` 20, `(garbage collector)` 5 |']);
    assert.match(formatStalls([], 20), /: 0, 0 ms in all/);
  });
});
