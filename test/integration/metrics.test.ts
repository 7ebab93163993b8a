import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { encodeEvent } from '../../src/codec/encode.js';
import type { MarketEvent } from '../../src/codec/event.js';
import { freePort } from '../helpers/outage.js';
import { ProcessorProcess } from '../helpers/processor.js';
import { cleanup, endOffsets, produceRaw, testConfig, waitGroupCommitted } from '../helpers/services.js';

/** Every sample of `name` in an exposition text: labels (as written) → value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m !== null && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

/**
 * The operator's metrics on a running processor, after real traffic: names, label values and
 * what they measure (the dashboard and the alert rules in deploy/ are built on them).
 */
describe('operator metrics of a running processor (real broker, Redis, PostgreSQL)', { timeout: 120_000 }, () => {
  const port = freePort();
  // Two venue slots in the cross-venue reference: a third venue is refused one, which must be counted and said.
  const setup = port.then((p) => testConfig({ HIMARI_KAFKA_TOPIC_PARTITIONS: '2', HIMARI_METRICS_PORT: String(p), HIMARI_CHECKS_REFERENCE_VENUES: '2' }));
  const processes: ProcessorProcess[] = [];
  after(async () => {
    for (const p of processes) await p.stop();
    await cleanup((await setup).config);
  });

  it('exports check failures by id, lag per partition, worker use, freshness per venue, the reference\'s slots, sink state and the unprefixed process metrics', async () => {
    const { config, env } = await setup;
    const p = new ProcessorProcess(env);
    processes.push(p);
    await p.ready();
    const nowUs = Date.now() * 1000;
    const quote = (i: number, bid: number, ask: number): MarketEvent =>
      ({ v: 1, type: 'quote', venue: 'okx', symbol: 'ETH-USDT', ts: nowUs + i * 1000, recvTs: nowUs + i * 1000 + 500, bid, bidSize: 1, ask, askSize: 1 });
    const trade = (i: number, venue = 'binance'): MarketEvent =>
      ({ v: 1, type: 'trade', venue, symbol: 'BTC-USDT', ts: nowUs + i * 1000, recvTs: nowUs + i * 1000 + 500, id: String(i), price: 100, size: 1, side: 'buy' });
    await produceRaw(config, config.kafka.topics[0]!, [
      ...Array.from({ length: 100 }, (_, i) => ({ key: 'BTC-USDT', value: encodeEvent(trade(i)), partition: 0 })),
      ...Array.from({ length: 20 }, (_, i) => ({ key: 'ETH-USDT', value: encodeEvent(quote(i, 2000, 2001)), partition: 1 })),
      { key: 'ETH-USDT', value: encodeEvent(quote(20, 2002, 2001)), partition: 1 }, // crossed: M1
      { key: 'ETH-USDT', value: Buffer.from([0xc1, 0xc1]), partition: 1 }, // undecodable: a dead letter
    ]);
    // After binance and okx hold both venue slots: kraken's stream is refused one.
    await waitGroupCommitted(config, await endOffsets(config), 60_000);
    await produceRaw(config, config.kafka.topics[0]!, Array.from({ length: 5 }, (_, i) => ({ key: 'BTC-USDT', value: encodeEvent(trade(200 + i, 'kraken')), partition: 0 })));
    await waitGroupCommitted(config, await endOffsets(config), 60_000);
    // The commit confirmed in the group may be a moment ahead of the processor's own record.
    let text = '';
    for (let i = 0; i < 50; i++) {
      text = await (await fetch(`http://127.0.0.1:${config.metrics.port}/metrics`)).text();
      if ([...samples(text, 'himari_consumer_lag_messages').values()].every((v) => v === 0) && samples(text, 'himari_consumer_lag_messages').size === 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    assert.equal(samples(text, 'himari_check_failures_total').get('{check="M1"}'), 1, 'M1 counted under its id');
    for (const labels of samples(text, 'himari_check_failures_total').keys()) assert.match(labels, /^\{check="[A-Z]\d+"\}$/);
    assert.equal(samples(text, 'himari_dead_lettered_total').get('{code="DECODE_FAILED"}'), 1);

    const topic = config.kafka.topics[0]!;
    assert.deepEqual(samples(text, 'himari_consumer_lag_messages'),
      new Map([[`{topic="${topic}",partition="0"}`, 0], [`{topic="${topic}",partition="1"}`, 0]]), 'every assigned partition, nothing left behind');

    assert.ok(samples(text, 'himari_worker_busy_seconds_total').get('')! > 0, 'workers spent time on the checks');
    assert.equal(samples(text, 'himari_worker_threads').get(''), config.workers.threads);
    assert.equal(samples(text, 'himari_worker_queue_depth').get(''), 0);

    const ages = samples(text, 'himari_newest_event_age_seconds');
    assert.deepEqual([...ages.keys()].sort(), ['{venue="binance"}', '{venue="okx"}']);
    for (const age of ages.values()) assert.ok(Number.isFinite(age) && age >= 0);

    assert.deepEqual(samples(text, 'himari_reference_slots'), new Map([['{kind="instrument"}', config.checks.referenceInstruments], ['{kind="venue"}', 2]]));
    assert.deepEqual(samples(text, 'himari_reference_slots_used'), new Map([['{kind="instrument"}', 2], ['{kind="venue"}', 2]]));
    // The refusal is counted by the sweep (every checks.sweepMs) and said once in the log.
    for (let i = 0; i < 50 && !(samples(text, 'himari_reference_refused_total').get('{kind="venue"}')! > 0); i++) {
      await new Promise((r) => setTimeout(r, 200));
      text = await (await fetch(`http://127.0.0.1:${config.metrics.port}/metrics`)).text();
    }
    assert.deepEqual(samples(text, 'himari_reference_refused_total'), new Map([['{kind="instrument"}', 0], ['{kind="venue"}', 1]]), 'one stream (kraken BTC-USDT) refused a venue slot');
    const warning = p.stdout.split('\n').filter((l) => l.includes('cross-venue reference full'));
    assert.equal(warning.length, 1, p.stdout.slice(-3000));
    assert.deepEqual((({ kind, refused, first, slots, configKey }) => ({ kind, refused, first, slots, configKey }))(JSON.parse(warning[0]!)),
      { kind: 'venue', refused: 1, first: 'kraken', slots: 2, configKey: 'checks.referenceVenues' });

    assert.deepEqual(samples(text, 'himari_sink_outage'), new Map([['{sink="postgres"}', 0], ['{sink="redis"}', 0], ['{sink="dead-letter"}', 0]]));
    assert.equal(samples(text, 'himari_sink_written_events_total').get('{sink="dead-letter"}'), 1, 'the dead letter, through the sink core');
    assert.equal(samples(text, 'himari_ready').get(''), 1);

    assert.ok(samples(text, 'process_cpu_seconds_total').get('')! > 0, 'the stock process metrics, unprefixed');
    assert.ok(samples(text, 'nodejs_eventloop_lag_p99_seconds').has(''), 'event-loop delay');
    // Each second's longest event-loop delay of both threads (the default: the pipeline in a thread of its own).
    for (let i = 0; i < 50 && ['kafka', 'pipeline'].some((t) => !(samples(text, 'himari_event_loop_delay_max_seconds_count').get(`{thread="${t}"}`)! > 0)); i++) {
      await new Promise((r) => setTimeout(r, 200));
      text = await (await fetch(`http://127.0.0.1:${config.metrics.port}/metrics`)).text();
    }
    const loopCounts = samples(text, 'himari_event_loop_delay_max_seconds_count');
    assert.deepEqual([...loopCounts.keys()].sort(), ['{thread="kafka"}', '{thread="pipeline"}']);
    for (const n of loopCounts.values()) assert.ok(n > 0, 'a second observed per thread');
    assert.doesNotMatch(text, /^himari_process_/m);
  });
});
