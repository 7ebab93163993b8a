import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loopDelayStats, promSum, sinkWriteStats, workerTaskStats } from '../../src/loadtest/prom-scrape.js';

const TEXT = `# HELP himari_sink_write_seconds Duration of one sink batch write.
himari_sink_write_seconds_bucket{le="0.001",sink="redis"} 3
himari_sink_write_seconds_sum{sink="redis"} 2.5
himari_sink_write_seconds_count{sink="redis"} 100
himari_sink_write_seconds_sum{sink="postgres"} 9
himari_sink_write_seconds_count{sink="postgres"} 50
himari_sink_flush_rows_sum{sink="redis"} 25000
himari_sink_flushes_total{sink="redis",reason="rows"} 90
himari_sink_flushes_total{sink="redis",reason="idle"} 10
himari_sink_flushes_total{sink="postgres",reason="rows"} 50
himari_sink_connections{sink="postgres"} 2
himari_worker_task_seconds_sum 0.8
himari_worker_task_seconds_count 400
himari_worker_batch_messages_bucket{le="10"} 300
himari_worker_batch_messages_sum 9000
himari_worker_batch_messages_count 400
`;

describe('metrics scrape', () => {
  it('sums samples by name and labels, not by prefix', () => {
    assert.equal(promSum(TEXT, 'himari_sink_write_seconds_count'), 150);
    assert.equal(promSum(TEXT, 'himari_sink_write_seconds_count', { sink: 'redis' }), 100);
    assert.equal(promSum(TEXT, 'himari_sink_write_seconds'), 0);
  });

  it('derives mean write time, rows per write, flush reasons and busy share per connection', () => {
    // No connections gauge (an older processor): one connection.
    assert.deepEqual(sinkWriteStats(TEXT, 'redis', 10_000), { writes: 100, meanWriteMs: 25, meanRows: 250, flushReasons: { rows: 90, idle: 10 }, connections: 1, busyShare: 0.25 });
    // 9 s of writes in 10 s over 2 connections: each busy 45 %.
    assert.deepEqual(sinkWriteStats(TEXT, 'postgres', 10_000), { writes: 50, meanWriteMs: 180, meanRows: 0, flushReasons: { rows: 50 }, connections: 2, busyShare: 0.45 });
  });

  it('derives worker tasks, messages per task and the mean round trip', () => {
    assert.deepEqual(workerTaskStats(TEXT), { tasks: 400, meanMessages: 22.5, meanRoundTripMs: 2 });
    assert.deepEqual(workerTaskStats(''), { tasks: 0, meanMessages: 0, meanRoundTripMs: 0 });
  });

  it('counts each thread\'s seconds by their longest event-loop delay (cumulative buckets)', () => {
    const text = ['0.005', '0.01', '0.02', '0.05', '0.1', '0.25', '+Inf'].map((le, i) =>
      `himari_event_loop_delay_max_seconds_bucket{le="${le}",thread="kafka"} ${[50, 80, 90, 95, 97, 100, 100][i]}\n` +
      `himari_event_loop_delay_max_seconds_bucket{le="${le}",thread="pipeline"} ${[10, 60, 70, 70, 71, 72, 72][i]}`).join('\n') + `
himari_event_loop_delay_max_seconds_sum{thread="kafka"} 1.2
himari_event_loop_delay_max_seconds_count{thread="kafka"} 100
himari_event_loop_delay_max_seconds_sum{thread="pipeline"} 2.5
himari_event_loop_delay_max_seconds_count{thread="pipeline"} 72
`;
    assert.deepEqual(loopDelayStats(text), {
      kafka: { seconds: 100, over20ms: 10, over50ms: 5, over100ms: 3 },
      pipeline: { seconds: 72, over20ms: 2, over50ms: 2, over100ms: 1 },
    });
    assert.deepEqual(loopDelayStats(TEXT), {}, 'a processor without the metric');
  });
});
