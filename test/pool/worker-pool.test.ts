import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { BatchPacker, packedSize } from '../../src/batch/pack.js';
import { Metrics } from '../../src/obs/metrics.js';
import { CheckWorkerPool } from '../../src/pool/worker-pool.js';
import type { CheckResult } from '../../src/pool/task.js';

const WORKER = fileURLToPath(new URL('../../workers/check-worker.js', import.meta.url));

function emptyBatch(): ArrayBuffer {
  const packer = new BatchPacker(new ArrayBuffer(packedSize(0, 0)));
  packer.reset(new ArrayBuffer(packedSize(0, 0)), 0);
  return packer.finish();
}

describe('check worker pool', () => {
  it('runs each task once when the result stage enqueues the next one synchronously', async () => {
    const pool = new CheckWorkerPool<number>({ filename: WORKER, threads: 1, taskRetries: 0, log: pino({ level: 'silent' }), metrics: new Metrics() });
    const results: number[] = [];
    let prepared = 0;
    const TASKS = 5;
    const enqueue = (): void => pool.enqueue(0, () => ({ task: { batch: emptyBatch(), topic: 't', partition: prepared }, dispatched: prepared++ }));
    await new Promise<void>((resolve, reject) => {
      pool.connect({ repack: emptyBatch, split: () => null }, {
        onResult: (r: CheckResult, id: number) => {
          results.push(id);
          assert.equal(r.count, 0);
          if (prepared < TASKS) enqueue(); // synchronously, from inside the stage
          else if (results.length === TASKS) resolve();
        },
        onFailure: reject,
      });
      enqueue();
    });
    await new Promise((r) => setTimeout(r, 100)); // a duplicate run would surface here
    assert.deepEqual(results, [0, 1, 2, 3, 4]);
    await pool.destroy();
  });

  it('skips a builder that finds nothing to run, and runs control tasks in slot order with their results', async () => {
    const pool = new CheckWorkerPool<string>({ filename: WORKER, threads: 1, taskRetries: 0, log: pino({ level: 'silent' }), metrics: new Metrics() });
    const order: string[] = [];
    pool.connect({ repack: emptyBatch, split: () => null }, { onResult: (_r, d) => order.push(d), onFailure: (err) => { throw err; } });
    pool.enqueue(0, () => ({ task: { batch: emptyBatch(), topic: 't', partition: 0 }, dispatched: 'first' }));
    pool.enqueue(0, () => null);
    const control = pool.control(0, { batch: emptyBatch(), topic: '', partition: -1 }).then((r) => { order.push(`control ${r.count}`); });
    pool.enqueue(0, () => ({ task: { batch: emptyBatch(), topic: 't', partition: 0 }, dispatched: 'last' }));
    await control;
    for (let i = 0; i < 100 && order.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(order, ['first', 'control 0', 'last']);
    await pool.destroy();
  });
});
