import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CREDENTIAL_KEYS, loadConfig, redactConfig } from '../../src/config/load.js';
import { CLI } from '../helpers/processor.js';
import { problemsOf } from '../helpers/config-problems.js';

/** A $CREDENTIALS_DIRECTORY as systemd lays it out: one file per credential. */
function credentialsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'himari-creds-'));
  for (const [name, value] of Object.entries(files)) writeFileSync(join(dir, name), value, { mode: 0o400 });
  dirs.push(dir);
  return dir;
}
const dirs: string[] = [];

describe('systemd credentials ($CREDENTIALS_DIRECTORY)', () => {
  after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  const sasl = { HIMARI_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', HIMARI_KAFKA_SASL_USERNAME: 'himari' };

  it('sets the three secret keys from files named after them, over the environment, without a trailing newline', () => {
    const dir = credentialsDir({ 'kafka.saslPassword': 'kafka-secret-from-file\n', 'redis.password': 'redis-secret-from-file', 'postgres.password': 'pg-secret-from-file\r\n' });
    const c = loadConfig({ env: { ...sasl, CREDENTIALS_DIRECTORY: dir, HIMARI_POSTGRES_PASSWORD: 'from-the-env', HIMARI_REDIS_PASSWORD: 'from-the-env' } });
    assert.equal(c.kafka.saslPassword, 'kafka-secret-from-file');
    assert.equal(c.redis.password, 'redis-secret-from-file');
    assert.equal(c.postgres.password, 'pg-secret-from-file');
    assert.deepEqual([...CREDENTIAL_KEYS].sort(), ['kafka.saslPassword', 'postgres.password', 'redis.password']);
  });

  it('keeps them out of the redacted config', () => {
    const dir = credentialsDir({ 'kafka.saslPassword': 'kafka-s3cr3t-4f1e9c', 'redis.password': 'redis-s3cr3t-77aa01', 'postgres.password': 'pg-s3cr3t-c0ffee' });
    const redacted = JSON.stringify(redactConfig(loadConfig({ env: { ...sasl, CREDENTIALS_DIRECTORY: dir } })));
    for (const secret of ['kafka-s3cr3t-4f1e9c', 'redis-s3cr3t-77aa01', 'pg-s3cr3t-c0ffee']) assert.ok(!redacted.includes(secret), `${secret} in ${redacted}`);
    assert.equal((redacted.match(/\[redacted\]/g) ?? []).length, 3);
  });

  it('leaves keys without a credential to the environment, and nothing changes without the variable', () => {
    const dir = credentialsDir({ 'postgres.password': 'pg-from-file' });
    const c = loadConfig({ env: { CREDENTIALS_DIRECTORY: dir, HIMARI_REDIS_PASSWORD: 'redis-from-env' } });
    assert.equal(c.postgres.password, 'pg-from-file');
    assert.equal(c.redis.password, 'redis-from-env');
    assert.equal(loadConfig({ env: { CREDENTIALS_DIRECTORY: '' } }).postgres.password, undefined);
  });

  it('refuses an empty credential, an unreadable one, an unknown name and a missing directory, naming each and no value', () => {
    const dir = credentialsDir({ 'postgres.password': '\n', 'redis.password': 'never-shown-1', 'postgres-password': 'never-shown-2' });
    // A dangling link: listed in the directory, its file gone.
    symlinkSync(join(dir, 'gone'), join(dir, 'kafka.saslPassword'));
    const problems = problemsOf(() => loadConfig({ env: { ...sasl, CREDENTIALS_DIRECTORY: dir } }));
    const text = problems.join('\n');
    assert.match(text, /credential postgres\.password \(.*\): empty/);
    assert.match(text, /credential kafka\.saslPassword \(.*\): cannot be read \(ENOENT\)/);
    assert.match(text, /credential postgres-password \(.*\): not a secret config key; credentials are named kafka\.saslPassword, redis\.password, postgres\.password/);
    assert.ok(!text.includes('never-shown'), text);
    assert.match(problemsOf(() => loadConfig({ env: { CREDENTIALS_DIRECTORY: join(dir, 'nope') } })).join('\n'), /CREDENTIALS_DIRECTORY .*nope: cannot be listed \(ENOENT\)/);
  });

  it('a bad credential stops `run` with exit code 2 (which the unit does not restart), naming it and no secret', () => {
    const dir = credentialsDir({ 'postgres.password': '', 'redis.password': 'redis-never-printed-5d1c' });
    const run = spawnSync(process.execPath, [CLI, 'run'], { env: { PATH: process.env.PATH ?? '', CREDENTIALS_DIRECTORY: dir }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /credential postgres\.password \(.*\): empty/);
    assert.ok(!(run.stderr + run.stdout).includes('redis-never-printed-5d1c'));
  });

  it('refuses a credential its user may not read', { skip: process.getuid?.() === 0 ? 'root reads every file' : false }, () => {
    const dir = credentialsDir({ 'redis.password': 'x' });
    chmodSync(join(dir, 'redis.password'), 0o000);
    assert.match(problemsOf(() => loadConfig({ env: { CREDENTIALS_DIRECTORY: dir } })).join('\n'), /credential redis\.password .*cannot be read \(EACCES\)/);
  });
});
