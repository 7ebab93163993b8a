import { wallClockMs } from '../obs/clock.js';
import type { GroupLagProbe } from './kafka-probe.js';
import type { LagSample } from './lag.js';
import type { LatencyPoller } from './latency-poller.js';
import type { ProcessorChild } from './processor-child.js';
import type { SampleRow } from './result.js';

/**
 * Once a second: the processor's CPU and RSS (/proc), the group's lag and committed offsets
 * (Kafka), what the generator sent, and the processor's per-second latencies (/debug/latency).
 * Ticks never overlap: a slow one delays the next.
 */
export class Sampler {
  readonly rows: SampleRow[] = [];
  readonly lags: Array<{ atMs: number; lag: number }> = [];
  peakRss = 0;
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> = Promise.resolve();
  private prev: { atMs: number; cpuMs: number; sent: number; committed: number } | null = null;
  sent = () => 0;

  constructor(
    private readonly child: ProcessorChild, private readonly probe: GroupLagProbe, readonly poller: LatencyPoller, readonly t0Ms: number,
    private readonly log: (l: string) => void, private readonly progress?: (status: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => { this.busy = this.busy.then(() => this.tick()); }, 1000);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    await this.busy;
  }

  async tick(): Promise<void> {
    try {
      const proc = this.child.sample();
      const offsets = await this.probe.sample();
      await this.poller.poll();
      const atMs = wallClockMs();
      const sent = this.sent();
      if (proc !== null) this.peakRss = Math.max(this.peakRss, proc.hwmBytes);
      this.lags.push({ atMs, lag: offsets.lag });
      if (this.prev !== null && proc !== null) {
        const dt = (atMs - this.prev.atMs) / 1000;
        this.rows.push({
          t: Math.round((atMs - this.t0Ms) / 100) / 10,
          sentPerS: Math.round((sent - this.prev.sent) / dt),
          committedPerS: Math.round((offsets.committed - this.prev.committed) / dt),
          lag: offsets.lag,
          cpuPct: Math.round(((proc.cpuMs - this.prev.cpuMs) / (dt * 1000)) * 1000) / 10,
          cpuMs: proc.cpuMs,
          rssMb: Math.round(proc.rssBytes / 1048576),
        });
      }
      if (proc !== null) this.prev = { atMs, cpuMs: proc.cpuMs, sent, committed: offsets.committed };
      const row = this.rows[this.rows.length - 1];
      if (this.progress !== undefined && row !== undefined) {
        this.progress(`loadtest: ${row.t} s: sent ${sent} (${row.sentPerS}/s), committed ${row.committedPerS}/s, lag ${row.lag}, processor CPU ${row.cpuPct} %, RSS ${row.rssMb} MB`);
      }
    } catch (err) {
      this.log(`sample failed: ${(err as Error).message}`);
    }
  }

  lagSince(fromMs: number, toMs: number): LagSample[] {
    return this.lags.filter((l) => l.atMs >= fromMs && l.atMs <= toMs).map((l) => ({ t: Math.round(l.atMs - fromMs) / 1000, lag: l.lag }));
  }
}
