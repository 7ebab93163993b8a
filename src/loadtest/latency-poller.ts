import { DISPATCH_STAGE, type LatencyReport } from '../obs/latency-report.js';
import { LatencyHistogram, type EncodedHistogram } from '../obs/latency-histogram.js';
import { ErrorCode, HimariError } from '../errors.js';

/**
 * Polls the processor's `/debug/latency` and keeps every completed second per sink. Each poll
 * asks only for seconds after the last one it has (they are aligned to the processor's clock,
 * so nothing is counted twice); the totals are merged from the seconds, and the processor's own
 * since-start histogram is kept as a cross-check.
 */
export class LatencyPoller {
  /** sink or stage → Unix second → histogram of latencies (µs) confirmed in that second. */
  readonly seconds = new Map<string, Map<number, LatencyHistogram>>();
  /** The processor's since-start histogram per sink, from the last poll. */
  readonly processorTotals = new Map<string, EncodedHistogram>();
  consumed = 0;
  /** The processor's pid and its worker threads' OS thread ids, as last reported. */
  pid = 0;
  workerThreadIds: number[] = [];
  pipelineThreadId = 0;
  private after = 0;

  constructor(readonly url: string) {}

  async poll(): Promise<void> {
    const res = await fetch(`${this.url}?after=${this.after}`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `${this.url}: HTTP ${res.status}`);
    const report = (await res.json()) as LatencyReport;
    for (const sink of report.sinks) {
      let bySec = this.seconds.get(sink.name);
      if (bySec === undefined) this.seconds.set(sink.name, (bySec = new Map()));
      for (const s of sink.seconds) bySec.set(s.sec, LatencyHistogram.decode(s.histogram));
      this.processorTotals.set(sink.name, sink.total);
    }
    this.consumed = report.consumed;
    this.pid = report.pid;
    this.workerThreadIds = report.workerThreadIds;
    this.pipelineThreadId = report.pipelineThreadId ?? 0;
    // Every second before the processor's current one is complete and has been returned.
    this.after = Math.floor(report.nowMs / 1000) - 1;
  }

  /** Latencies of a sink confirmed in Unix seconds [fromSec, toSec), merged. */
  merged(sink: string, fromSec = -Infinity, toSec = Infinity): LatencyHistogram {
    const h = new LatencyHistogram();
    for (const [sec, hist] of this.seconds.get(sink) ?? []) if (sec >= fromSec && sec < toSec) h.merge(hist);
    return h;
  }

  /** Every latency the processor reports: its sinks and the `dispatch` stage. */
  get stages(): string[] {
    return [...this.seconds.keys()].sort();
  }

  get sinks(): string[] {
    return this.stages.filter((s) => s !== DISPATCH_STAGE);
  }
}
