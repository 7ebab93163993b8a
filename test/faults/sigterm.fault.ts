import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { waitUntil } from '../helpers/services.js';
import { faultScenario } from './harness/run.js';
import { settleAndVerify } from './harness/verify.js';
import { sleep } from './harness/time.js';

const DEADLINE_MS = 10_000;
/** Bounded waits, not timing assertions: the deadline with a generous margin for a busy machine. */
const STOP_BOUND_MS = DEADLINE_MS + 20_000;

/** SIGTERM keeps `shutdown.deadlineMs` whatever the processor is doing, and loses nothing. */
describe('SIGTERM', () => {
  faultScenario('under load: drains, commits and exits 0 within its deadline; a successor finishes the stream',
    'SIGTERM under load', { env: { HIMARI_SHUTDOWN_DEADLINE_MS: String(DEADLINE_MS) } }, async (s) => {
      const first = await s.launch();
      await s.load();
      await sleep(3_000);
      const stopped = await first.terminate(STOP_BOUND_MS);
      assert.ok(stopped !== null, `still running ${STOP_BOUND_MS} ms after SIGTERM (deadline ${DEADLINE_MS} ms)\n${first.tail()}`);
      assert.equal(stopped.exit.code, 0, `under load with healthy sinks the drain completes: ${JSON.stringify(stopped.exit)}\n${first.tail()}`);
      s.notes.push(`stopped in ${(stopped.stopMs / 1000).toFixed(1)} s (deadline ${DEADLINE_MS / 1000} s)`);
      await s.launch();
      s.healed();
      await sleep(2_000);
      await settleAndVerify(s);
    });

  faultScenario('during a PostgreSQL black hole: exits 3 at its deadline with the batches abandoned; a successor delivers them once',
    // The production query timeout (15 s), longer than what is left of the deadline when delivery is
    // abandoned (5 s): a sink write on the wire then (a connect into the black hole) outlasts it.
    'SIGTERM during an outage', { env: { HIMARI_SHUTDOWN_DEADLINE_MS: String(DEADLINE_MS), HIMARI_POSTGRES_QUERY_TIMEOUT_MS: '15000' } }, async (s) => {
      const first = await s.launch();
      await s.load();
      await sleep(2_000);
      s.proxies.pg.set('blackhole');
      await waitUntil('the PostgreSQL sink to notice', async () => first.logLines('postgres write failed; retrying').length > 0
        || first.logLines('postgres probe failed: not ready').length > 0, 60_000);
      const stopped = await first.terminate(STOP_BOUND_MS);
      assert.ok(stopped !== null, `still running ${STOP_BOUND_MS} ms after SIGTERM (deadline ${DEADLINE_MS} ms)\n${first.tail()}`);
      assert.equal(stopped.exit.code, 3, `exit code: ${JSON.stringify(stopped.exit)}\n${first.tail()}`);
      s.notes.push(`stopped in ${(stopped.stopMs / 1000).toFixed(1)} s, exit 3 (deadline ${DEADLINE_MS / 1000} s)`);
      s.proxies.pg.set('pass');
      s.healed();
      await s.launch();
      await settleAndVerify(s);
    });
});
