import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { unpack } from 'msgpackr';
import type { MarketEvent } from '../../src/codec/event.js';
import { LatencyHistogram, type EncodedHistogram } from '../../src/obs/latency-histogram.js';
import { readRecordingEvents } from '../../src/replay/recording.js';
import { CLI, drainAndStop, ProcessorProcess } from '../helpers/processor.js';
import { RECORDINGS_DIR } from '../helpers/recordings.js';
import { cleanup, readTopic, testConfig, waitUntil, withPg } from '../helpers/services.js';
import { VenueServer } from '../helpers/venue-server.js';

const OKX = { venue: 'okx', symbols: ['BTC-USD-220527', 'UNI-USD-SWAP', 'BTC-USDT'], channels: ['trades', 'quotes', 'book'] };

describe('himari-l0 ingest, as users run it', { timeout: 120_000 }, () => {
  it('produces a venue\'s messages to Kafka, answers /readyz, and on SIGTERM flushes and exits 0', async () => {
    const file = join(RECORDINGS_DIR, 'OKX.ws.1.0');
    const server = new VenueServer({ recording: file, speed: 10, symbols: OKX.symbols });
    const url = `ws://127.0.0.1:${await server.listen()}/ws/v5/public`;
    const { config, env } = testConfig();
    const metricsPort = 19_465 + Math.floor(Math.random() * 500);
    const child = spawn(process.execPath, [CLI, 'ingest'], {
      env: {
        PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env,
        HIMARI_INGEST_TOPIC: config.kafka.topics[0]!, HIMARI_INGEST_FEEDS: JSON.stringify({ okx: { ...OKX, url } }), HIMARI_INGEST_METRICS_PORT: String(metricsPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitUntil('the gateway says it produces', async () => stderr.includes('himari-l0 ingest: producing 1 feeds'), 30_000, 50);
      await server.done;
      const expected = readRecordingEvents(file).events.length;
      await waitUntil('/readyz answers ready', async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => null))?.status === 200, 10_000);
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.match(metrics, /^himari_ingest_connected\{feed="okx",venue="okx"\} 1$/m);
      assert.match(metrics, /^process_cpu_seconds_total /m, 'the stock Node.js metrics too');
      const stored = await readTopic(config, config.kafka.topics[0]!, expected, 30_000);
      assert.equal(stored.length, expected);
      assert.ok(stored.every((m) => (unpack(m.value) as MarketEvent).venue === 'okx'));
      // The exact receive → acknowledged histogram, one value per event.
      const latency = await (await fetch(`http://127.0.0.1:${metricsPort}/debug/latency`)).json() as { receiveToAck: EncodedHistogram };
      assert.equal(LatencyHistogram.decode(latency.receiveToAck).total, expected);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    } finally {
      child.kill('SIGKILL');
      await server.close();
      await cleanup(config);
    }
  });

  it('SIGTERM while a venue streams: what was handed to Kafka is acknowledged before the exit (0)', async () => {
    const coinbase = { venue: 'coinbase', symbols: ['SKL-USD', 'SKL-BTC', 'BAND-GBP', 'NMR-EUR', 'BAND-BTC', 'YFI-BTC', 'DASH-BTC', 'NU-GBP', 'CRV-EUR', 'SKL-GBP'] };
    const server = new VenueServer({ recording: join(RECORDINGS_DIR, 'COINBASE.ws.28.0'), speed: 20, symbols: coinbase.symbols });
    const url = `ws://127.0.0.1:${await server.listen()}`;
    const { config, env } = testConfig();
    const child = spawn(process.execPath, [CLI, 'ingest'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, HIMARI_INGEST_TOPIC: config.kafka.topics[0]!, HIMARI_INGEST_FEEDS: JSON.stringify({ coinbase: { ...coinbase, url } }), HIMARI_INGEST_METRICS_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitUntil('a few thousand messages sent', async () => server.sent > 3000, 30_000, 5);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, `${stderr}\n${stdout.slice(-2000)}`);
      assert.doesNotMatch(stdout, /not acknowledged/);
      assert.ok(server.sent < server.recorded.length, 'stopped mid-stream');
      const stored = await readTopic(config, config.kafka.topics[0]!, 1, 10_000);
      assert.ok(stored.length > 0);
    } finally {
      child.kill('SIGKILL');
      await server.close();
      await cleanup(config);
    }
  });

  it('with ingest.inProcess, `run` collects too: venue messages through the gateway, Kafka and the checks into PostgreSQL, then stops with both (exit 0)', async () => {
    const file = join(RECORDINGS_DIR, 'OKX.ws.1.0');
    const server = new VenueServer({ recording: file, speed: 10, symbols: OKX.symbols });
    const url = `ws://127.0.0.1:${await server.listen()}/ws/v5/public`;
    const { config, env } = testConfig();
    const p = new ProcessorProcess({
      ...env, HIMARI_INGEST_IN_PROCESS: 'true', HIMARI_INGEST_TOPIC: config.kafka.topics[0]!, HIMARI_INGEST_FEEDS: JSON.stringify({ okx: { ...OKX, url } }), HIMARI_INGEST_METRICS_PORT: '0',
    });
    try {
      await p.ready(60_000);
      await server.done;
      const expected = readRecordingEvents(file).events.length;
      await waitUntil('every event of the recording in PostgreSQL', async () =>
        withPg(config, async (c) => (await c.query(`SELECT count(*)::int AS n FROM ${config.postgres.table} WHERE venue = 'okx'`)).rows[0].n === expected).catch(() => false), 60_000);
      await drainAndStop(p, config, 30_000);
    } finally {
      await p.stop();
      await server.close();
      await cleanup(config);
    }
  });

  it('without a feed it refuses to start, naming the key (exit 2)', () => {
    const { env } = testConfig();
    const r = spawnSync(process.execPath, [CLI, 'ingest'], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /ingest\.feeds is empty/);
  });

  it('an unknown venue is a configuration error naming the feed (exit 2)', () => {
    const { env } = testConfig();
    const r = spawnSync(process.execPath, [CLI, 'ingest'], { env: { PATH: process.env.PATH ?? '', ...env, HIMARI_INGEST_FEEDS: '{"x":{"venue":"mtgox","symbols":["BTCUSD"]}}' }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /ingest\.feeds\.x\.venue/);
  });
});
