import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { faultProfile } from './harness/profile.js';
import { faultScenario } from './harness/run.js';
import { killSecondBroker, SECOND_BROKER, startSecondBroker, stopSecondBroker } from './harness/second-broker.js';
import { settleAndVerify } from './harness/verify.js';
import { sleep } from './harness/time.js';

const profile = faultProfile();

/**
 * The broker goes away under load and comes back: stopped cleanly, then killed -9. The processor
 * must keep what it took (sinks, dead letters), commit once the broker is back, and the group's
 * offsets must survive the restart. Runs on a broker of the suite's own (port 9192), started
 * here and stopped at the end.
 */
describe(`broker restarts under load (down ${profile.brokerDownMs / 1000} s)`, () => {
  before(async () => startSecondBroker());
  after(async () => stopSecondBroker());

  for (const how of ['stopped', 'killed -9'] as const) {
    faultScenario(`broker ${how} and restarted`, `broker ${how} and restarted`, { brokers: SECOND_BROKER }, async (s) => {
      const instance = await s.launch();
      await s.load();
      await sleep(3_000);
      if (how === 'stopped') await stopSecondBroker();
      else await killSecondBroker();
      await sleep(profile.brokerDownMs);
      await startSecondBroker();
      s.healed();
      await sleep(2_000);
      // The fault must have reached the processor: its consumer lost the broker.
      const errors = instance.logLines('kafka consumer error').length;
      assert.ok(errors > 0, `the processor never lost the broker\n${instance.tail()}`);
      s.notes.push(`${errors} consumer errors logged`);
      await settleAndVerify(s);
    });
  }
});
