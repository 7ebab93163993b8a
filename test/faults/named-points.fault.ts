import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { waitUntil } from '../helpers/services.js';
import { faultProfile } from './harness/profile.js';
import { faultScenario } from './harness/run.js';
import { readWholeTopic } from './harness/topic-reader.js';
import { redisEventCount, settleAndVerify } from './harness/verify.js';
import { sleep, within } from './harness/time.js';

const profile = faultProfile();
const EVENTS = profile.name === 'ci' ? 6_000 : 50_000;

/**
 * kill -9 at the points where a crash hurts most, each reached by setting the processor up so it
 * has to stop there, then checking that it is there, rather than by a lucky moment.
 */
describe('kill -9 at named points', () => {
  faultScenario('after PostgreSQL committed, before Redis: Redis black-holed, kill -9 once PostgreSQL holds rows Redis lacks',
    'kill -9 after PostgreSQL, before Redis', {}, async (s) => {
      const first = await s.launch();
      s.proxies.redis.set('blackhole');
      await s.load({ count: EVENTS });
      let pg = 0;
      let redis = 0;
      await waitUntil('PostgreSQL to hold committed rows that Redis lacks', async () => {
        pg = await s.pgRows();
        redis = await redisEventCount(s);
        // Any: with Redis gone, backpressure stops consumption once its few in-flight batches are
        // queued, so PostgreSQL may hold only a few hundred rows (a 1,000-row floor failed a run).
        return pg > 0 && pg > redis;
      }, 60_000, 100);
      await s.kill9(first);
      s.notes.push(`killed with ${pg} rows in PostgreSQL, ${redis} events in Redis`);
      s.proxies.redis.set('pass');
      s.healed();
      await s.launch();
      await settleAndVerify(s);
    });

  faultScenario('after both sinks, before the offset commit: a 60 s commit interval, kill -9 once both sinks hold every event and the group has committed nothing',
    'kill -9 after both sinks, before the commit', { env: { HIMARI_KAFKA_COMMIT_INTERVAL_MS: '60000' } }, async (s) => {
      const first = await s.launch();
      const load = await s.load({ count: EVENTS });
      const ledger = await load.finished();
      await waitUntil('both sinks and the dead-letter topic to hold everything', async () =>
        await s.pgRows() === ledger.valid && await redisEventCount(s) === ledger.valid
        && (await readWholeTopic(s.config.kafka, s.deadLetterTopic)).length === ledger.poison.length, 60_000, 250);
      const committed = await s.committed();
      const ends = await s.endOffsets();
      const ahead = [...ends].filter(([p, end]) => end > 0 && (committed.get(p) ?? -1) < end);
      assert.equal(ahead.length, [...ends.values()].filter((e) => e > 0).length, `some partition was committed already: ${JSON.stringify([...committed])}`);
      await s.kill9(first);
      s.notes.push(`killed with ${ledger.valid} rows in both sinks and ${ahead.length} partitions uncommitted`);
      s.healed();
      await s.launch({ env: { HIMARI_KAFKA_COMMIT_INTERVAL_MS: '200' } });
      await settleAndVerify(s);
    });

  faultScenario('during a revoke: a second instance joins, the first is killed on its "partitions revoked; draining them" line while its PostgreSQL replies are slowed',
    'kill -9 during a revoke', {}, async (s) => {
      const first = await s.launch({ ownProxies: true });
      // A drain that takes a while: every PostgreSQL call of the first instance is 200 ms longer.
      first.proxies.pg.set('slow', 200);
      await s.load();
      await sleep(2_000);
      let heldAtKill = -1;
      first.onLog('partitions revoked; draining them', () => {
        heldAtKill = first.proxies.pg.heldReplies;
        first.child.kill('SIGKILL');
      });
      const second = await s.spawn();
      const exit = await within(first.exited, 60_000);
      assert.ok(exit !== null && exit.signal === 'SIGKILL' && heldAtKill >= 0, `the first instance was not killed during a revoke\n${first.tail()}`);
      s.kills++;
      s.notes.push(`killed on the revoke line with ${heldAtKill} PostgreSQL replies held`);
      await second.ready();
      s.healed();
      await settleAndVerify(s);
    });
});
