import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RedisSink, isPermanentRedisError, redisOptions } from '../../src/sinks/redis-sink.js';
import { OffsetTracker } from '../../src/source/offset-tracker.js';
import { fakeChunk } from '../helpers/chunks.js';
import { testConfig } from '../helpers/services.js';

// What the Redis sink decides without a server: error classes, connection options, lanes. What it
// writes is tested against the real Redis in test/integration/redis-sink.test.ts.

const { config } = testConfig();

describe('Redis sink: which errors a retry can heal', () => {
  const sink = new RedisSink(config.redis);
  const table: Array<[string, boolean]> = [
    // Data problems: the same batch fails the same way every time.
    ['WRONGTYPE Operation against a key holding the wrong kind of value', false],
    ['ERR Error running script (call to f_0123): @user_script:12: user_script:12: attempt to compare nil with number', false],
    // The server or the connection: a retry, a failover or an operator heals them.
    ['Connection is closed.', true],
    ["Stream isn't writeable and enableOfflineQueue options is false", true],
    ['connect ECONNREFUSED 127.0.0.1:6379', true],
    ['Command timed out', true],
    ['LOADING Redis is loading the dataset in memory', true],
    ['BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.', true],
    ['MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to \'no\'.', true],
    ['NOPERM User himari has no permissions to run the \'evalsha\' command', true],
    ['OOM command not allowed when used memory > \'maxmemory\'.', true],
    ['', true],
  ];
  for (const [message, retriable] of table) {
    it(`${JSON.stringify(message)}: ${retriable ? 'retriable' : 'not retriable'}`, () => {
      assert.equal(sink.isRetriable(new Error(message)), retriable);
    });
  }
  it('an error without a message (a thrown non-Error) is retriable', () => {
    assert.equal(sink.isRetriable({}), true);
  });
});

describe('Redis sink: which connection failures need an operator', () => {
  const table: Array<[string, boolean]> = [
    ['WRONGPASS invalid username-password pair or user is disabled.', true],
    ['NOAUTH Authentication required.', true],
    ['NOPERM User himari has no permissions to run the \'ping\' command', true],
    ['self-signed certificate in certificate chain', true],
    ['Hostname/IP does not match certificate\'s altnames', true],
    ['connect ECONNREFUSED 127.0.0.1:6379', false],
    ['Connection is closed.', false],
    ['connect ETIMEDOUT', false],
  ];
  for (const [message, permanent] of table) {
    it(`${JSON.stringify(message)}: ${permanent ? 'permanent' : 'retried'}`, () => {
      assert.equal(isPermanentRedisError(message), permanent);
    });
  }
});

describe('Redis sink: connection options from the URL and the settings', () => {
  it('takes host, port, database and credentials from the URL; TLS from rediss:, checked against the IP', () => {
    const o = redisOptions({ ...config.redis, url: 'rediss://himari:p%40ss@10.1.2.3:6380/3', tls: false });
    assert.deepEqual([o.host, o.port, o.db, o.username, o.password], ['10.1.2.3', 6380, 3, 'himari', 'p@ss']);
    assert.deepEqual(o.tls, {}, 'no SNI for an IP address');
  });
  it('settings win over the URL\'s credentials; a host name is sent as SNI', () => {
    const o = redisOptions({ ...config.redis, url: 'redis://u:x@cache.internal', tls: true, username: 'other', password: 'secret' });
    assert.deepEqual([o.host, o.port, o.db, o.username, o.password], ['cache.internal', 6379, 0, 'other', 'secret']);
    assert.deepEqual(o.tls, { servername: 'cache.internal' });
  });
  it('fails fast while disconnected: no offline queue, no per-command retries (the sink core retries)', () => {
    const o = redisOptions(config.redis);
    assert.equal(o.tls, undefined);
    assert.deepEqual([o.enableOfflineQueue, o.maxRetriesPerRequest, o.lazyConnect], [false, 0, true]);
    assert.equal(o.commandTimeout, config.redis.commandTimeoutMs);
  });
});

describe('Redis sink: lanes', () => {
  it('refuses a chunk of another lane\'s partition before it sends anything', async () => {
    const sink = new RedisSink({ ...config.redis, connections: 2 });
    try {
      const ticket = new OffsetTracker().partition('t', 1).track(0, 3, 1);
      // Never connected: a write that reached a client would fail with "Stream isn't writeable".
      await assert.rejects(sink.writeBatch([fakeChunk(4, 0, ticket, 1)], 0), /partition 1 is not written by connection 0 of 2/);
      const tracker = new OffsetTracker();
      await assert.rejects(sink.writeBatch([fakeChunk(4, 0, tracker.partition('t', 0).track(0, 3, 1), 0), fakeChunk(4, 0, tracker.partition('t', 3).track(0, 3, 1), 3)]),
        /partition 3 is not written by connection 0 of 2/, 'without a lane, the first chunk\'s lane');
    } finally {
      for (const c of sink.clients) c.disconnect();
    }
  });
  it('an empty batch sends nothing', async () => {
    const sink = new RedisSink(config.redis);
    try {
      await sink.writeBatch([]);
    } finally {
      sink.client.disconnect();
    }
  });
});
