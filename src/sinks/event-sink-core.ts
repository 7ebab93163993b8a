import { Verdict } from '../codec/event.js';
import { wallClockMs } from '../obs/clock.js';
import { LatencyHistogram } from '../obs/latency-histogram.js';
import { LatencySeries } from '../obs/latency-series.js';
import type { EventChunk } from './chunk.js';
import { SinkCore, type SinkCoreOptions, type SinkDriver } from './core.js';

/**
 * The sink core of an event sink (Redis, PostgreSQL, the output topic): checked events, whose
 * end-to-end latency is measured when their batch is confirmed.
 */
export class EventSinkCore extends SinkCore<EventChunk> {
  /** Send time (intended, else Kafka timestamp) to confirmed write, µs, since start. */
  readonly latency = new LatencyHistogram();
  /** The same per wall-clock second, for a load test polling /debug/latency. */
  readonly latencySeries = new LatencySeries();

  constructor(driver: SinkDriver<EventChunk>, options: SinkCoreOptions<EventChunk>) {
    super(driver, options);
  }

  /** Accepted and rejected events (not dead letters), timed from when they were sent. */
  protected override landed(chunks: readonly EventChunk[]): void {
    const now = wallClockMs();
    const e2e = this.options.metrics.endToEnd.labels(this.name);
    const second = this.latencySeries.at(now);
    for (const chunk of chunks) {
      const verdicts = chunk.result.verdicts;
      const sent = chunk.sentMs;
      for (let i = chunk.from; i < chunk.to; i++) {
        const sentMs = sent[i]!;
        if (sentMs > 0 && verdicts[i]! <= Verdict.REJECTED) {
          const us = (now - sentMs) * 1000;
          e2e.observe(us / 1e6);
          this.latency.record(us);
          second.record(us);
        }
      }
    }
  }
}
