import { readdirSync, readFileSync } from 'node:fs';
import { parseStatCpuTicks } from './proc-stats.js';

// Where a drain's CPU goes on a machine that also runs the services: the processor's share is
// measured per thread (proc-stats.ts); this is the rest of the budget, the local broker, Redis
// and PostgreSQL, found by name in /proc. With the machine's busy time over the same window it
// says how far the machine, not the processor, bounds the rate (cores / µs per event).

/** The services a load test drives, when they run on this machine. */
export type ServiceName = 'postgres' | 'redis' | 'kafka';
export const SERVICE_NAMES: readonly ServiceName[] = ['postgres', 'redis', 'kafka'];

/**
 * Which service a process is, from its `comm` (/proc/PID/comm: the executable's name, at most 15
 * characters) and its command line (NUL-separated): PostgreSQL's postmaster and every backend
 * are `postgres`, Redis is `redis-server`, the broker is a JVM running `kafka.Kafka`. Null for
 * anything else (the processor and the load test are `node`).
 */
export function serviceOf(comm: string, cmdline: string): ServiceName | null {
  const name = comm.trim();
  if (name === 'postgres' || name === 'postmaster') return 'postgres';
  if (name === 'redis-server') return 'redis';
  if (name === 'java' && cmdline.split('\0').includes('kafka.Kafka')) return 'kafka';
  return null;
}

/** CPU time so far of each service's processes together, ms, and how many processes each had. */
export type ServiceCpu = Record<ServiceName, { cpuMs: number; processes: number }>;

/**
 * The services' CPU so far, summed over their processes in `procRoot` (a directory laid out as
 * /proc: tests pass a fixture). A process that ends between two samples takes its CPU with it
 * (a PostgreSQL backend whose connection closed): the processor's connections stay open over a
 * drain, so that loses only other clients' backends.
 */
export function sampleServiceCpu(ticksPerSecond: number, procRoot = '/proc'): ServiceCpu {
  const out: ServiceCpu = { postgres: { cpuMs: 0, processes: 0 }, redis: { cpuMs: 0, processes: 0 }, kafka: { cpuMs: 0, processes: 0 } };
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return out;
  }
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const comm = readFileSync(`${procRoot}/${pid}/comm`, 'utf8');
      const service = serviceOf(comm, comm.trim() === 'java' ? readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8') : '');
      if (service === null) continue;
      out[service].cpuMs += (parseStatCpuTicks(readFileSync(`${procRoot}/${pid}/stat`, 'utf8')) * 1000) / ticksPerSecond;
      out[service].processes++;
    } catch {
      // the process ended while it was read
    }
  }
  return out;
}

/** µs of each service's CPU per event between two samples (a service with no process here: null). */
export function serviceUsPerEvent(from: ServiceCpu, to: ServiceCpu, events: number): Record<ServiceName, number | null> {
  const per = (s: ServiceName): number | null => {
    if (to[s].processes === 0 || events <= 0) return null;
    return Math.round((Math.max(0, to[s].cpuMs - from[s].cpuMs) * 1000 * 10) / events) / 10;
  };
  return { postgres: per('postgres'), redis: per('redis'), kafka: per('kafka') };
}

const LABELS: Record<ServiceName, string> = { postgres: 'PostgreSQL', redis: 'Redis', kafka: 'Kafka broker' };

/**
 * The machine's busy time per event split into the processor, each local service and the rest
 * (the load test itself, the system), and the rate the cores allow at that cost; null without
 * the machine's figure.
 */
export function machineBudgetText(d: { cpuUsPerEvent: number; machineUsPerEvent: number | null; services: Record<ServiceName, number | null> }, cores: number): string | null {
  if (d.machineUsPerEvent === null || d.machineUsPerEvent <= 0) return null;
  const found = SERVICE_NAMES.filter((s) => d.services[s] !== null);
  const missing = SERVICE_NAMES.filter((s) => d.services[s] === null);
  const rest = d.machineUsPerEvent - d.cpuUsPerEvent - found.reduce((a, s) => a + d.services[s]!, 0);
  const parts = [`the processor ${d.cpuUsPerEvent}`, ...found.map((s) => `${LABELS[s]} ${d.services[s]}`), `the rest ${Math.max(0, rest).toFixed(1)}`];
  const bound = Math.round((cores * 1e6) / d.machineUsPerEvent);
  return `busy ${d.machineUsPerEvent} µs per event: ${parts.join(', ')}${missing.length > 0 ? ` (not on this machine: ${missing.map((s) => LABELS[s]).join(', ')})` : ''}; ${cores} cores / ${d.machineUsPerEvent} µs = ${bound.toLocaleString('en-US')} events/s at these costs`;
}
