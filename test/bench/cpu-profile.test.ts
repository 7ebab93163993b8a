import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSummary, shortUrl, summarizeCpuProfile, type CpuProfile } from '../../bench/cpu-profile.js';

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
});
