import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readlinkSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { idleShare, parseMachineCpu, parseSchedstatWaitMs, parseStatCpuTicks, parseStatusKb, sampleMachineCpu, sampleProcess, sampleThreads, threadBreakdown } from '../../src/loadtest/proc-stats.js';

describe('/proc sampling', () => {
  it('reads utime+stime after a command name with spaces and parentheses', () => {
    const stat = '4242 (node (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 1234 567 0 0 20 0 11 0 99 1000 300 18446744073709551615';
    assert.equal(parseStatCpuTicks(stat), 1234 + 567);
  });

  it('reads kB lines of /proc/PID/status as bytes', () => {
    const status = 'Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n';
    assert.equal(parseStatusKb(status, 'VmRSS'), 102400 * 1024);
    assert.equal(parseStatusKb(status, 'VmHWM'), 204800 * 1024);
    assert.equal(parseStatusKb(status, 'VmSwap'), 0);
  });

  it('reads the machine\'s CPU from /proc/stat: idle and iowait of all ticks, and the idle share between two samples', () => {
    const first = parseMachineCpu('cpu  100 5 50 800 45 0 0 0 0 0\ncpu0 50 2 25 400 20 0 0 0 0 0\n');
    assert.deepEqual(first, { idleTicks: 845, totalTicks: 1000 });
    const second = parseMachineCpu('cpu  250 5 100 900 45 0 0 0 0 0\n');
    assert.equal(idleShare(first, second), 100 / 300);
    assert.equal(idleShare(first, first), 0, 'no time passed: nothing to tell');
    assert.throws(() => parseMachineCpu('cpu0 1 2 3 4 5'), /unreadable \/proc\/stat line/);
    const now = sampleMachineCpu();
    assert.ok(now !== null && now.totalTicks >= now.idleTicks && now.idleTicks >= 0);
  });

  it('samples this process; a missing one is null', () => {
    const s = sampleProcess(process.pid);
    assert.ok(s !== null && s.rssBytes > 0 && s.hwmBytes >= s.rssBytes && s.cpuMs >= 0);
    assert.equal(sampleProcess(2 ** 22 + 12345), null);
  });

  it('samples this process\'s threads: the main thread by its tid, a busy worker thread by the tid it reports', async () => {
    // The worker listens on its port after spinning, so its thread is still alive when sampled: a worker
    // whose script simply ended could exit (and leave /proc) between 'done' and the sample.
    const worker = new Worker(`const { readlinkSync } = require('node:fs'); const { parentPort } = require('node:worker_threads');
      parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').pop()));
      const end = Date.now() + 300; while (Date.now() < end) {}
      parentPort.on('message', () => process.exit(0));
      parentPort.postMessage('done');`, { eval: true });
    try {
      const messages: unknown[] = [];
      await new Promise<void>((resolve) => worker.on('message', (m) => { messages.push(m); if (m === 'done') resolve(); }));
      const tid = messages[0] as number;
      const threads = sampleThreads(process.pid);
      assert.equal(Number(readlinkSync('/proc/thread-self').split('/').pop()), process.pid, 'the main thread\'s tid is the pid');
      assert.ok(threads.some((t) => t.tid === process.pid));
      assert.ok(threads.every((t) => Number.isFinite(t.waitMs) && t.waitMs >= 0), 'every thread has its run-queue delay (0 without schedstat)');
      const busy = threads.find((t) => t.tid === tid);
      assert.ok(busy !== undefined && busy.cpuMs >= 100, `the worker spun 300 ms: ${JSON.stringify(busy)}`);
    } finally {
      await worker.terminate();
    }
  });

  it('reads the run-queue delay of a schedstat line, and refuses a line without one', () => {
    assert.equal(parseSchedstatWaitMs('491413 2500000 1\n'), 2.5);
    assert.throws(() => parseSchedstatWaitMs('garbage'), /unreadable \/proc schedstat line/);
  });

  it('splits a window\'s CPU by thread and names the busiest, whose µs per event bound one process', () => {
    const start = [{ tid: 100, comm: 'node', cpuMs: 1000, waitMs: 10 }, { tid: 101, comm: 'node', cpuMs: 500, waitMs: 0 }, { tid: 102, comm: 'node', cpuMs: 400, waitMs: 0 },
      { tid: 103, comm: 'rdk:broker1', cpuMs: 100, waitMs: 0 }, { tid: 104, comm: 'rdk:main', cpuMs: 50, waitMs: 0 }, { tid: 105, comm: 'node', cpuMs: 10, waitMs: 5 }];
    const end = [{ tid: 100, comm: 'node', cpuMs: 3000, waitMs: 510 }, { tid: 101, comm: 'node', cpuMs: 1500, waitMs: 100 }, { tid: 102, comm: 'node', cpuMs: 1600, waitMs: 300 },
      { tid: 103, comm: 'rdk:broker1', cpuMs: 600, waitMs: 20 }, { tid: 104, comm: 'rdk:main', cpuMs: 150, waitMs: 30 }, { tid: 105, comm: 'node', cpuMs: 110, waitMs: 45 },
      { tid: 106, comm: 'node', cpuMs: 40, waitMs: 60 }]; // started within the window
    const b = threadBreakdown(start, end, 100, [101, 102], 100_000)!;
    assert.deepEqual(b, {
      mainUsPerEvent: 20, pipelineUsPerEvent: 0, workerUsPerEvent: [10, 12], librdkafkaUsPerEvent: 6, librdkafkaBusiestUsPerEvent: 5, otherUsPerEvent: 1.4,
      busiestThread: 'main', busiestUsPerEvent: 20, ceilingEventsPerSec: 50_000,
      // Run-queue delay over the window, per event, by the same kinds of thread.
      waiting: { mainUsPerEvent: 5, pipelineUsPerEvent: 0, workerUsPerEvent: [1, 3], librdkafkaUsPerEvent: 0.5, otherUsPerEvent: 1 },
    });
    // With the pipeline in a thread of its own, its tid is reported apart.
    const split = threadBreakdown(start, end, 100, [101, 102], 100_000, 105)!;
    assert.equal(split.pipelineUsPerEvent, 1);
    assert.equal(split.otherUsPerEvent, 0.4);
    assert.equal(split.waiting.pipelineUsPerEvent, 0.4);
    assert.equal(split.waiting.otherUsPerEvent, 0.6);
    assert.equal(threadBreakdown(start, end, 100, [101, 102], 0), null);
    assert.equal(threadBreakdown(start, [], 100, [], 10), null);
  });
});
