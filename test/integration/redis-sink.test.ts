import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MarketEvent } from '../../src/codec/event.js';
import { ErrorCode, HimariError } from '../../src/errors.js';
import type { EventChunk } from '../../src/sinks/chunk.js';
import { RedisSink } from '../../src/sinks/redis-sink.js';
import { T0, checkedChunk, range, sinkTrade as trade } from '../helpers/chunks.js';
import { redisDump } from '../helpers/redis.js';
import { cleanup, redisClient, testConfig, waitUntil } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const TOPIC = 'replay.topic';

/** The real worker code over events at the given offsets, as one chunk of TOPIC. */
function chunkOf(events: MarketEvent[], offsets: number[], partition = 0): EventChunk {
  return checkedChunk(events, offsets, partition, TOPIC);
}

const batch = (from: number, to: number, partition = 0) => [chunkOf(range(from, to).map((i) => trade(i)), range(from, to), partition)];

describe('Redis sink: replays apply nothing twice (real Redis)', { timeout: 60_000 }, () => {
  const { config } = testConfig();
  const sink = new RedisSink(config.redis);
  const redis = redisClient(config);
  const state = () => redisDump(redis, config.redis.keyPrefix);

  before(() => sink.connect());
  after(async () => {
    await sink.close();
    redis.disconnect();
    await cleanup(config);
  });

  it('a batch written twice leaves Redis as if written once; an overlapping one adds only its new tail', async () => {
    await sink.writeBatch(batch(0, 100));
    const once = await state();
    assert.equal(await redis.hget(`${config.redis.keyPrefix}applied:${TOPIC}`, '0'), '99');

    // The same batch again (a replay after a crash before the offset commit).
    await sink.writeBatch(batch(0, 100));
    assert.deepEqual(await state(), once);

    // A fresh sink instance (a restarted process): the watermark lives in Redis, not in the sink.
    const again = new RedisSink(config.redis);
    await again.connect();
    await again.writeBatch(batch(0, 100));
    await again.close();
    assert.deepEqual(await state(), once);

    // Offsets 50..149: 50..99 are already applied, 100..149 are new.
    await sink.writeBatch(batch(50, 150));
    const q = await redis.hgetall(`${config.redis.keyPrefix}quality:binance:BTC-USDT`);
    assert.equal(Number(q.accepted), 75, 'quality counters count each event once');
    assert.equal(await redis.hget(`${config.redis.keyPrefix}applied:${TOPIC}`, '0'), '149');
  });

  it('a late event (older exchange time, newer offset) never moves the latest view back', async () => {
    const latestKey = `${config.redis.keyPrefix}latest:binance:BTC-USDT`;
    const before = await redis.hgetall(latestKey);
    const late = trade(1001, Number(before.ts) - 5_000_000, 'BTC-USDT');
    await sink.writeBatch([chunkOf([late], [150])]);
    assert.deepEqual(await redis.hgetall(latestKey), before);
    const newer = trade(1002, Number(before.ts) + 1, 'BTC-USDT');
    await sink.writeBatch([chunkOf([newer], [151])]);
    assert.equal(Number(await redis.hget(latestKey, 'ts')), newer.ts);
    // The late event is still recorded in the recent set (ordered by exchange time).
    const members = await redis.zrangebyscore(`${config.redis.keyPrefix}recent:BTC-USDT`, String(late.ts), String(late.ts));
    assert.deepEqual(members, ['binance|t:1001']);
    const json = await redis.hget(`${config.redis.keyPrefix}recent-events:BTC-USDT`, members[0]!);
    assert.equal((JSON.parse(json!) as { ts: number }).ts, late.ts);
  });

  it('keys the recent set by the venue\'s event id: a re-sent trade is held once, and the set stays bounded', async () => {
    const rk = `${config.redis.keyPrefix}recent:ETH-USDT`;
    const hk = `${config.redis.keyPrefix}recent-events:ETH-USDT`;
    const before = await redis.zcard(rk);
    const again = { ...trade(2000, T0 + 9_000_000, 'ETH-USDT'), recvTs: T0 + 9_000_500 };
    await sink.writeBatch([chunkOf([trade(2000, T0 + 9_000_000, 'ETH-USDT')], [160])]);
    await sink.writeBatch([chunkOf([again], [161])]);
    assert.equal(await redis.zcard(rk), before + 1);
    assert.equal(await redis.hlen(hk), await redis.zcard(rk));

    const small = new RedisSink({ ...config.redis, recentMax: 10 });
    await small.connect();
    const many = range(0, 30).map((i) => trade(3000 + i, T0 + 10_000_000 + i, 'ETH-USDT'));
    await small.writeBatch([chunkOf(many, range(162, 192))]);
    await small.close();
    assert.equal(await redis.zcard(rk), 10);
    assert.equal(await redis.hlen(hk), 10, 'evicted members leave the event hash too');
    assert.deepEqual(await redis.zrange(rk, '-1', '-1'), ['binance|t:3029']);
  });

  it('rejected events go to the quarantine stream, not to the latest view', async () => {
    const crossed: MarketEvent = { v: 1, type: 'quote', venue: 'okx', symbol: 'SOL-USDT', ts: T0, recvTs: T0, bid: 11, bidSize: 1, ask: 10, askSize: 1 };
    await sink.writeBatch([chunkOf([crossed], [200])]);
    assert.equal(await redis.exists(`${config.redis.keyPrefix}latest:okx:SOL-USDT`), 0);
    const entries = await redis.xrange(`${config.redis.keyPrefix}quarantine`, '-', '+');
    assert.equal(entries.length, 1);
    assert.ok(entries[0]![1].includes('SOL-USDT'));
  });

  it('a batch of two topics keeps one watermark per topic', async () => {
    const other = 'replay.other';
    const events = range(0, 10).map((i) => trade(4000 + i, T0 + 20_000_000 + i, 'XRP-USDT'));
    await sink.writeBatch([checkedChunk(events.slice(0, 5), range(0, 5), 0, other), chunkOf(events.slice(5), range(300, 305))]);
    assert.equal(await redis.hget(`${config.redis.keyPrefix}applied:${other}`, '0'), '4');
    assert.equal(await redis.hget(`${config.redis.keyPrefix}applied:${TOPIC}`, '0'), '304');
    const q = await redis.hgetall(`${config.redis.keyPrefix}quality:binance:XRP-USDT`);
    assert.equal(Number(q.accepted), 10);
  });
});

describe('Redis sink: lanes and instances (real Redis)', { timeout: 60_000 }, () => {
  const { config } = testConfig();
  const redis = redisClient(config);
  const state = () => redisDump(redis, config.redis.keyPrefix);
  const opened: RedisSink[] = [];
  async function instance(connections = 1): Promise<RedisSink> {
    const s = new RedisSink({ ...config.redis, connections });
    await s.connect();
    opened.push(s);
    return s;
  }
  after(async () => {
    for (const s of opened) await s.close();
    redis.disconnect();
    await cleanup(config);
  });

  it('two connections apply their partitions concurrently; a replay over three changes nothing', async () => {
    // Each partition its own symbol, so every partition's events land in keys of their own.
    const part = (partition: number, from: number, to: number) =>
      chunkOf(range(from, to).map((i) => trade(i, T0 + i * 1000, `P${partition}-USDT`)), range(from, to), partition);
    const two = await instance(2);
    await Promise.all([two.writeBatch([part(0, 0, 40), part(2, 0, 40)], 0), two.writeBatch([part(1, 0, 40), part(3, 0, 40)], 1)]);
    await assert.rejects(two.writeBatch([part(0, 40, 50)], 1), /partition 0 is not written by connection 1 of 2/);
    const written = await state();
    for (const p of [0, 1, 2, 3]) assert.equal((written[`${config.redis.keyPrefix}latest:binance:P${p}-USDT`] as Record<string, string>).offset, '39');

    const three = await instance(3);
    await Promise.all([three.writeBatch([part(0, 0, 40), part(3, 0, 40)], 0), three.writeBatch([part(1, 0, 40)], 1), three.writeBatch([part(2, 0, 40)], 2)]);
    assert.deepEqual(await state(), written);
  });

  it('two instances replaying each other\'s ranges of one partition apply each event once', async () => {
    const a = await instance();
    const b = await instance();
    await a.writeBatch(batch(0, 100, 5));
    await b.writeBatch(batch(50, 200, 5));
    await Promise.all([a.writeBatch(batch(100, 300, 5)), b.writeBatch(batch(150, 300, 5))]);
    const q = await redis.hgetall(`${config.redis.keyPrefix}quality:binance:BTC-USDT`);
    assert.equal(Number(q.accepted), 150, 'each of the 300 events counted once (half are BTC-USDT)');
    assert.equal(await redis.hget(`${config.redis.keyPrefix}applied:${TOPIC}`, '5'), '299');
  });

  it('a key of the wrong type is a data error (not retriable), and the batch changes nothing', async () => {
    const s = await instance();
    // The watermark hash of a topic, taken by a string: the script fails on its first read.
    await redis.set(`${config.redis.keyPrefix}applied:wrong.type`, 'x');
    const before = await state();
    const err = await s.writeBatch([checkedChunk([trade(1)], [0], 0, 'wrong.type')]).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof Error, 'the write fails');
    assert.match(err.message, /WRONGTYPE/);
    assert.equal(s.isRetriable(err), false);
    assert.deepEqual(await state(), before);
  });
});

describe('Redis sink: a Redis that goes away (real Redis behind a proxy)', { timeout: 60_000 }, () => {
  const { config } = testConfig();
  const proxy = new TcpProxy('127.0.0.1', 6379);
  let proxied: typeof config.redis;
  const opened: RedisSink[] = [];
  before(async () => {
    const url = new URL(config.redis.url);
    url.port = String(await proxy.listen());
    proxied = { ...config.redis, url: url.toString() };
  });
  after(async () => {
    for (const s of opened) await s.close();
    await proxy.close();
    await cleanup(config);
  });

  it('connect to a Redis that refuses: a retriable SERVICE_UNAVAILABLE naming the address', async () => {
    proxy.set('refuse');
    const s = new RedisSink(proxied);
    opened.push(s);
    const err = await s.connect().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof HimariError, `got ${String(err)}`);
    assert.equal(err.code, ErrorCode.SERVICE_UNAVAILABLE);
    assert.equal(err.retriable, true);
    assert.match(err.message, new RegExp(`Redis at 127\\.0\\.0\\.1:${proxy.port}`));
    proxy.set('pass');
  });

  it('probe fails while Redis is down (a retriable error), then succeeds and the sink writes once it is back', async () => {
    const s = new RedisSink(proxied);
    opened.push(s);
    await s.connect();
    await s.probe(0);
    proxy.set('refuse');
    const down = await s.probe(0).then(() => null, (e: unknown) => e);
    assert.ok(down instanceof Error, 'probe rejects while Redis is down');
    assert.equal(s.isRetriable(down), true, down.message);
    const write = await s.writeBatch(batch(0, 10)).then(() => null, (e: unknown) => e);
    assert.ok(write instanceof Error && s.isRetriable(write), `a write while down fails retriably: ${String(write)}`);
    proxy.set('pass');
    await waitUntil('the probe to succeed', () => s.probe(0).then(() => true, () => false), 30_000, 100);
    await s.writeBatch(batch(0, 10));
    const redis = redisClient(config);
    try {
      assert.equal(await redis.hget(`${config.redis.keyPrefix}applied:${TOPIC}`, '0'), '9');
    } finally {
      redis.disconnect();
    }
  });
});
