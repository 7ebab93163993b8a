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
  it('runs each task once when a result handler enqueues the next one synchronously', async () => {
    const pool = new CheckWorkerPool({ filename: WORKER, threads: 1, taskRetries: 0, log: pino({ level: 'silent' }), metrics: new Metrics() });
    const results: number[] = [];
    let prepared = 0;
    const TASKS = 5;
    await new Promise<void>((resolve, reject) => {
      const enqueue = (): void => pool.enqueue(0, () => {
        const id = prepared++;
        return {
          task: { batch: emptyBatch(), topic: 't', partition: id },
          repack: emptyBatch,
          onResult: (r: CheckResult) => {
            results.push(id);
            assert.equal(r.count, 0);
            if (prepared < TASKS) enqueue(); // synchronously, from inside the handler
            else if (results.length === TASKS) resolve();
          },
          onFailure: reject,
        };
      });
      enqueue();
    });
    await new Promise((r) => setTimeout(r, 100)); // a duplicate run would surface here
    assert.deepEqual(results, [0, 1, 2, 3, 4]);
    await pool.destroy();
  });
});
