import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { interruptProgress, Progress, type ProgressStream } from '../../src/cli/progress.js';
import { CLI } from '../helpers/processor.js';
import { recordingFiles } from '../helpers/recordings.js';

class FakeStream implements ProgressStream {
  chunks: string[] = [];
  constructor(readonly isTTY: boolean, readonly columns = 40) {}
  write(chunk: string): boolean { this.chunks.push(chunk); return true; }
  get text(): string { return this.chunks.join(''); }
}

const CLEAR = '\r\x1b[K';

describe('progress line', () => {
  it('writes nothing but the lasting lines when the stream is not a terminal', () => {
    const s = new FakeStream(false);
    const p = new Progress(s);
    assert.equal(p.active, false);
    p.step('migrate: schema');
    p.update('replay: 1024 of 9946 messages');
    p.print('a line that stays');
    p.update('replay: 2048 of 9946 messages');
    p.done();
    interruptProgress();
    assert.equal(s.text, 'a line that stays\n');
  });

  it('on a terminal: one line redrawn in place at most once per interval, cut to the width, cleared at the end', () => {
    const s = new FakeStream(true, 30);
    let now = 1000;
    const p = new Progress(s, { intervalMs: 250, now: () => now });
    p.update('first');
    assert.deepEqual(s.chunks, [`${CLEAR}first\r`]);
    now += 100;
    p.update('too soon');
    assert.equal(s.chunks.length, 1, 'within the interval: not drawn');
    now += 200;
    p.update('a status far longer than the thirty columns');
    assert.equal(s.chunks[1], `${CLEAR}a status far longer than t...\r`);
    p.print('kept');
    assert.deepEqual(s.chunks.slice(2, 4), [CLEAR, 'kept\n'], 'a lasting line replaces the status line');
    now += 1000;
    p.update('after');
    assert.equal(s.chunks.at(-1), `${CLEAR}after\r`);
    p.done();
    assert.equal(s.chunks.at(-1), CLEAR);
    const n = s.chunks.length;
    p.done();
    assert.equal(s.chunks.length, n, 'nothing left to clear');
  });

  it('a step is drawn at once; interruptProgress clears what is on screen before a message', () => {
    const s = new FakeStream(true);
    let now = 0;
    const p = new Progress(s, { now: () => now });
    p.update('reading a');
    now += 10;
    p.step('reading b');
    assert.equal(s.chunks.at(-1), `${CLEAR}reading b\r`);
    interruptProgress();
    assert.equal(s.chunks.at(-1), CLEAR);
    p.done();
  });

  it('replay under a pseudo-terminal shows its progress; its lasting lines are those of a pipe', { skip: recordingFiles().length === 0 || spawnSync('script', ['--version']).status !== 0 ? 'no recordings or no script(1)' : false }, () => {
    const files = recordingFiles();
    const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
    const command = [process.execPath, CLI, 'replay', '--dry-run', ...files].map(quote).join(' ');
    const tty = spawnSync('script', ['-qec', `${command} 2>&1`, '/dev/null'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(tty.status, 0, tty.stderr);
    assert.match(tty.stdout, /\r\x1b\[Kreplay: reading .*KRAKEN\.ws\.50\.0 \(file \d+ of \d+\)/);
    const piped = spawnSync(process.execPath, [CLI, 'replay', '--dry-run', ...files], { encoding: 'utf8', timeout: 30_000 });
    assert.doesNotMatch(piped.stderr, /\x1b|\r/, 'no progress when stderr is not a terminal');
    // What stays on the terminal once the status lines are taken out is what a pipe gets.
    const lasting = tty.stdout.replace(/\r\n/g, '\n').replace(/\r\x1b\[K[^\r\n]*\r/g, '').replaceAll('\r\x1b[K', '');
    assert.equal(lasting, piped.stderr);
  });
});
