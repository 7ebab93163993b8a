import assert from 'node:assert/strict';
import { HimariError } from '../../src/errors.js';

/** The problems a config error lists (it must be one: CONFIG_INVALID with `context.problems`). */
export function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HimariError);
    assert.equal(err.code, 'CONFIG_INVALID');
    return (err.context as { problems: string[] }).problems;
  }
  assert.fail('expected a config error');
}
