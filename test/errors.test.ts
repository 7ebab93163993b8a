import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { ErrorCode, HimariError, backoffMs, errorMessage, isRetriable } from '../src/errors.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every TypeScript source of the processor (src/ and workers/), as text. */
function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) out.push(readFileSync(path, 'utf8'));
    }
  };
  walk(join(ROOT, 'src'));
  walk(join(ROOT, 'workers'));
  return out;
}

/** What pino writes for `log.error({ err }, msg)`, parsed. */
function logged(err: unknown): Record<string, unknown> {
  let line = '';
  const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { line += String(chunk); done(); } }));
  log.error({ err }, 'failed');
  return (JSON.parse(line) as { err: Record<string, unknown> }).err;
}

describe('error codes (one row per code)', () => {
  const all = sources().join('\n');
  const errorsTs = readFileSync(join(ROOT, 'src/errors.ts'), 'utf8');
  for (const code of Object.values(ErrorCode)) {
    describe(code, () => {
      it('is raised somewhere in the processor, and documented where it is declared', () => {
        assert.match(all, new RegExp(`ErrorCode\\.${code}\\b`), `${code} is never raised: remove it or use it`);
        assert.match(errorsTs, new RegExp(`/\\*\\*(?:(?!\\*/)[\\s\\S])*\\*/\\s*${code}: '${code}'`), `${code} has no doc comment`);
      });

      it('carries its code, message, cause and context, retriable only when said', () => {
        const cause = new Error('the reason below');
        const plain = new HimariError(code, `a ${code} happened`);
        assert.equal(plain.code, code);
        assert.equal(plain.name, 'HimariError');
        assert.equal(plain.message, `a ${code} happened`);
        assert.equal(plain.retriable, false);
        assert.equal(isRetriable(plain), false);
        const full = new HimariError(code, 'with more', { cause, retriable: true, context: { topic: 't', partition: 3 } });
        assert.equal(full.cause, cause);
        assert.equal(isRetriable(full), true);
        assert.deepEqual(full.context, { topic: 't', partition: 3 });
        assert.ok(full instanceof Error);
      });

      it('reaches the log whole through pino\'s err serializer: code, context, stack and cause', () => {
        const err = logged(new HimariError(code, 'logged', { cause: new Error('root cause'), context: { offset: 42 } }));
        assert.equal(err.code, code);
        assert.equal(err.message, 'logged: root cause'); // pino's serializer appends the causes' messages
        assert.deepEqual(err.context, { offset: 42 });
        assert.match(String(err.stack), /HimariError: logged/);
        assert.match(String(err.stack), /caused by: Error: root cause/);
      });
    });
  }

  it('no plain Error is thrown by the processor: every error it raises has a code', () => {
    const plain = sources().flatMap((s) => s.split('\n')).filter((l) => /\bnew (Range|Type)?Error\(/.test(l));
    assert.deepEqual(plain, []);
  });
});

describe('isRetriable', () => {
  it('takes a typed error\'s word, else the classifier\'s, else false', () => {
    assert.equal(isRetriable(new HimariError(ErrorCode.KAFKA_ERROR, 'x', { retriable: true }), () => false), true);
    assert.equal(isRetriable(new HimariError(ErrorCode.KAFKA_ERROR, 'x'), () => true), false);
    assert.equal(isRetriable(new Error('ECONNRESET'), (e) => /ECONNRESET/.test(errorMessage(e))), true);
    assert.equal(isRetriable(new Error('x')), false);
    assert.equal(isRetriable('a string'), false);
    assert.equal(isRetriable(null), false);
  });
});

describe('backoffMs', () => {
  it('grows exponentially from the initial wait up to the cap, jittered over [0, bound)', () => {
    assert.equal(backoffMs(0, 100, 5000, () => 0.999999) < 100, true);
    assert.equal(backoffMs(3, 100, 5000, () => 0.5), 400);
    assert.equal(backoffMs(10, 100, 5000, () => 0.5), 2500);
    assert.equal(backoffMs(1000, 100, 5000, () => 0.5), 2500);
    assert.equal(backoffMs(5, 100, 5000, () => 0), 0);
  });
});
