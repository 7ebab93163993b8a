import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readlinkSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { parseStatCpuTicks, parseStatusKb, sampleProcess, sampleThreads, threadBreakdown } from '../../src/loadtest/proc-stats.js';

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

  it('samples this process; a missing one is null', () => {
    const s = sampleProcess(process.pid);
    assert.ok(s !== null && s.rssBytes > 0 && s.hwmBytes >= s.rssBytes && s.cpuMs >= 0);
    assert.equal(sampleProcess(2 ** 22 + 12345), null);
  });

  it('samples this process\'s threads: the main thread by its tid, a busy worker thread by the tid it reports', async () => {
    const worker = new Worker(`const { readlinkSync } = require('node:fs'); const { parentPort } = require('node:worker_threads');
      parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').pop()));
      const end = Date.now() + 300; while (Date.now() < end) {}
      parentPort.postMessage('done');`, { eval: true });
    const messages: unknown[] = [];
    await new Promise<void>((resolve) => worker.on('message', (m) => { messages.push(m); if (m === 'done') resolve(); }));
    const tid = messages[0] as number;
    const threads = sampleThreads(process.pid);
    assert.equal(Number(readlinkSync('/proc/thread-self').split('/').pop()), process.pid, 'the main thread\'s tid is the pid');
    assert.ok(threads.some((t) => t.tid === process.pid));
    const busy = threads.find((t) => t.tid === tid);
    assert.ok(busy !== undefined && busy.cpuMs >= 100, `the worker spun 300 ms: ${JSON.stringify(busy)}`);
    await worker.terminate();
  });

  it('splits a window\'s CPU by thread and names the busiest, whose µs per event bound one process', () => {
    const start = [{ tid: 100, comm: 'node', cpuMs: 1000 }, { tid: 101, comm: 'node', cpuMs: 500 }, { tid: 102, comm: 'node', cpuMs: 400 },
      { tid: 103, comm: 'rdk:broker1', cpuMs: 100 }, { tid: 104, comm: 'rdk:main', cpuMs: 50 }, { tid: 105, comm: 'node', cpuMs: 10 }];
    const end = [{ tid: 100, comm: 'node', cpuMs: 3000 }, { tid: 101, comm: 'node', cpuMs: 1500 }, { tid: 102, comm: 'node', cpuMs: 1600 },
      { tid: 103, comm: 'rdk:broker1', cpuMs: 600 }, { tid: 104, comm: 'rdk:main', cpuMs: 150 }, { tid: 105, comm: 'node', cpuMs: 110 },
      { tid: 106, comm: 'node', cpuMs: 40 }]; // started within the window
    const b = threadBreakdown(start, end, 100, [101, 102], 100_000)!;
    assert.deepEqual(b, {
      mainUsPerEvent: 20, pipelineUsPerEvent: 0, workerUsPerEvent: [10, 12], librdkafkaUsPerEvent: 6, librdkafkaBusiestUsPerEvent: 5, otherUsPerEvent: 1.4,
      busiestThread: 'main', busiestUsPerEvent: 20, ceilingEventsPerSec: 50_000,
    });
    // With the pipeline in a thread of its own, its tid is reported apart.
    const split = threadBreakdown(start, end, 100, [101, 102], 100_000, 105)!;
    assert.equal(split.pipelineUsPerEvent, 1);
    assert.equal(split.otherUsPerEvent, 0.4);
    assert.equal(threadBreakdown(start, end, 100, [101, 102], 0), null);
    assert.equal(threadBreakdown(start, [], 100, [], 10), null);
  });
});
