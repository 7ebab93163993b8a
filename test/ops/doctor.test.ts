import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { PROBES, doctorPassed, runDoctor, type Probe } from '../../src/ops/doctor.js';
import { doctorJson, doctorText } from '../../src/ops/doctor-report.js';

const config = loadConfig({ env: {} });

describe('doctor runner and report', () => {
  it('runs the probes at once, in order, a throwing one as a failure and a hanging one cut off', async () => {
    const started: string[] = [];
    const probes: Probe[] = [
      { name: 'slow', run: async () => { started.push('slow'); await new Promise((r) => setTimeout(r, 50)); return [{ name: 'slow', status: 'ok', detail: 'fine' }]; } },
      { name: 'broken', run: async () => { started.push('broken'); throw new Error('boom'); } },
      { name: 'stuck', run: () => { started.push('stuck'); return new Promise(() => {}); } },
      { name: 'meh', run: async () => [{ name: 'meh', status: 'warn', detail: 'odd', fix: 'look' }] },
    ];
    const results = await runDoctor(config, { timeoutMs: 100, configSource: 'test', probes });
    assert.deepEqual(started, ['slow', 'broken', 'stuck']); // all started before any finished
    assert.deepEqual(results.map((r) => [r.name, r.status]), [['config', 'ok'], ['slow', 'ok'], ['broken', 'fail'], ['stuck', 'fail'], ['meh', 'warn']]);
    assert.equal(results[2]!.detail, 'boom');
    assert.match(results[3]!.detail, /no answer within 0\.2 s/);
    assert.equal(doctorPassed(results), false);
    assert.equal(doctorPassed(results.filter((r) => r.status !== 'fail')), true);
  });

  it('a store left out of sink.stores is not probed: its line says so, and nowhere is connected to', async () => {
    // Both on closed ports: a probe would fail them.
    const redisOnly = loadConfig({ env: { HIMARI_SINK_STORES: 'redis', HIMARI_POSTGRES_URL: 'postgres://u@127.0.0.1:1/x', HIMARI_REDIS_URL: 'redis://127.0.0.1:1/0' } });
    const stores = PROBES.filter((p) => p.name !== 'kafka');
    const results = await runDoctor(redisOnly, { timeoutMs: 500, configSource: 'test', probes: stores });
    assert.deepEqual(results.map((r) => [r.name, r.status]), [['config', 'ok'], ['redis', 'fail'], ['postgres', 'ok']]);
    assert.equal(results[2]!.detail, 'not used (sink.stores leaves it out): not checked');
  });

  it('prints one line per check with its fix, then the verdict; JSON says the same', () => {
    const results = [
      { name: 'config', status: 'ok' as const, detail: 'valid (test)' },
      { name: 'kafka', status: 'fail' as const, detail: 'no broker answered at h:1 within 3 s', fix: 'is the broker running?' },
      { name: 'redis memory', status: 'warn' as const, detail: 'evicts', fix: 'noeviction' },
    ];
    assert.equal(doctorText(results), [
      'ok   config: valid (test)',
      'FAIL kafka: no broker answered at h:1 within 3 s: is the broker running?',
      'warn redis memory: evicts: noeviction',
      'doctor: not ready (1 failed, 1 warning)',
      '',
    ].join('\n'));
    assert.match(doctorText([results[0]!, results[2]!]), /^doctor: ready to run \(1 warning\)$/m);
    assert.deepEqual(JSON.parse(doctorJson(results)), { ok: false, checks: results });
  });
});
