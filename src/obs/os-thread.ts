import { readlinkSync } from 'node:fs';

/**
 * The calling thread's id in /proc (Linux; 0 elsewhere), so that a load test can tell a thread's
 * CPU apart from the others' in /proc/PID/task (Node names all of its threads "node").
 */
export function osThreadId(): number {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop()) || 0;
  } catch {
    return 0;
  }
}
