import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { waitUntil } from '../helpers/services.js';
import { faultScenario } from './harness/run.js';
import { settleAndVerify } from './harness/verify.js';
import { within } from './harness/time.js';

const ROUNDS = 3;
const SLOW_MS = 200;

/**
 * A survivor owns every partition; an owner joins and takes some (cooperative rebalance), and is
 * killed -9 mid-write: its PostgreSQL replies are held 200 ms by its own proxy, and the kill
 * comes the moment the proxy holds a COMMIT, i.e. the server committed a batch the owner never
 * heard of. The survivor gets the partitions back after the session timeout and replays them. Three
 * times, so the same partitions are handed back to the survivor three times.
 */
describe('partitions handed back to a survivor', () => {
  faultScenario(`${ROUNDS} times, their owner killed -9 mid-write each time`, `handed back ${ROUNDS} ×, owner killed mid-write`, { partitions: 4 }, async (s) => {
    const survivor = await s.launch({ name: 'survivor' });
    await s.load();
    const handedBack: number[][] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const owner = await s.launch({ ownProxies: true, name: `owner ${round}` });
      owner.proxies.pg.set('slow', SLOW_MS);
      // The cooperative protocol's first round may assign the newcomer nothing; the partitions come in the second.
      await waitUntil('the owner to get partitions', async () => owner.assignments().flat().length > 0, 60_000, 50);
      const owned = owner.assignments().flat();
      const committing = owner.proxies.pg.whenHolding('COMMIT');
      const inTime = await within(committing.then(() => true), 60_000);
      assert.ok(inTime, `owner ${round} committed nothing in 60 s\n${owner.tail()}`);
      owner.child.kill('SIGKILL');
      await owner.exited;
      s.kills++;
      const before = survivor.assignments().length;
      const back = () => survivor.assignments().slice(before).flat().filter((p) => owned.includes(p));
      await waitUntil(`the survivor to take partitions ${owned.join(', ')} back`, async () => back().length > 0, 60_000, 100);
      handedBack.push(back());
    }
    const everyRound = handedBack[0]!.filter((p) => handedBack.every((b) => b.includes(p)));
    assert.ok(everyRound.length > 0, `no partition was handed back in every round: ${JSON.stringify(handedBack)}`);
    s.notes.push(`partitions ${everyRound.join(', ')} handed back ${ROUNDS} times; each owner killed with a COMMIT reply held`);
    s.healed();
    await settleAndVerify(s);
  });
});
