import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { ErrorCode, HimariError } from '../errors.js';

/** CPU time and memory of a process, from /proc (Linux). */
export interface ProcSample {
  /** user + system CPU time of every thread, ms (resolution: one clock tick, usually 10 ms). */
  cpuMs: number;
  /** Resident set size now, bytes. */
  rssBytes: number;
  /** Peak resident set size so far (VmHWM), bytes. */
  hwmBytes: number;
  /** Each thread's CPU time so far (from /proc/PID/task/TID/stat); empty when unreadable. */
  threads: ThreadCpu[];
}

/** One thread's CPU time so far. */
export interface ThreadCpu {
  tid: number;
  /** Its name: librdkafka's are `rdk:main`, `rdk:broker1`, ...; Node's own threads are all `node`. */
  comm: string;
  cpuMs: number;
  /**
   * Time it spent runnable without a core so far (the run-queue delay of
   * /proc/PID/task/TID/schedstat), ms; 0 when the kernel does not keep it.
   */
  waitMs: number;
}

/** CPU per event of a measured window, by thread, and the rate the busiest thread allows. */
export interface ThreadBreakdown {
  /** µs of CPU per event in the window: the main thread (with `workers.pipelineThread`, the Kafka clients' thread). */
  mainUsPerEvent: number;
  /** The pipeline thread's (`workers.pipelineThread`; 0 when the pipeline runs on the main thread). */
  pipelineUsPerEvent: number;
  /** Each worker thread's, in slot order. */
  workerUsPerEvent: number[];
  /** librdkafka's threads together, and the busiest of them. */
  librdkafkaUsPerEvent: number;
  librdkafkaBusiestUsPerEvent: number;
  /** Everything else (V8's platform threads: GC and compiler; libuv's pool), together. */
  otherUsPerEvent: number;
  /** The thread with the most CPU per event: one thread cannot go past 1 s of CPU per second. */
  busiestThread: string;
  busiestUsPerEvent: number;
  /** 1 / busiestUsPerEvent: what one process could reach with a core per thread, events/s. */
  ceilingEventsPerSec: number;
  /**
   * µs per event each kind of thread spent ready to run but without a core (the run-queue delay):
   * on a machine whose cores are all busy, the time an event waits on top of the CPU it costs.
   */
  waiting: { mainUsPerEvent: number; pipelineUsPerEvent: number; workerUsPerEvent: number[]; librdkafkaUsPerEvent: number; otherUsPerEvent: number };
}

let clockTicks = 0;

/** The kernel's clock ticks per second (USER_HZ), the unit of /proc's CPU times. */
export function ticksPerSecond(): number {
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

/** The run-queue delay of a /proc schedstat line ("run_ns wait_ns timeslices"), ms. */
export function parseSchedstatWaitMs(schedstat: string): number {
  const ns = Number(schedstat.trim().split(' ')[1]);
  if (!Number.isFinite(ns)) throw new HimariError(ErrorCode.INVALID_INPUT, `unreadable /proc schedstat line: ${schedstat.slice(0, 80)}`);
  return ns / 1e6;
}

function threadWaitMs(pid: number, tid: string): number {
  try {
    return parseSchedstatWaitMs(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8'));
  } catch {
    return 0; // a kernel without schedstat (CONFIG_SCHED_INFO), or the thread ended
  }
}

/** The machine's CPU time so far, all cores together, in clock ticks (the `cpu` line of /proc/stat). */
export interface MachineCpu {
  /** idle + iowait. */
  idleTicks: number;
  totalTicks: number;
}

/** The aggregate `cpu  user nice system idle iowait irq softirq steal ...` line of /proc/stat. */
export function parseMachineCpu(procStat: string): MachineCpu {
  const line = procStat.split('\n', 1)[0]!;
  const fields = line.trim().split(/\s+/);
  const ticks = fields.slice(1, 9).map(Number);
  if (fields[0] !== 'cpu' || ticks.length < 5 || !ticks.every(Number.isFinite)) throw new HimariError(ErrorCode.INVALID_INPUT, `unreadable /proc/stat line: ${line.slice(0, 80)}`);
  return { idleTicks: ticks[3]! + ticks[4]!, totalTicks: ticks.reduce((a, b) => a + b, 0) };
}

/** The machine's CPU so far; null where /proc/stat cannot be read. */
export function sampleMachineCpu(): MachineCpu | null {
  try {
    return parseMachineCpu(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return null;
  }
}

/** The share of the machine's CPU left idle between two samples, 0-1 (1: every core idle). */
export function idleShare(from: MachineCpu, to: MachineCpu): number {
  const total = to.totalTicks - from.totalTicks;
  return total > 0 ? Math.max(0, Math.min(1, (to.idleTicks - from.idleTicks) / total)) : 0;
}

/** The machine's busy CPU time between two samples, all cores together, ms. */
export function busyMs(from: MachineCpu, to: MachineCpu): number {
  const busy = (m: MachineCpu) => m.totalTicks - m.idleTicks;
  return (Math.max(0, busy(to) - busy(from)) * 1000) / ticksPerSecond();
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
      threads: sampleThreads(pid),
    };
  } catch {
    return null;
  }
}

/** Every thread's CPU time so far; a thread that ends while it is read is left out. */
export function sampleThreads(pid: number): ThreadCpu[] {
  const threads: ThreadCpu[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      threads.push({ tid: Number(tid), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), cpuMs: (parseStatCpuTicks(stat) * 1000) / ticksPerSecond(), waitMs: threadWaitMs(pid, tid) });
    } catch {
      // gone
    }
  }
  return threads;
}

/**
 * Splits the CPU a process spent between two samples by thread: the main thread (its tid is the
 * pid), the pipeline thread and the worker threads (the tids they reported; `pipelineTid` 0: none),
 * librdkafka's (named `rdk:`), the rest. A thread that started within the window counts from
 * zero; one that ended within it is missed.
 */
export function threadBreakdown(start: readonly ThreadCpu[], end: readonly ThreadCpu[], pid: number, workerTids: readonly number[], events: number, pipelineTid = 0): ThreadBreakdown | null {
  if (events <= 0 || end.length === 0) return null;
  const before = new Map(start.map((t) => [t.tid, t]));
  const us = (ms: number) => Math.round((ms * 1000 * 100) / events) / 100;
  let main = 0;
  let pipeline = 0;
  const workers = workerTids.map(() => 0);
  let rdk = 0;
  let rdkBusiest = 0;
  let other = 0;
  let busiest = { name: 'main', ms: -1 };
  const waiting = { main: 0, pipeline: 0, workers: workerTids.map(() => 0), rdk: 0, other: 0 };
  for (const t of end) {
    const ms = Math.max(0, t.cpuMs - (before.get(t.tid)?.cpuMs ?? 0));
    const waited = Math.max(0, t.waitMs - (before.get(t.tid)?.waitMs ?? 0));
    let name: string;
    const w = workerTids.indexOf(t.tid);
    if (t.tid === pid) { main += ms; waiting.main += waited; name = 'main'; }
    else if (t.tid === pipelineTid && pipelineTid !== 0) { pipeline += ms; waiting.pipeline += waited; name = 'pipeline'; }
    else if (w >= 0 && t.tid !== 0) { workers[w]! += ms; waiting.workers[w]! += waited; name = `worker ${w}`; }
    else if (t.comm.startsWith('rdk:')) { rdk += ms; waiting.rdk += waited; rdkBusiest = Math.max(rdkBusiest, ms); name = t.comm; }
    else { other += ms; waiting.other += waited; name = `${t.comm} ${t.tid}`; }
    if (ms > busiest.ms) busiest = { name, ms };
  }
  const busiestUs = us(busiest.ms);
  return {
    mainUsPerEvent: us(main),
    pipelineUsPerEvent: us(pipeline),
    workerUsPerEvent: workers.map(us),
    librdkafkaUsPerEvent: us(rdk),
    librdkafkaBusiestUsPerEvent: us(rdkBusiest),
    otherUsPerEvent: us(other),
    busiestThread: busiest.name,
    busiestUsPerEvent: busiestUs,
    ceilingEventsPerSec: busiestUs > 0 ? Math.round(1e6 / busiestUs) : 0,
    waiting: {
      mainUsPerEvent: us(waiting.main),
      pipelineUsPerEvent: us(waiting.pipeline),
      workerUsPerEvent: waiting.workers.map(us),
      librdkafkaUsPerEvent: us(waiting.rdk),
      otherUsPerEvent: us(waiting.other),
    },
  };
}
