import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What one scenario measured; the verifier fills it before it asserts, so a failure is recorded too. */
export interface ScenarioFigures {
  scenario: string;
  /** Messages the load put in the topic (valid events and poison). */
  produced: number;
  valid: number;
  poison: number;
  /** Poison kinds the scenario injected. */
  kinds: number;
  /** Valid events missing from PostgreSQL. */
  lost: number;
  /** PostgreSQL rows beyond one per valid event. */
  duplicated: number;
  deadLettered: number;
  /** Dead letters that were not exactly the injected poison once each with its code. */
  deadLetterMismatches: number;
  /** Redis latest-view keys that differ from the newest event PostgreSQL holds. */
  redisMismatches: number;
  peakRssMb: number;
  /** Fault healed → the group committed to the end offsets; null where nothing healed. */
  recoveryMs: number | null;
  /** kill -9 sent during the scenario. */
  kills: number;
  /** Anything else worth a column (throughput, stop times). */
  notes: string;
  passed: boolean;
  failure?: string;
}

export interface FaultResults {
  profile: string;
  commit: string;
  host: string;
  startedAt: string;
  updatedAt: string;
  scenarios: ScenarioFigures[];
}

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export function resultsFile(profile: string): string {
  return join(ROOT, 'results', `faults-${profile}.json`);
}

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

export function readResults(profile: string): FaultResults | null {
  const file = resultsFile(profile);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as FaultResults;
}

/**
 * Adds (or replaces) a scenario's figures in results/faults-<profile>.json. Scenario files run
 * one at a time, so read-modify-write is safe; scripts/test-faults.sh starts each run afresh.
 */
export function recordFigures(profile: string, figures: ScenarioFigures): void {
  const file = resultsFile(profile);
  const now = new Date().toISOString();
  const results = readResults(profile) ?? {
    profile, commit: gitCommit(), host: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`, startedAt: now, updatedAt: now, scenarios: [],
  };
  results.updatedAt = now;
  results.scenarios = results.scenarios.filter((s) => s.scenario !== figures.scenario);
  results.scenarios.push(figures);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}

const COLUMNS: Array<[string, (s: ScenarioFigures) => string]> = [
  ['scenario', (s) => s.scenario],
  ['produced', (s) => s.produced.toLocaleString('en-US')],
  ['poison (kinds)', (s) => `${s.poison.toLocaleString('en-US')} (${s.kinds})`],
  ['lost', (s) => String(s.lost)],
  ['duplicated', (s) => String(s.duplicated)],
  ['dead-lettered', (s) => `${s.deadLettered.toLocaleString('en-US')}${s.deadLetterMismatches > 0 ? ` (${s.deadLetterMismatches} wrong)` : ''}`],
  ['Redis wrong', (s) => String(s.redisMismatches)],
  ['kill -9', (s) => String(s.kills)],
  ['peak RSS MB', (s) => String(s.peakRssMb)],
  ['recovery s', (s) => (s.recoveryMs === null ? '-' : (s.recoveryMs / 1000).toFixed(1))],
  ['result', (s) => (s.passed ? 'pass' : 'FAIL')],
  ['notes', (s) => s.notes],
];

/** The figures as a markdown table (what the README's "Fault suite" section shows). */
export function figuresTable(results: FaultResults): string {
  const lines = [
    `| ${COLUMNS.map(([h]) => h).join(' | ')} |`,
    `|${COLUMNS.map(() => '---').join('|')}|`,
    ...results.scenarios.map((s) => `| ${COLUMNS.map(([, f]) => f(s).replaceAll('|', '/')).join(' | ')} |`),
  ];
  return lines.join('\n');
}
