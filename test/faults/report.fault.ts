import assert from 'node:assert/strict';
import { it } from 'node:test';
import { faultProfile } from './harness/profile.js';
import { figuresTable, readResults, resultsFile } from './harness/results.js';

/**
 * Runs last (scripts/test-faults.sh and scripts/test.sh put it at the end): prints the figures
 * every scenario recorded in this run as a table.
 */
it('prints the fault suite figures', () => {
  const profile = faultProfile();
  const results = readResults(profile.name);
  assert.ok(results !== null && results.scenarios.length > 0, `no scenario recorded figures in ${resultsFile(profile.name)}`);
  console.log(`\nfault suite, profile ${profile.name}, commit ${results.commit}, ${results.host} (${resultsFile(profile.name)})\n\n${figuresTable(results)}\n`);
});
