import { doctorPassed, type CheckResult } from './doctor.js';

const LABEL = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

/** One line per check (`FAIL kafka: what was found: what to do`), then a one-line verdict. */
export function doctorText(results: readonly CheckResult[]): string {
  const lines = results.map((r) => `${LABEL[r.status]} ${r.name}: ${r.detail}${r.fix === undefined ? '' : `: ${r.fix}`}`);
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  const counts = [failed > 0 ? `${failed} failed` : '', warned > 0 ? `${warned} warning${warned === 1 ? '' : 's'}` : ''].filter(Boolean).join(', ');
  lines.push(doctorPassed(results) ? `doctor: ready to run${counts === '' ? '' : ` (${counts})`}` : `doctor: not ready (${counts})`);
  return lines.join('\n') + '\n';
}

/** The same as one JSON document: `{ ok, checks: [{ name, status, detail, fix? }] }`. */
export function doctorJson(results: readonly CheckResult[]): string {
  return JSON.stringify({ ok: doctorPassed(results), checks: results }, null, 2) + '\n';
}
