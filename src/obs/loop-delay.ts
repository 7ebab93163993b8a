import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';

/**
 * This thread's event loop, watched: every `everyMs` the longest delay of the period (how late
 * a 10 ms timer fired at worst, seconds) goes to `report`, 0 for a period without a sample. A loop
 * blocked for longer than the period reports once it runs again, with the whole block.
 * `himari_event_loop_delay_max_seconds` is built from it, a thread per label, since the
 * pipeline moved off the main thread and prom-client's `nodejs_eventloop_lag_*` sees only the
 * thread that serves /metrics.
 */
export class LoopDelayMonitor {
  private readonly histogram: ELDHistogram;
  private readonly timer: NodeJS.Timeout;

  constructor(report: (maxSeconds: number) => void, everyMs = 1000) {
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.timer = setInterval(() => {
      report(this.histogram.count > 0 ? this.histogram.max / 1e9 : 0);
      this.histogram.reset();
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
