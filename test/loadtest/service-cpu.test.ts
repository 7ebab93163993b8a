import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { busyMs, parseMachineCpu, ticksPerSecond } from '../../src/loadtest/proc-stats.js';
import { machineBudgetText, sampleServiceCpu, serviceOf, serviceUsPerEvent } from '../../src/loadtest/service-cpu.js';

/** A /proc-like directory: one entry per process with its comm, cmdline and stat (utime, stime in ticks). */
function fakeProc(processes: Array<{ pid: number; comm: string; cmdline?: string[]; utime: number; stime: number }>): string {
  const root = mkdtempSync(join(tmpdir(), 'himari-proc-'));
  mkdirSync(join(root, 'self'));
  for (const p of processes) {
    const dir = join(root, String(p.pid));
    mkdirSync(dir);
    writeFileSync(join(dir, 'comm'), `${p.comm}\n`);
    writeFileSync(join(dir, 'cmdline'), (p.cmdline ?? [p.comm]).join('\0') + '\0');
    writeFileSync(join(dir, 'stat'), `${p.pid} (${p.comm}) S 1 1 1 0 -1 4194304 0 0 0 0 ${p.utime} ${p.stime} 0 0 20 0 1 0 1 1 1`);
  }
  return root;
}

describe('the services\' CPU beside the processor', () => {
  const roots: string[] = [];
  after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

  it('tells PostgreSQL, Redis and the broker from other processes by name', () => {
    assert.equal(serviceOf('postgres\n', ''), 'postgres');
    assert.equal(serviceOf('redis-server', ''), 'redis');
    assert.equal(serviceOf('java', 'java\0-Xmx512m\0-cp\0/x/lib/*\0kafka.Kafka\0/x/server.properties\0'), 'kafka');
    assert.equal(serviceOf('java', 'java\0-jar\0flink.jar\0'), null, 'another JVM');
    assert.equal(serviceOf('node', 'node\0dist/src/cli.js\0run\0'), null, 'the processor');
    assert.equal(serviceOf('beam.smp', ''), null);
  });

  it('sums each service\'s processes and divides the difference of two samples by the events', () => {
    // The same processes twice: [utime, stime] in ticks at the first sample, then at the second.
    const processes = [
      { pid: 10, comm: 'postgres', ticks: [[100, 50], [200, 50]] },
      { pid: 11, comm: 'postgres', ticks: [[10, 5], [60, 5]] },
      { pid: 20, comm: 'redis-server', ticks: [[300, 100], [350, 150]] },
      { pid: 30, comm: 'java', cmdline: ['java', 'kafka.Kafka'], ticks: [[1000, 0], [1020, 0]] },
      { pid: 40, comm: 'node', ticks: [[5000, 5000], [9000, 9000]] },
    ];
    const [before, later] = [0, 1].map((n) => fakeProc(processes.map(({ ticks, ...p }) => ({ ...p, utime: ticks[n]![0]!, stime: ticks[n]![1]! }))));
    roots.push(before!, later!);
    const a = sampleServiceCpu(100, before!);
    assert.deepEqual(a, { postgres: { cpuMs: 1650, processes: 2 }, redis: { cpuMs: 4000, processes: 1 }, kafka: { cpuMs: 10000, processes: 1 } });
    const b = sampleServiceCpu(100, later!);
    // 150 ticks of PostgreSQL = 1,500 ms over 100,000 events = 15 µs each; Redis 1,000 ms; the broker 200 ms.
    assert.deepEqual(serviceUsPerEvent(a, b, 100_000), { postgres: 15, redis: 10, kafka: 2 });
  });

  it('says null for a service with no process here, and reads nothing from a missing /proc', () => {
    const root = fakeProc([{ pid: 10, comm: 'postgres', utime: 1, stime: 1 }]);
    roots.push(root);
    const s = sampleServiceCpu(100, root);
    assert.deepEqual(serviceUsPerEvent(s, s, 1000), { postgres: 0, redis: null, kafka: null });
    assert.deepEqual(sampleServiceCpu(100, join(root, 'absent')), { postgres: { cpuMs: 0, processes: 0 }, redis: { cpuMs: 0, processes: 0 }, kafka: { cpuMs: 0, processes: 0 } });
  });

  it('splits the machine\'s busy time per event and gives the rate the cores allow', () => {
    const from = parseMachineCpu('cpu  1000 0 0 9000 0 0 0 0\n');
    const to = parseMachineCpu('cpu  1000 0 200 9000 0 0 0 0\n');
    assert.equal(busyMs(from, to), (200 * 1000) / ticksPerSecond());
    const text = machineBudgetText({ cpuUsPerEvent: 17.3, machineUsPerEvent: 40, services: { postgres: 10, redis: 6, kafka: null } }, 2);
    assert.equal(text, 'busy 40 µs per event: the processor 17.3, PostgreSQL 10, Redis 6, the rest 6.7 (not on this machine: Kafka broker); 2 cores / 40 µs = 50,000 events/s at these costs');
    assert.equal(machineBudgetText({ cpuUsPerEvent: 1, machineUsPerEvent: null, services: { postgres: null, redis: null, kafka: null } }, 2), null);
  });
});
