import { describe } from 'node:test';
import { faultProfile, faultSeed, SeededRandom } from './harness/profile.js';
import { faultScenario } from './harness/run.js';
import { settleAndVerify } from './harness/verify.js';
import { sleep } from './harness/time.js';

const profile = faultProfile();

/**
 * Several instances in one group under load, started at random moments, one of them killed -9
 * at random and replaced, round after round (seeded: FAULTS_SEED replays a run). Every kill
 * moves partitions twice: to the survivors, then (cooperatively) to the replacement.
 */
describe('instances started and killed at random', () => {
  for (const count of [2, 3]) {
    faultScenario(`${count} instances, ${profile.instanceRounds} random kill -9 and restarts`, `${count} instances, random kill -9`, { partitions: 6 }, async (s) => {
      const random = new SeededRandom(faultSeed() + count);
      await s.load();
      for (let i = 0; i < count; i++) {
        await s.launch();
        await sleep(random.between(0, 1_500));
      }
      const killed: number[] = [];
      for (let round = 0; round < profile.instanceRounds; round++) {
        await sleep(random.between(1_000, 4_000));
        const live = s.live();
        const victim = random.between(0, live.length - 1);
        killed.push(s.instances.indexOf(live[victim]!) + 1);
        await s.kill9(live[victim]!);
        await sleep(random.between(0, 2_000));
        await s.launch();
      }
      s.notes.push(`killed instances #${killed.join(', #')} (seed ${faultSeed() + count})`);
      s.healed();
      await settleAndVerify(s);
    });
  }
});
