import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ProcessorProcess } from '../helpers/processor.js';
import { cleanup, createTopics, testConfig, waitUntil } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

interface ServerSocket { bind(path: string): void; close(): void }
const unixDgram = createRequire(import.meta.url)('unix-dgram') as {
  createSocket(type: 'unix_dgram', listener?: (buf: Buffer) => void): ServerSocket;
};

/** systemd's side of the notify protocol: a bound datagram socket keeping what it receives. */
function notifySocket(dir: string): { path: string; received: string[]; close(): void } {
  const path = join(dir, 'notify.sock');
  const received: string[] = [];
  const socket = unixDgram.createSocket('unix_dgram', (buf) => { received.push(buf.toString()); });
  socket.bind(path);
  return { path, received, close: () => socket.close() };
}

describe('the processor under systemd (Type=notify, WatchdogSec)', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'himari-notify-it-'));
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says READY=1 once ready and assigned, pings WATCHDOG=1, and says STOPPING=1 on SIGTERM before exiting 0', async () => {
    const notify = notifySocket(dir);
    cleanups.push(() => notify.close());
    const { config, env } = testConfig({ HIMARI_LOG_LEVEL: 'info' });
    cleanups.push(() => cleanup(config).catch(() => {}));
    await createTopics(config);
    const p = new ProcessorProcess({ ...env, NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '1000000' });
    cleanups.push(() => p.stop());
    await p.ready();
    await waitUntil('READY=1', async () => notify.received.some((d) => d.startsWith('READY=1')), 30_000);
    const ready = notify.received.findIndex((d) => d.startsWith('READY=1'));
    // Before READY=1 only STATUS= lines (starting, then waiting for partitions): no ping.
    assert.equal(notify.received[0], 'STATUS=starting');
    assert.deepEqual(notify.received.slice(0, ready).filter((d) => !d.startsWith('STATUS=')), []);
    assert.ok(notify.received.slice(0, ready).includes('STATUS=started: waiting for the consumer group to assign partitions'), JSON.stringify(notify.received));
    assert.match(notify.received[ready]!, /^READY=1\nSTATUS=ready: [1-4] partitions assigned/);
    assert.ok(p.stderr.includes('himari-l0: ready in'), 'READY=1 after the processor said it is ready');
    await waitUntil('WATCHDOG=1 pings', async () => notify.received.filter((d) => d === 'WATCHDOG=1').length >= 2, 20_000);

    p.kill('SIGTERM');
    const exit = await p.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, p.stderr.slice(-2000));
    const stopping = notify.received.findIndex((d) => d.startsWith('STOPPING=1'));
    assert.ok(stopping > ready, `STOPPING=1 after READY=1: ${JSON.stringify(notify.received)}`);
    assert.match(notify.received[stopping]!, /^STOPPING=1\nSTATUS=stopping \(SIGTERM\)/);
    assert.deepEqual(notify.received.slice(stopping + 1).filter((d) => d === 'WATCHDOG=1'), [], 'no ping after STOPPING=1');
  });

  it('an instance the group gives no partition (a standby) says READY=1 too, and its status says why', async () => {
    const first = notifySocket(mkdtempSync(join(dir, 'first-')));
    const standby = notifySocket(mkdtempSync(join(dir, 'standby-')));
    cleanups.push(() => first.close(), () => standby.close());
    // One partition for two processors of one group; the shortest session timeout, so the
    // standby's bound (twice it) is short: 6 s is the broker's least by default
    // (group.min.session.timeout.ms).
    const { config, env } = testConfig({ HIMARI_KAFKA_TOPIC_PARTITIONS: '1', HIMARI_KAFKA_SESSION_TIMEOUT_MS: '6000', HIMARI_LOG_LEVEL: 'info' });
    cleanups.push(() => cleanup(config).catch(() => {}));
    await createTopics(config);
    const a = new ProcessorProcess({ ...env, NOTIFY_SOCKET: first.path });
    cleanups.push(() => a.stop());
    await waitUntil('the first processor ready with the partition', async () => first.received.some((d) => d.startsWith('READY=1\nSTATUS=ready: 1 partitions assigned')), 30_000);
    const b = new ProcessorProcess({ ...env, NOTIFY_SOCKET: standby.path });
    cleanups.push(() => b.stop());
    await waitUntil('the standby ready', async () => standby.received.some((d) => d.startsWith('READY=1')), 40_000);
    assert.ok(standby.received.includes('READY=1\nSTATUS=ready: no partitions assigned to this instance (the group has none for it: standby)'), JSON.stringify(standby.received));
    assert.ok(!first.received.some((d) => d.startsWith('STOPPING=1')), 'the first processor still runs');
  });

  it('withholds WATCHDOG=1 while a sink is down longer than systemd.watchdogSinkOutageMs, and pings again once it is back', async () => {
    const notify = notifySocket(mkdtempSync(join(dir, 'outage-')));
    cleanups.push(() => notify.close());
    const redisProxy = new TcpProxy('127.0.0.1', 6379);
    cleanups.push(() => redisProxy.close());
    const base = testConfig();
    const redisUrl = new URL(base.config.redis.url);
    redisUrl.port = String(await redisProxy.listen());
    const { config, env } = testConfig({
      ...base.env, HIMARI_REDIS_URL: redisUrl.toString(), HIMARI_LOG_LEVEL: 'info',
      // The shortest bound, and probes that find the outage within a second without traffic.
      HIMARI_SYSTEMD_WATCHDOG_SINK_OUTAGE_MS: '10000', HIMARI_SINK_PROBE_INTERVAL_MS: '500', HIMARI_REDIS_COMMAND_TIMEOUT_MS: '500',
    });
    const direct = testConfig({ ...env, HIMARI_REDIS_URL: base.config.redis.url }).config;
    cleanups.push(() => cleanup(direct).catch(() => {}));
    await createTopics(config);
    const p = new ProcessorProcess({ ...env, NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '1000000' });
    cleanups.push(() => p.stop());
    await p.ready();
    await waitUntil('the first ping', async () => notify.received.includes('WATCHDOG=1'), 30_000);

    redisProxy.set('refuse');
    const downAt = notify.received.length;
    const withheld = (d: string) => d.startsWith('STATUS=unhealthy, watchdog withheld: redis: failing for');
    await waitUntil('the watchdog withheld for the Redis outage', async () => notify.received.slice(downAt).some(withheld), 30_000);
    const firstWithheld = downAt + notify.received.slice(downAt).findIndex(withheld);
    await waitUntil('three withheld ticks', async () => notify.received.slice(firstWithheld).filter(withheld).length >= 3, 10_000);
    // From the first withheld tick on, while Redis stays away: no ping.
    assert.deepEqual(notify.received.slice(firstWithheld).filter((d) => d === 'WATCHDOG=1'), []);
    // Before the bound the outage was tolerated: pings went on after Redis went away.
    assert.ok(notify.received.slice(downAt, firstWithheld).includes('WATCHDOG=1'), 'pings during the first seconds of the outage');

    redisProxy.set('pass');
    const upAt = notify.received.length;
    await waitUntil('pings after Redis is back', async () => notify.received.slice(upAt).includes('WATCHDOG=1'), 30_000);
    assert.match(p.stderr + p.stdout, /systemd watchdog ping withheld/);
  });
});
