import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BatchPacker, PackedBatch, packedSize } from '../../src/batch/pack.js';
import { encodeEvent } from '../../src/codec/encode.js';
import { EventChunk } from '../../src/sinks/chunk.js';
import { RedisSink } from '../../src/sinks/redis-sink.js';
import { OffsetTracker } from '../../src/source/offset-tracker.js';
import { checkBatch } from '../../workers/check-worker.js';
import { freePort } from '../helpers/outage.js';
import { deleteKeys } from '../helpers/redis.js';
import { redisClient, testConfig, waitUntil } from '../helpers/services.js';

const TS = 1_790_000_000_000_000;
// The in-process check engine remembers trade ids across tests: a fresh id per call.
let nextId = 1;

function oneEventChunk(): EventChunk {
  const value = encodeEvent({ v: 1, type: 'trade', venue: 'binance', symbol: 'BTC-USDT', ts: TS, recvTs: TS + 100, id: String(nextId++), price: 1, size: 1, side: 'buy' });
  const buffer = new ArrayBuffer(packedSize(1, value.length));
  const packer = new BatchPacker(buffer);
  packer.reset(buffer, 1);
  packer.append(value, 0);
  const result = checkBatch({ batch: packer.finish(), topic: 't', partition: 0 });
  return new EventChunk(result, new PackedBatch(result.batch), 't', 0, 0, 1, new OffsetTracker().partition('t', 0).track(0, 0, 1), new Float64Array(1));
}

describe('Redis authentication and TLS', { timeout: 60_000 }, () => {
  const { config, id } = testConfig();
  const user = `himari_it_${id}`;
  const admin = redisClient(config);
  let tlsServer: ChildProcess | null = null;
  after(async () => {
    await admin.call('ACL', 'DELUSER', user);
    await deleteKeys(admin, config.redis.keyPrefix);
    admin.disconnect();
    tlsServer?.kill('SIGTERM');
  });

  it('writes as an ACL user limited to its key prefix, and refuses a wrong password', async () => {
    await admin.call('ACL', 'SETUSER', user, 'on', '>s3cret', `~${config.redis.keyPrefix}*`, '+@all');
    const sink = new RedisSink({ ...config.redis, username: user, password: 's3cret' });
    try {
      await sink.connect();
      await sink.writeBatch([oneEventChunk()]);
    } finally {
      await sink.close();
    }
    assert.equal(await admin.hget(`${config.redis.keyPrefix}latest:binance:BTC-USDT`, 'ts'), String(TS));

    const wrong = new RedisSink({ ...config.redis, username: user, password: 'nope' });
    await assert.rejects(wrong.connect(), (err: Error & { retriable?: boolean }) =>
      /WRONGPASS|invalid username-password/.test(err.message) && err.retriable === false);
    for (const c of wrong.clients) c.disconnect();
  });

  it('connects over TLS, verifying the server certificate against a configured CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'himari-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=himari-test-ca', '-keyout', 'ca.key', '-out', 'ca.pem');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
    execFileSync('bash', ['-c', 'printf "subjectAltName=IP:127.0.0.1" > ext.cnf'], { cwd: dir });
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'ext.cnf', '-out', 'server.pem');
    const port = await freePort();
    tlsServer = spawn('redis-server', ['--port', '0', '--tls-port', String(port), '--tls-cert-file', join(dir, 'server.pem'),
      '--tls-key-file', join(dir, 'server.key'), '--tls-ca-cert-file', join(dir, 'ca.pem'), '--tls-auth-clients', 'no',
      '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    const redisConfig = { ...config.redis, url: `rediss://127.0.0.1:${port}/0`, tlsCaFile: join(dir, 'ca.pem') };
    await waitUntil('the TLS server', async () => {
      const probe = new RedisSink(redisConfig);
      try { await probe.connect(); return true; } catch { return false; } finally { for (const c of probe.clients) c.disconnect(); }
    }, 10_000);
    const sink = new RedisSink(redisConfig);
    try {
      await sink.connect();
      await sink.writeBatch([oneEventChunk()]);
      assert.equal(await sink.client.hget(`${config.redis.keyPrefix}latest:binance:BTC-USDT`, 'ts'), String(TS));
    } finally {
      await sink.close();
    }

    // Without the CA the self-signed chain is refused: the certificate really is verified.
    const untrusted = new RedisSink({ ...redisConfig, tlsCaFile: undefined });
    await assert.rejects(untrusted.connect(), (err: Error & { retriable?: boolean }) =>
      /self.signed|certificate/i.test(err.message) && err.retriable === false);
    for (const c of untrusted.clients) c.disconnect();
  });
});
