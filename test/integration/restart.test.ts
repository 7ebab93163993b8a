import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { produce } from '../../src/loadtest/generator.js';
import { cleanup, createTopics, testConfig, waitUntil, withPg } from '../helpers/services.js';
import { ProcessorProcess, drainAndStop } from '../helpers/processor.js';

async function rowCount(config: ReturnType<typeof testConfig>['config']): Promise<{ n: number; d: number }> {
  return withPg(config, async (c) => {
    const r = await c.query(`SELECT count(*)::int AS n, count(DISTINCT (src_partition, src_offset))::int AS d FROM ${config.postgres.table}`).catch(() => ({ rows: [{ n: 0, d: 0 }] }));
    return r.rows[0] as { n: number; d: number };
  });
}

describe('restart (SIGTERM mid-stream, then start again)', { timeout: 240_000 }, () => {
  const { config, env } = testConfig();
  const processes: ProcessorProcess[] = [];
  after(async () => {
    for (const p of processes) await p.stop();
    await cleanup(config);
  });

  it('loses nothing and writes nothing twice', async () => {
    await createTopics(config);
    // 40,000 events at 8,000/s: the processor is stopped while the producer is still going.
    const producing = produce(config.kafka, {
      topic: config.kafka.topics[0]!, symbols: 24, venues: ['binance', 'okx', 'bybit', 'coinbase'], rate: 8000, durationS: 5, bad: 4, seed: 7,
    });
    const first = new ProcessorProcess(env);
    processes.push(first);
    await first.ready();
    await waitUntil('the first processor to write some rows', async () => (await rowCount(config)).n >= 5000, 60_000, 100);
    first.kill('SIGTERM');
    const exit = await first.exited;
    assert.equal(exit.code, 0, `first run exited with ${JSON.stringify(exit)}: ${first.stderr}`);
    const midway = await rowCount(config);
    const stats = await producing;
    assert.equal(stats.failed, 0);
    assert.ok(midway.n < stats.produced, `the stop must come mid-stream (${midway.n} of ${stats.produced} written)`);

    const second = new ProcessorProcess(env);
    processes.push(second);
    await second.ready();
    await drainAndStop(second, config, 120_000);

    const final = await rowCount(config);
    assert.equal(final.n, stats.produced, 'every valid event is in PostgreSQL');
    assert.equal(final.d, stats.produced, 'no event is in PostgreSQL twice');
    assert.match(second.stderr, new RegExp(`dead_letter\\s+[0-${stats.bad}]`));
  });
});
