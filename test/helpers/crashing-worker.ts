import { existsSync, writeFileSync } from 'node:fs';
import { checkBatch } from '../../workers/check-worker.js';
import type { CheckResult, CheckTask } from '../../src/pool/task.js';

/**
 * The real check worker, except that the first non-empty task anywhere in the pool kills its
 * thread (process.exit in a worker ends only that thread), as a crash would. The marker file,
 * named by HIMARI_TEST_CRASH_MARKER, makes it happen once per test.
 */
export default function crashOnce(task: CheckTask): CheckResult {
  const marker = process.env.HIMARI_TEST_CRASH_MARKER;
  if (marker !== undefined && task.partition >= 0 && !existsSync(marker)) {
    writeFileSync(marker, String(task.partition));
    process.exit(70);
  }
  return checkBatch(task);
}
