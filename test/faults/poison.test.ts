import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { FAULT_MAX_MESSAGE_BYTES, HEAP_BOMB, kindOfKey, POISON_KINDS, poisonKey } from './harness/poison.js';

/**
 * The fault suite's poison, against the decoder alone: every kind must get its code from
 * decodeEvent as the check worker calls it (in a worker thread, whose stack is not the main
 * thread's), except the one the pipeline refuses by size before any decoding.
 */
function decodeInWorker(): Promise<Array<{ name: string; got: string[] }>> {
  const code = `
    const { parentPort } = await import('node:worker_threads');
    const { decodeEvent } = await import(${JSON.stringify(new URL('../../src/codec/decode.js', import.meta.url).href)});
    const { DEFAULT_KNOWN_VENUES } = await import(${JSON.stringify(new URL('../../src/checks/thresholds.js', import.meta.url).href)});
    const { POISON_KINDS } = await import(${JSON.stringify(new URL('./harness/poison.js', import.meta.url).href)});
    const venues = new Set(DEFAULT_KNOWN_VENUES);
    parentPort.postMessage(POISON_KINDS.map((k) => ({ name: k.name, got: [0, 1, 2, 17].map((n) => {
      const b = k.make(n) ?? Buffer.alloc(0);
      const r = decodeEvent(b, 0, b.length, venues);
      return r.ok ? 'ACCEPTED' : r.failure.code;
    }) })));
  `;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.once('message', (m: Array<{ name: string; got: string[] }>) => { resolve(m); void w.terminate(); });
    w.once('error', reject);
  });
}

describe('fault suite poison kinds', () => {
  it('are at least 25, named uniquely, and keyed so a dead letter names its kind', () => {
    assert.ok(POISON_KINDS.length >= 25, `${POISON_KINDS.length} kinds`);
    assert.equal(new Set(POISON_KINDS.map((k) => k.name)).size, POISON_KINDS.length);
    for (const k of [...POISON_KINDS, HEAP_BOMB]) assert.equal(kindOfKey(poisonKey(k.name, '3.14')), k.name);
    assert.equal(kindOfKey('BTC-USDT'), null);
  });

  it('each get their code from the decoder in a worker thread (the size cap aside)', async () => {
    const results = new Map((await decodeInWorker()).map((r) => [r.name, r.got]));
    for (const k of POISON_KINDS) {
      const want = k.code === 'MESSAGE_TOO_LARGE' ? null : k.code;
      if (want === null) {
        for (const n of [0, 1, 2]) assert.ok((k.make(n)?.length ?? 0) > FAULT_MAX_MESSAGE_BYTES, `${k.name} must exceed the cap`);
        continue;
      }
      assert.deepEqual(results.get(k.name), [want, want, want, want], k.name);
    }
  });

  it('all fit under the cap but the one that must not (the others would be MESSAGE_TOO_LARGE)', () => {
    for (const k of POISON_KINDS) {
      if (k.code === 'MESSAGE_TOO_LARGE') continue;
      assert.ok((k.make(5)?.length ?? 0) <= FAULT_MAX_MESSAGE_BYTES, k.name);
    }
  });
});
