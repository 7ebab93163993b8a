import type { Config } from '../config/schema.js';
import { seconds, type CheckResult } from './check-result.js';
import { probeKafka } from './doctor-kafka.js';
import { probePostgres } from './doctor-postgres.js';
import { probeRedis } from './doctor-redis.js';

export type { CheckResult, CheckStatus } from './check-result.js';

/**
 * One service's checks. A probe answers within about `timeoutMs` (every network call it makes
 * has that timeout) and never throws: an unreachable service is a `fail` result naming it. When
 * the service cannot be reached its further checks are left out, so the first line says why.
 */
export interface Probe {
  name: string;
  run(config: Readonly<Config>, timeoutMs: number): Promise<CheckResult[]>;
}

export const PROBES: readonly Probe[] = [
  { name: 'kafka', run: (config, timeoutMs) => probeKafka(config.kafka, config.workers.threads, timeoutMs) },
  { name: 'redis', run: (config, timeoutMs) => (config.sink.stores.includes('redis') ? probeRedis(config.redis, timeoutMs) : notAStore('redis')) },
  { name: 'postgres', run: (config, timeoutMs) => (config.sink.stores.includes('postgres') ? probePostgres(config.postgres, timeoutMs) : notAStore('postgres')) },
];

/** A store the processor does not write (`sink.stores`) is not probed: its absence is no fault. */
async function notAStore(name: string): Promise<CheckResult[]> {
  return [{ name, status: 'ok', detail: 'not used (sink.stores leaves it out): not checked' }];
}

export interface DoctorOptions {
  /** Timeout of each network call of a probe (connect, request). */
  timeoutMs: number;
  /** Where the config came from, for the first line (`file deploy/himari.json and the environment`). */
  configSource: string;
  probes?: readonly Probe[];
}

/**
 * Runs every probe at once and returns their results in probe order, the config first. A probe
 * that still has not answered after twice its timeout (a call stuck in native code) is reported
 * as hanging, so the whole report takes a few seconds even when every service is down.
 */
export async function runDoctor(config: Readonly<Config>, options: DoctorOptions): Promise<CheckResult[]> {
  const probes = options.probes ?? PROBES;
  const results = await Promise.all(probes.map((p) => runProbe(p, config, options.timeoutMs)));
  return [{ name: 'config', status: 'ok', detail: `valid (${options.configSource})` }, ...results.flat()];
}

async function runProbe(probe: Probe, config: Readonly<Config>, timeoutMs: number): Promise<CheckResult[]> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<CheckResult[]>((resolve) => {
    timer = setTimeout(() => resolve([{
      name: probe.name, status: 'fail', detail: `no answer within ${seconds(2 * timeoutMs)}`,
      fix: 'the service accepts connections but does not answer: is it overloaded or stopped (SIGSTOP)? does a firewall drop packets?',
    }]), 2 * timeoutMs);
  });
  try {
    return await Promise.race([
      probe.run(config, timeoutMs).catch((err: Error): CheckResult[] => [{ name: probe.name, status: 'fail', detail: err.message }]),
      hang,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** True when no check failed: the doctor's exit code is 0. */
export function doctorPassed(results: readonly CheckResult[]): boolean {
  return results.every((r) => r.status !== 'fail');
}
