import { faultProfile } from './harness/profile.js';
import { figuresTable, readResults, resultsFile } from './harness/results.js';

/**
 * Prints the figures the scenarios of the last run recorded, as a table (scripts/test-faults.sh
 * and scripts/test.sh run it after the suite; the README's table is this output).
 */
const profile = faultProfile();
const results = readResults(profile.name);
if (results === null || results.scenarios.length === 0) {
  process.stdout.write(`fault suite: no figures in ${resultsFile(profile.name)}\n`);
} else {
  process.stdout.write(`\nfault suite, profile ${profile.name}, commit ${results.commit}, ${results.host}, ${results.startedAt} to ${results.updatedAt}\n`
    + `(${resultsFile(profile.name)})\n\n${figuresTable(results)}\n\n`);
}
