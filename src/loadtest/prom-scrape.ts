/** A few numbers from the processor's /metrics, to explain a run (not to measure it). */
export interface SinkWriteStats {
  writes: number;
  /** Mean duration of one batch write (retries included), ms. */
  meanWriteMs: number;
  /** Mean events per write. */
  meanRows: number;
  /** Flushes by reason: rows (batch full), bytes, time, idle (sink free), close. */
  flushReasons: Record<string, number>;
  /** Connections the sink wrote over concurrently. */
  connections: number;
  /** Share of the run a connection was writing: sum of write durations / wall time / connections. */
  busyShare: number;
}

/** Sums the samples of a Prometheus text-format metric whose labels include `match`. */
export function promSum(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

export function sinkWriteStats(text: string, sink: string, wallMs: number): SinkWriteStats {
  const writes = promSum(text, 'himari_sink_write_seconds_count', { sink });
  const seconds = promSum(text, 'himari_sink_write_seconds_sum', { sink });
  const rows = promSum(text, 'himari_sink_flush_rows_sum', { sink });
  // Older processors do not export it: they wrote over one connection.
  const connections = promSum(text, 'himari_sink_connections', { sink }) || 1;
  const flushReasons: Record<string, number> = {};
  for (const reason of ['rows', 'bytes', 'time', 'idle', 'close']) {
    const n = promSum(text, 'himari_sink_flushes_total', { sink, reason });
    if (n > 0) flushReasons[reason] = n;
  }
  return {
    writes,
    meanWriteMs: writes > 0 ? Math.round((seconds * 1e6) / writes) / 1000 : 0,
    meanRows: writes > 0 ? Math.round((rows * 10) / writes) / 10 : 0,
    flushReasons,
    connections,
    busyShare: wallMs > 0 ? Math.round((seconds * 1000 * 1000) / wallMs / connections) / 1000 : 0,
  };
}

/** How the processor used its worker threads: every task is a wake-up each way. */
export interface WorkerTaskStats {
  tasks: number;
  /** Mean messages per task. */
  meanMessages: number;
  /** Mean round trip of a task (queue, checks, transfer back), ms. */
  meanRoundTripMs: number;
}

export function workerTaskStats(text: string): WorkerTaskStats {
  const tasks = promSum(text, 'himari_worker_task_seconds_count');
  const seconds = promSum(text, 'himari_worker_task_seconds_sum');
  const batched = promSum(text, 'himari_worker_batch_messages_count');
  const messages = promSum(text, 'himari_worker_batch_messages_sum');
  return {
    tasks,
    meanMessages: batched > 0 ? Math.round((messages * 10) / batched) / 10 : 0,
    meanRoundTripMs: tasks > 0 ? Math.round((seconds * 1e6) / tasks) / 1000 : 0,
  };
}

/** One thread's event loop over the run (`himari_event_loop_delay_max_seconds`): seconds by their longest delay. */
export interface LoopDelayStats {
  /** Seconds observed. */
  seconds: number;
  /** Of them, those whose longest delay was over 20, 50 and 100 ms. */
  over20ms: number;
  over50ms: number;
  over100ms: number;
}

/** Per thread label (kafka, pipeline, main); empty from a processor without the metric. */
export function loopDelayStats(text: string): Record<string, LoopDelayStats> {
  const name = 'himari_event_loop_delay_max_seconds';
  const out: Record<string, LoopDelayStats> = {};
  for (const m of text.matchAll(new RegExp(`^${name}_count\\{thread="([^"]+)"\\}`, 'gm'))) {
    const thread = m[1]!;
    const seconds = promSum(text, `${name}_count`, { thread });
    const upTo = (le: string) => promSum(text, `${name}_bucket`, { thread, le });
    out[thread] = { seconds, over20ms: seconds - upTo('0.02'), over50ms: seconds - upTo('0.05'), over100ms: seconds - upTo('0.1') };
  }
  return out;
}
