import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from '../../src/obs/metrics.js';
import { parsePromText, type Scrape } from '../../src/ops/prom-text.js';
import { bucketDelta, computeTopView, counterDelta, histogramQuantile, type Bucket } from '../../src/ops/top.js';
import { renderTop } from '../../src/ops/top-render.js';

async function scrape(m: Metrics, at: number): Promise<Scrape> {
  return parsePromText(await m.registry.metrics(), at);
}

describe('top: rates between two scrapes of the processor\'s metrics', () => {
  it('turns counters into rates and reads gauges, from what the processor exports', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.consumed.inc({ topic: 't' }, 5000);
    m.verdicts.inc({ verdict: 'accepted' }, 4000);
    m.checkFailures.inc({ check: 'A1' }, 100);
    m.checkFailures.inc({ check: 'T5' }, 10);
    m.workerBusy.inc(10);
    m.workerThreads.set(4);
    m.deadLettered.inc({ code: 'DECODE_FAILED' }, 3);
    const first = await scrape(m, 10_000);

    m.consumed.inc({ topic: 't' }, 2000);
    m.consumed.inc({ topic: 'u' }, 1000);
    m.verdicts.inc({ verdict: 'accepted' }, 2800);
    m.verdicts.inc({ verdict: 'flagged' }, 200);
    m.checkFailures.inc({ check: 'T5' }, 50);
    m.checkFailures.inc({ check: 'C1' }, 2);
    m.workerBusy.inc(2); // 2 s of work over 2 s on 4 threads: 25 %
    m.workerQueueDepth.set(7);
    m.consumerLag.set({ topic: 't', partition: '0' }, 10);
    m.consumerLag.set({ topic: 't', partition: '1' }, 90);
    m.newestEventAge.set({ venue: 'binance' }, 0.2);
    m.newestEventAge.set({ venue: 'kraken' }, 4);
    m.ready.set(1);
    m.sinkOutage.set({ sink: 'postgres' }, 1);
    m.written.inc({ sink: 'postgres' }, 1000);
    const second = await scrape(m, 12_000);

    const v = computeTopView(first, second, { topChecks: 2 });
    assert.equal(v.intervalS, 2);
    assert.deepEqual(v.consumed, { total: 8000, perS: 1500 });
    assert.deepEqual(v.verdicts, [{ verdict: 'accepted', total: 6800, perS: 1400 }, { verdict: 'flagged', total: 200, perS: 100 }]);
    // Most failing per second first; A1 failed before but not in this interval.
    assert.deepEqual(v.checkFailures, [{ check: 'T5', total: 60, perS: 25 }, { check: 'C1', total: 2, perS: 1 }]);
    assert.deepEqual(v.workers, { utilization: 0.25, threads: 4, queueDepth: 7 });
    assert.deepEqual(v.lag, { sum: 100, partitions: 2, worst: { topic: 't', partition: '1', lag: 90 } });
    assert.deepEqual(v.freshness, [{ venue: 'kraken', ageS: 4 }, { venue: 'binance', ageS: 0.2 }]);
    assert.deepEqual(v.deadLetters, [{ code: 'DECODE_FAILED', total: 3, perS: 0 }]);
    assert.equal(v.ready, true);
    assert.equal(v.sinks.find((s) => s.sink === 'postgres')?.outage, true);
    assert.deepEqual(v.sinks.find((s) => s.sink === 'postgres')?.written, { total: 1000, perS: 500 });

    const text = renderTop(v, { url: 'http://x', intervalS: 2, time: new Date(0) }).join('\n');
    assert.match(text, /consumed\s+1,500\/s/);
    assert.match(text, /READY/);
    assert.match(text, /25 % busy, 4 threads, queue 7 tasks/);
    assert.match(text, /worst t\[1\] 90/);
    assert.match(text, /OUTAGE/);
  });

  it('has no rates on the first scrape, and counts a counter that went down as restarted', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.consumed.inc({ topic: 't' }, 500);
    const s = await scrape(m, 0);
    const first = computeTopView(null, s);
    assert.equal(first.intervalS, null);
    assert.deepEqual(first.consumed, { total: 500, perS: null });
    assert.equal(first.workers.utilization, null);
    assert.equal(first.ready, false); // exported, 0
    const restarted = new Metrics({ defaultMetrics: false });
    restarted.consumed.inc({ topic: 't' }, 100);
    assert.deepEqual(computeTopView(s, await scrape(restarted, 1000)).consumed, { total: 100, perS: 100 });
    assert.equal(counterDelta(undefined, 7), 7);
    assert.equal(counterDelta(10, 7), 7);
    assert.equal(counterDelta(3, 7), 4);
  });

  it('takes end-to-end quantiles from the buckets\' growth, or from the totals when nothing grew', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const redis = m.endToEnd.labels('redis');
    for (let i = 0; i < 100; i++) redis.observe(2); // an old slow spell: 1 s < x <= 2.5 s
    m.written.inc({ sink: 'redis' }, 100);
    const first = await scrape(m, 0);
    for (let i = 0; i < 100; i++) redis.observe(0.004); // now fast: 3 ms < x <= 5 ms
    m.written.inc({ sink: 'redis' }, 100);
    const second = await scrape(m, 1000);
    const now = computeTopView(first, second).sinks[0]!;
    assert.equal(now.window, 'interval');
    assert.equal(now.p50Ms, 4); // linear within (3, 5]
    assert.ok(now.p99Ms! > 4.9 && now.p99Ms! <= 5);
    // Nothing new between two scrapes: the totals since start, said so.
    const idle = computeTopView(second, await scrape(m, 2000)).sinks[0]!;
    assert.equal(idle.window, 'total');
    assert.equal(idle.p50Ms, 5);
    assert.ok(idle.p99Ms! > 1000 && idle.p99Ms! <= 2500);
    assert.equal(idle.written.perS, 0);
  });

  it('histogramQuantile interpolates as PromQL and says "above the last bound" for +Inf', () => {
    const b = (pairs: Array<[number, number]>): Bucket[] => pairs.map(([le, count]) => ({ le, count }));
    assert.equal(histogramQuantile(0.5, []), null);
    assert.equal(histogramQuantile(0.5, b([[1, 0], [Infinity, 0]])), null);
    assert.equal(histogramQuantile(0.5, b([[1, 10], [2, 20], [Infinity, 20]])), 1);
    assert.equal(histogramQuantile(0.75, b([[1, 10], [2, 20], [Infinity, 20]])), 1.5);
    assert.equal(histogramQuantile(0.25, b([[1, 10], [2, 20], [Infinity, 20]])), 0.5);
    assert.equal(histogramQuantile(0.99, b([[1, 10], [2, 20], [Infinity, 40]])), Infinity);
    assert.equal(histogramQuantile(0.5, b([[1, 0], [2, 0], [Infinity, 5]])), Infinity);
    const text = renderTop({
      ...computeTopView(null, parsePromText('', 0)),
      sinks: [{ sink: 'redis', written: { total: 1, perS: 1 }, p50Ms: 3, p99Ms: Infinity, topBoundMs: 2500, window: 'interval', outage: false }],
    }, { url: 'u', intervalS: 1, time: new Date(0) }).join('\n');
    assert.match(text, /redis .* 3\.0\s+>2500/);
  });

  it('bucketDelta refuses layouts that changed or counts that went down', () => {
    const a = [{ le: 1, count: 5 }, { le: Infinity, count: 6 }];
    assert.deepEqual(bucketDelta(a, [{ le: 1, count: 7 }, { le: Infinity, count: 9 }]), [{ le: 1, count: 2 }, { le: Infinity, count: 3 }]);
    assert.equal(bucketDelta(a, [{ le: 1, count: 4 }, { le: Infinity, count: 9 }]), null);
    assert.equal(bucketDelta(a, [{ le: 2, count: 7 }, { le: Infinity, count: 9 }]), null);
    assert.deepEqual(bucketDelta([], a), a);
  });
});
