import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ErrorCode, HimariError } from '../errors.js';

/** CPU time and memory of a process, from /proc (Linux). */
export interface ProcSample {
  /** user + system CPU time of every thread, ms (resolution: one clock tick, usually 10 ms). */
  cpuMs: number;
  /** Resident set size now, bytes. */
  rssBytes: number;
  /** Peak resident set size so far (VmHWM), bytes. */
  hwmBytes: number;
}

let clockTicks = 0;

function ticksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * utime and stime of /proc/PID/stat (fields 14 and 15, counting the ones before the command name,
 * which may hold spaces and parentheses: fields are counted after its closing parenthesis).
 * They cover every thread of the process, the worker threads and libuv's pool included.
 */
export function parseStatCpuTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new HimariError(ErrorCode.INVALID_INPUT, `unreadable /proc stat line: ${stat.slice(0, 80)}`);
  return utime + stime;
}

/** A `Key:   123 kB` line of /proc/PID/status, bytes; 0 when absent. */
export function parseStatusKb(status: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** Samples a live process; null once it is gone. */
export function sampleProcess(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      cpuMs: (parseStatCpuTicks(stat) * 1000) / ticksPerSecond(),
      rssBytes: parseStatusKb(status, 'VmRSS'),
      hwmBytes: parseStatusKb(status, 'VmHWM'),
    };
  } catch {
    return null;
  }
}
