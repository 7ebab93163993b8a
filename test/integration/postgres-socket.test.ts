import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { produce } from '../../src/loadtest/generator.js';
import { ProcessorProcess, drainAndStop } from '../helpers/processor.js';
import { cleanup, createTopics, endOffsets, testConfig, waitGroupCommitted, withPg } from '../helpers/services.js';

/**
 * `postgres.url` with `?host=/dir` reaches a PostgreSQL on the same machine through its Unix
 * socket instead of loopback TCP (a drain 1.06x as fast here, README). Every connection of the
 * processor takes it: migrate, the sink, partition maintenance.
 */
describe('PostgreSQL over its Unix socket (real broker and PostgreSQL)', { timeout: 120_000 }, () => {
  const tcp = testConfig({ HIMARI_SINK_STORES: 'postgres' });
  const processes: ProcessorProcess[] = [];
  after(async () => {
    for (const p of processes) await p.stop();
    await cleanup(tcp.config);
  });

  it('the processor migrates and writes every event through the socket the server listens on', async () => {
    // The server says where its socket is; the test reaches it over TCP to ask.
    const dir = await withPg(tcp.config, async (c) => (await c.query<{ d: string }>("SELECT current_setting('unix_socket_directories') AS d")).rows[0]!.d.split(',')[0]!.trim());
    assert.ok(dir.startsWith('/'), `a socket directory: ${dir}`);
    const tcpUrl = new URL(tcp.env.HIMARI_POSTGRES_URL!);
    const socketUrl = `postgres://${tcpUrl.username}@localhost${tcpUrl.pathname}?host=${encodeURIComponent(dir)}`;
    const viaSocket = testConfig({ ...tcp.env, HIMARI_POSTGRES_URL: socketUrl });

    await createTopics(tcp.config);
    const stats = await produce(tcp.config.kafka, { topic: tcp.config.kafka.topics[0]!, symbols: 5, venues: ['binance', 'okx'], rate: 2000, durationS: 1, bad: 0, seed: 5 });
    const p = new ProcessorProcess(viaSocket.env);
    processes.push(p);
    await p.ready();
    await waitGroupCommitted(tcp.config, await endOffsets(tcp.config), 60_000);
    // The sink's connection is still open: a backend reached through a Unix socket has no client address.
    const table = tcp.config.postgres.table;
    const backends = await withPg(tcp.config, async (c) => (await c.query<{ socket: boolean }>(
      `SELECT client_addr IS NULL AND client_port = -1 AS socket FROM pg_stat_activity WHERE application_name = 'himari-l0' AND query LIKE '%' || $1 || '%'`, [table])).rows);
    assert.ok(backends.length >= 1, 'the sink\'s connection is open');
    assert.deepEqual(backends.filter((b) => !b.socket), [], 'every connection of the sink goes through the socket');
    await drainAndStop(p, tcp.config, 30_000);

    const rows = await withPg(tcp.config, async (c) => (await c.query<{ n: number; d: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT (src_partition, src_offset))::int AS d FROM ${table}`)).rows[0]!);
    assert.deepEqual(rows, { n: stats.produced, d: stats.produced }, 'every event once');
  });
});
