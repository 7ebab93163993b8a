import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { faultProfile } from './harness/profile.js';
import { HEAP_BOMB, POISON_KINDS } from './harness/poison.js';
import { faultScenario } from './harness/run.js';
import { settleAndVerify } from './harness/verify.js';
import { sleep } from './harness/time.js';

const profile = faultProfile();
const HEAP_MB = 96;
const BOMBS = profile.name === 'ci' ? 2 : 5;

/**
 * A worker thread dies: the processor runs with a small V8 heap (NODE_OPTIONS, which worker
 * threads inherit) and gets messages that decode to ~200 MB. Node ends only the worker
 * (ERR_WORKER_OUT_OF_MEMORY); the pool replaces it and retries the batch. There is no way to make
 * a worker crash otherwise through the real processor (no config or env selects a worker file);
 * an out-of-heap worker goes through the same path as any crash.
 */
describe('a worker thread runs out of heap', () => {
  faultScenario(`${BOMBS} messages that each exhaust a ${HEAP_MB} MB worker heap, amid valid events and poison`, 'worker out of heap', {
    env: { NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}`, HIMARI_KAFKA_MAX_MESSAGE_BYTES: String(4 * 1024 * 1024) },
    // With a 4 MiB cap, "over the cap" is 100 kB no more.
    kinds: POISON_KINDS.filter((k) => k.code !== 'MESSAGE_TOO_LARGE'),
  }, async (s) => {
    const instance = await s.launch();
    const background = await s.load();
    const bombs = await s.load({ kinds: [HEAP_BOMB], rate: 200, count: BOMBS * 500, poisonEvery: 500 });
    await bombs.finished();
    // A death takes a worker's whole heap filling up, and each bomb's batch dies again on every
    // retry: waited for (bounded), not timed. Counted once after a fixed 2 s, a slow first death
    // left the second bomb's uncounted ("1 worker deaths for 2 heap bombs", passing on rerun).
    const deadline = Date.now() + 120_000;
    while (instance.logLines('worker task failed').length < BOMBS && Date.now() < deadline) await sleep(500);
    await background.stop();
    const deaths = instance.logLines('worker task failed').length;
    assert.ok(deaths >= BOMBS, `${deaths} worker deaths for ${BOMBS} heap bombs within 120 s of sending them\n${instance.tail()}`);
    s.notes.push(`${deaths} worker deaths`);
    await settleAndVerify(s);
  });
});
