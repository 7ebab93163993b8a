import { doctorPassed, runDoctor } from '../../ops/doctor.js';
import { doctorJson, doctorText } from '../../ops/doctor-report.js';
import type { DoctorArgs } from '../commands.js';
import { load, usageFail } from '../common.js';

/**
 * `himari-l0 doctor`: exit 0 when no check failed (warnings allowed), 1 when one did, 2 when the
 * config itself is invalid (its problems on stderr, as every command).
 */
export async function cmdDoctor({ values }: DoctorArgs): Promise<never> {
  const config = load(values.config);
  const timeoutS = Number(values.timeout ?? '3');
  if (!(timeoutS > 0)) usageFail('doctor', `--timeout must be a positive number of seconds, got ${JSON.stringify(values.timeout)}`);
  const file = values.config ?? process.env.HIMARI_CONFIG;
  const results = await runDoctor(config, {
    timeoutMs: timeoutS * 1000,
    configSource: file === undefined || file === '' ? 'defaults and the environment' : `file ${file} and the environment`,
  });
  process.stdout.write(values.json === true ? doctorJson(results) : doctorText(results));
  // Exit now: a probe's native Kafka call may still be waiting out its timeout on a libuv thread.
  process.exit(doctorPassed(results) ? 0 : 1);
}
