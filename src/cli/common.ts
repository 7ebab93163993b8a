import type { Logger } from 'pino';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { HimariError } from '../errors.js';
import { interruptProgress } from './progress.js';
import { PROGRAM, UsageError } from './options.js';

/** Exit code of a stop that reached `shutdown.deadlineMs` and abandoned unconfirmed batches. */
export const EXIT_DEADLINE = 3;

/**
 * SIGTERM and SIGINT start `stop` (a graceful stop within shutdown.deadlineMs); a second signal
 * while `stopping()` exits at once with 130.
 */
export function onStopSignals(log: Logger, stopping: () => boolean, stop: (sig: string) => void): void {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (stopping()) { log.warn({ sig }, 'second signal: exiting now'); log.flush(); process.exit(130); }
      stop(sig);
    });
  }
}

/** One line on stderr, then exit (2: configuration or usage, 1: a runtime failure). */
export function fail(message: string, code = 2): never {
  interruptProgress();
  process.stderr.write(`${PROGRAM}: ${message}\n`);
  process.exit(code);
}

/** A usage mistake the table cannot express (options that exclude each other, an empty list): exit 2. */
export function usageFail(command: string, message: string): never {
  interruptProgress();
  process.stderr.write(`${new UsageError(message, command).line()}\n`);
  process.exit(2);
}

/** A number option's value; the parser has already refused a value that is not a non-negative number. */
export function intOption(values: Record<string, unknown>, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) fail(`--${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return n;
}

/** The configuration, or exit 2 naming every bad key. */
export function load(file: string | undefined, overrides: Record<string, unknown> = {}): Readonly<Config> {
  try {
    return loadConfig({ file, overrides });
  } catch (err) {
    if (err instanceof HimariError) fail(err.message);
    throw err;
  }
}
