import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { ProxyMode } from '../helpers/tcp-proxy.js';
import { faultProfile } from './harness/profile.js';
import { faultScenario } from './harness/run.js';
import { killSecondBroker, SECOND_BROKER, SECOND_BROKER_PROXY, secondBrokerBehindProxy, startSecondBroker, stopSecondBroker } from './harness/second-broker.js';
import { settleAndVerify } from './harness/verify.js';
import { sleep } from './harness/time.js';

const profile = faultProfile();
const SLOW_MS = 200;
/** Longer than librdkafka's produce request timeout (request.timeout.ms, 30 s). */
const ACK_HOLD_MS = 35_000;
const DEADLINE_MS = 10_000;
/** A bounded wait, not a timing assertion: the deadline with a generous margin for a busy machine. */
const STOP_BOUND_MS = DEADLINE_MS + 20_000;

/**
 * The broker under load: restarted (stopped cleanly, then killed -9), and its network refused,
 * black-holed and slowed by a TCP proxy that all of the processor's Kafka traffic goes through
 * (consumer, group coordinator, dead-letter producer). The processor must keep what it took
 * (sinks, dead letters), commit once the broker is back, and lose or duplicate nothing; SIGTERM
 * while the broker does not answer keeps its deadline. Runs on a broker of the suite's own
 * (port 9192), started here and stopped at the end; the suite's own clients (topics, load,
 * verification) reach it directly.
 */
describe('the broker under load', () => {
  const proxy = secondBrokerBehindProxy();
  const throughProxy = { brokers: SECOND_BROKER, processorBrokers: SECOND_BROKER_PROXY.brokers };

  describe(`restarted (down ${profile.brokerDownMs / 1000} s)`, () => {
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

  describe(`network faults for ${profile.outageMs / 1000} s`, () => {
    for (const mode of ['refuse', 'blackhole', 'slow'] as const satisfies readonly ProxyMode[]) {
      const name = `broker ${mode === 'slow' ? `slowed ${SLOW_MS} ms/call` : mode === 'refuse' ? 'refused' : 'black-holed'}`;
      faultScenario(name, name, throughProxy, async (s) => {
        const before = { refused: proxy.refusedConnections, blackholed: proxy.blackholedChunks, slowed: proxy.slowedReplies };
        const instance = await s.launch();
        await s.load();
        await sleep(2_000);
        proxy.set(mode, SLOW_MS);
        await sleep(profile.outageMs);
        proxy.set('pass');
        s.healed();
        // The fault must have reached the processor's traffic: a proxy that saw nothing tested nothing.
        if (mode === 'refuse') {
          const refused = proxy.refusedConnections - before.refused;
          assert.ok(refused > 0, `no connection was refused\n${instance.tail()}`);
          s.notes.push(`${refused} connections refused`);
        } else if (mode === 'blackhole') {
          const held = proxy.blackholedChunks - before.blackholed;
          assert.ok(held > 0, 'nothing was black-holed');
          s.notes.push(`${held} chunks held`);
        } else {
          const slowed = proxy.slowedReplies - before.slowed;
          assert.ok(slowed > 0, 'no reply was slowed');
          s.notes.push(`${slowed} reply chunks slowed`);
        }
        await settleAndVerify(s);
      });
    }

    faultScenario('acknowledgements held past the request timeout: the broker wrote every dead letter, the processor heard nothing for 35 s; each is stored once',
      'broker replies held 35 s', throughProxy, async (s) => {
        const before = proxy.slowedReplies;
        const instance = await s.launch();
        await s.load();
        await sleep(2_000);
        // Every reply of the window (dead-letter acknowledgements among them) arrives ACK_HOLD_MS
        // late, past librdkafka's 30-s produce request timeout (and the 30-s message timeout the
        // dead-letter producer once had): the broker has written what it was sent, the sender
        // cannot know. Replies after the window queue behind the held ones, as on a stalled link.
        proxy.set('slow', ACK_HOLD_MS);
        await sleep(3_000);
        proxy.set('pass');
        await sleep(ACK_HOLD_MS);
        s.healed();
        const held = proxy.slowedReplies - before;
        assert.ok(held > 0, `no reply was held\n${instance.tail()}`);
        s.notes.push(`${held} reply chunks held ${ACK_HOLD_MS / 1000} s`);
        await settleAndVerify(s);
      });

    faultScenario('SIGTERM while the broker is black-holed: exits at its deadline; a successor finishes the stream once',
      'SIGTERM during a broker black hole', { ...throughProxy, env: { HIMARI_SHUTDOWN_DEADLINE_MS: String(DEADLINE_MS) } }, async (s) => {
        const first = await s.launch();
        await s.load();
        await sleep(2_000);
        proxy.set('blackhole');
        await sleep(2_000);
        const stopped = await first.terminate(STOP_BOUND_MS);
        proxy.set('pass');
        assert.ok(stopped !== null, `still running ${STOP_BOUND_MS} ms after SIGTERM (deadline ${DEADLINE_MS} ms)\n${first.tail()}`);
        // The sinks confirmed what was taken, but the final commit cannot reach the broker: the
        // deadline passes with offsets unconfirmed (3), and the successor replays them exactly once.
        assert.equal(stopped.exit.code, 3, `exit code: ${JSON.stringify(stopped.exit)}\n${first.tail()}`);
        s.notes.push(`stopped in ${(stopped.stopMs / 1000).toFixed(1)} s, exit 3 (deadline ${DEADLINE_MS / 1000} s)`);
        s.healed();
        await s.launch();
        await settleAndVerify(s);
      });
  });
});
