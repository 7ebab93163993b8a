export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of the doctor's report: what was checked, what was found, and what to do about it. */
export interface CheckResult {
  /** What was checked: `kafka`, `kafka topic market.events`, `redis script`, `postgres rights`, ... */
  name: string;
  status: CheckStatus;
  /** What was found, in words an operator can act on. */
  detail: string;
  /** What to do, when status is not ok. */
  fix?: string;
}

/** `3 s`, `2.5 s`: for messages. */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
