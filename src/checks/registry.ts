import type { Check } from './check.js';
import { BASIC_CHECKS } from './basic.js';

/** Every check the workers run, in evaluation order. */
export const ALL_CHECKS: readonly Check[] = BASIC_CHECKS;

export function checkByBit(bit: number): Check | undefined {
  return ALL_CHECKS.find((c) => c.bit === bit);
}
