import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { HimariError } from '../errors.js';
import { doctorPassed, runDoctor } from '../ops/doctor.js';
import { doctorJson, doctorText } from '../ops/doctor-report.js';

/** Each network call of a probe; the probes run at once, so the report takes about this. */
const PROBE_TIMEOUT_MS = 3_000;

/**
 * `himari-l0 doctor [--config FILE] [--json]`: exit 0 when no check failed (warnings allowed),
 * 1 when one did, 2 when the config itself is invalid (its problems on stderr, as every command).
 */
export async function doctorCommand(args: string[]): Promise<never> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, json: { type: 'boolean' }, timeout: { type: 'string' } } });
  let config: Readonly<Config>;
  try {
    config = loadConfig({ file: values.config });
  } catch (err) {
    if (!(err instanceof HimariError)) throw err;
    process.stderr.write(`himari-l0: ${err.message}\n`);
    process.exit(2);
  }
  const file = values.config ?? process.env.HIMARI_CONFIG;
  const timeoutS = values.timeout === undefined ? PROBE_TIMEOUT_MS / 1000 : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    process.stderr.write(`himari-l0: --timeout must be a positive number of seconds, got ${JSON.stringify(values.timeout)}\n`);
    process.exit(2);
  }
  const results = await runDoctor(config, {
    timeoutMs: timeoutS * 1000,
    configSource: file === undefined || file === '' ? 'defaults and the environment' : `file ${file} and the environment`,
  });
  process.stdout.write(values.json === true ? doctorJson(results) : doctorText(results));
  // Exit now: a probe's native Kafka call may still be waiting out its timeout on a libuv thread.
  process.exit(doctorPassed(results) ? 0 : 1);
}
