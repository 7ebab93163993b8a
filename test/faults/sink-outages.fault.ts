import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { ProxyMode } from '../helpers/tcp-proxy.js';
import { waitUntil } from '../helpers/services.js';
import { faultScenario } from './harness/run.js';
import { faultProfile } from './harness/profile.js';
import { settleAndVerify } from './harness/verify.js';
import { sleep } from './harness/time.js';

const profile = faultProfile();
const SLOW_MS = 200;

/**
 * Redis and PostgreSQL, each refused (connections closed at once), black-holed (accepted, never
 * answered) and slowed (every call 200 ms longer) for the profile's outage, under load; then
 * healed. Nothing may be lost, duplicated or dead-lettered for it.
 */
describe(`sink faults for ${profile.outageMs / 1000} s under load`, () => {
  for (const sink of ['redis', 'pg'] as const) {
    for (const mode of ['refuse', 'blackhole', 'slow'] as const satisfies readonly ProxyMode[]) {
      const name = `${sink === 'pg' ? 'PostgreSQL' : 'Redis'} ${mode === 'slow' ? `slowed ${SLOW_MS} ms/call` : mode === 'refuse' ? 'refused' : 'black-holed'}`;
      faultScenario(name, name, {}, async (s) => {
        const instance = await s.launch();
        await s.load();
        await sleep(2_000);
        const proxy = s.proxies[sink];
        proxy.set(mode, SLOW_MS);
        await sleep(profile.outageMs);
        proxy.set('pass');
        s.healed();
        // The fault must have reached the processor: a sink that never noticed tested nothing.
        if (mode === 'slow') {
          assert.ok(proxy.slowedReplies > 0, 'no reply was slowed');
          s.notes.push(`${proxy.slowedReplies} reply chunks slowed`);
        } else {
          const sinkName = sink === 'pg' ? 'postgres' : 'redis';
          await waitUntil(`${sinkName} to report its recovery`, async () => instance.logLines(`${sinkName} recovered`).length > 0, 60_000);
          s.notes.push(`down ${(Number(instance.logLines(`${sinkName} recovered`)[0]!.downMs) / 1000).toFixed(1)} s as the sink saw it`);
        }
        await settleAndVerify(s);
      });
    }
  }
});
