import { PackedBatch } from '../../src/batch/pack.js';
import { checkBatch } from '../../workers/check-worker.js';
import type { CheckResult, CheckTask } from '../../src/pool/task.js';

/** The value of the message that kills any worker thread that checks it. */
export const CRASH_MARKER = Buffer.from('crash this worker');

/**
 * The real check worker, except that a batch holding a message equal to CRASH_MARKER ends its
 * thread (process.exit in a worker ends only that thread), every time: a message that crashes
 * whatever worker decodes it.
 */
export default function crashOnMarker(task: CheckTask): CheckResult {
  const batch = new PackedBatch(task.batch);
  for (let i = 0; i < batch.count; i++) {
    const value = batch.bytes.subarray(batch.messageStart(i), batch.messageEnd(i));
    if (Buffer.compare(value, CRASH_MARKER) === 0) process.exit(71);
  }
  return checkBatch(task);
}
