import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { recordFigures, resultsFile } from './results.js';
import { Scenario, type ScenarioOptions } from './scenario.js';

/**
 * One scenario as a test: opens its world, runs it, and removes the world whatever happened. A
 * scenario that fails before the verifier ran is still recorded in the results, as failed.
 */
export function faultScenario(title: string, name: string, options: ScenarioOptions, body: (s: Scenario) => Promise<void>, timeoutMs = 900_000): void {
  it(title, { timeout: timeoutMs }, async () => {
    const s = await Scenario.open(name, options);
    try {
      await body(s);
    } catch (err) {
      saveLogs(s);
      if (!s.recorded) {
        const ledger = s.ledger;
        recordFigures(s.profile.name, {
          scenario: name, produced: ledger.valid + ledger.poison.length, valid: ledger.valid, poison: ledger.poison.length,
          kinds: new Set(ledger.poison.map((p) => p.kind)).size, lost: 0, duplicated: 0, deadLettered: 0, deadLetterMismatches: 0,
          redisMismatches: 0, peakRssMb: Math.round(Math.max(0, ...s.instances.map((i) => i.peakRss)) / 1048576), recoveryMs: null,
          kills: s.kills, notes: s.notes.join('; '), passed: false, failure: `before verification: ${(err as Error).message.split('\n')[0]}`,
        });
      }
      throw err;
    } finally {
      await s.close();
    }
  });
}

/** A failed scenario's processor logs, whole, beside the results (results/tmp is not tracked): the evidence. */
function saveLogs(s: Scenario): void {
  const dir = join(resultsFile(s.profile.name), '..', 'tmp', `faults-${s.profile.name}`, s.name.replace(/[^A-Za-z0-9.-]+/g, '-'));
  mkdirSync(dir, { recursive: true });
  s.instances.forEach((i, n) => writeFileSync(join(dir, `instance-${n + 1}.log`), `${i.stderr}\n${i.stdout}`));
  process.stderr.write(`${s.name}: processor logs in ${dir}\n`);
}
