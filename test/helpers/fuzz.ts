import type { Parameters } from 'fast-check';

/**
 * fast-check parameters for the property tests. `FUZZ_SEED=<n>` replays a run (a failure
 * prints its seed and shrink path); `FUZZ_SCALE=<x>` multiplies every property's runs for a
 * longer soak. The default run counts keep each fuzz file to a few seconds on 2 slow cores.
 */
export function fuzzParams<T>(numRuns: number): Parameters<T> {
  const seed = process.env.FUZZ_SEED;
  const scale = Number(process.env.FUZZ_SCALE ?? 1);
  return {
    includeErrorInReport: true,
    numRuns: Math.max(1, Math.round(numRuns * (Number.isFinite(scale) && scale > 0 ? scale : 1))),
    ...(seed === undefined || seed === '' ? {} : { seed: Number(seed) }),
  };
}

/** JavaScript heap plus array buffers (Buffers, typed arrays): what a runaway allocation would grow. */
export function memoryInUse(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
