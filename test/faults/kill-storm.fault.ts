import { describe } from 'node:test';
import { waitUntil } from '../helpers/services.js';
import { faultProfile, faultSeed, SeededRandom } from './harness/profile.js';
import { faultScenario } from './harness/run.js';
import { settleAndVerify } from './harness/verify.js';
import { sleep } from './harness/time.js';

const profile = faultProfile();

/**
 * kill -9 again and again under load: each instance is killed a random (seeded) 0.3-2.5 s after
 * it got its partitions, in the middle of whatever it was doing; the next one replays from the
 * last commit. One run, one verification at the end.
 */
describe('kill -9 storm', () => {
  faultScenario(`${profile.kills} kill -9 in one run, under load`, `${profile.kills} × kill -9`, { partitions: 8 }, async (s) => {
    const random = new SeededRandom(faultSeed());
    await s.load();
    const delays: number[] = [];
    for (let i = 0; i < profile.kills; i++) {
      const p = await s.launch();
      await waitUntil('the instance to get partitions', async () => p.assignments().flat().length > 0, 60_000, 50);
      const delay = random.between(300, 2_500);
      delays.push(delay);
      await sleep(delay);
      await s.kill9(p);
    }
    s.notes.push(`killed ${delays.map((d) => (d / 1000).toFixed(1)).join(', ')} s after assignment (seed ${faultSeed()})`);
    await s.launch();
    s.healed();
    await settleAndVerify(s);
  });
});
