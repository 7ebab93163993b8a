import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStatCpuTicks, parseStatusKb, sampleProcess } from '../../src/loadtest/proc-stats.js';

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
});
