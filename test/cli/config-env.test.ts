import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { quoteEnvValue } from '../../src/config/env-file.js';
import { loadConfig } from '../../src/config/load.js';
import { CLI } from '../helpers/processor.js';
import { parseSystemdEnvFile } from './systemd-env-file.js';

const dir = mkdtempSync(join(tmpdir(), 'himari-config-env-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
}

/** The HIMARI_* variables of an environment file, as POSIX sh reads it: `set -a; . ./file`. */
function readWithSh(file: string): Record<string, string> {
  const r = spawnSync('sh', ['-c', 'set -a; . "$1"; env -0', 'sh', file], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return himari(Object.fromEntries(r.stdout.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
}

function himari(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('HIMARI_')));
}

/** Writes `text`, reads it back with both readers, and checks they agree; the variables. */
function readBack(name: string, text: string): Record<string, string> {
  const file = join(dir, name);
  writeFileSync(file, text);
  const bySystemd = himari(parseSystemdEnvFile(text));
  const bySh = readWithSh(file);
  assert.deepEqual(bySh, bySystemd, 'sh and systemd read the file differently');
  return bySystemd;
}

describe('himari-l0 config: an environment file', () => {
  it('quotes a value so that systemd and sh read back the same string', () => {
    const values = ['plain', '', 'a b', "it's", '$HOME `id` "q" \\n', '{"T2":{"maxSkewMs":500}}', '~/x', '#not-a-comment', 'a;b&c|d', 'trailing ', ' leading', "'", 'x=y:z,w'];
    const text = values.map((v, i) => `HIMARI_V${i}=${quoteEnvValue(v)}\n`).join('');
    const back = readBack('quoting.env', text);
    assert.deepEqual(values.map((_, i) => back[`HIMARI_V${i}`]), values);
  });

  it('the defaults load back unchanged (systemd EnvironmentFile= and sh)', () => {
    const r = cli(['config']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^HIMARI_KAFKA_TOPICS=market\.events$/m);
    assert.match(r.stdout, /^HIMARI_CHECKS_DISABLED=$/m);
    assert.match(r.stdout, /^# HIMARI_KAFKA_SASL_PASSWORD=$/m);
    assert.match(r.stdout, /^# kafka\.topics: Input topics/m);
    // A default worked out on the machine is not pinned by the file.
    assert.match(r.stdout, /^# HIMARI_WORKERS_THREADS=\d+ /m);
    const env = readBack('defaults.env', r.stdout);
    assert.ok(Object.keys(env).length > 50, 'every key with a default is set');
    assert.ok(!('HIMARI_KAFKA_SASL_PASSWORD' in env), 'a key without a default stays unset');
    assert.deepEqual(loadConfig({ env }), loadConfig({ env: {} }));
  });

  it('--effective prints the values in use, which load back to the same configuration; secrets are not printed', () => {
    const fileConfig = join(dir, 'config.json');
    writeFileSync(fileConfig, JSON.stringify({ redis: { keyPrefix: 'lt:' }, sink: { batchMaxRows: 500 } }));
    const env = {
      HIMARI_KAFKA_TOPICS: 'market.events,market.events.replay',
      HIMARI_CHECKS_DISABLED: 'M2',
      HIMARI_CHECKS_THRESHOLDS: '{"T2":{"maxSkewMs":500}}',
      HIMARI_CHECKS_VENUES: '{"kraken":{"T3":{"maxLatencyMs":5000}}}',
      HIMARI_KAFKA_CLIENT_ID: "l0 it's $HOME",
      HIMARI_SINK_REDIS_FLUSH_WHEN_IDLE: 'false',
      HIMARI_REDIS_PASSWORD: 'hunter2-secret',
      HIMARI_POSTGRES_URL: 'postgres://writer:pg-secret@127.0.0.1:5432/himari',
    };
    const r = cli(['config', '--effective', '--config', fileConfig], env);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /hunter2-secret|pg-secret/);
    assert.match(r.stdout, /^# HIMARI_REDIS_PASSWORD=.*redacted.*\(secret, not printed\)$/m);
    assert.match(r.stdout, /^HIMARI_KAFKA_TOPICS=market\.events,market\.events\.replay$/m);
    assert.match(r.stdout, /^HIMARI_CHECKS_THRESHOLDS='\{"T2":\{"maxSkewMs":500\}\}'$/m);
    const back = readBack('effective.env', r.stdout);
    const { HIMARI_REDIS_PASSWORD, HIMARI_POSTGRES_URL, ...rest } = env;
    const secrets = { HIMARI_REDIS_PASSWORD, HIMARI_POSTGRES_URL };
    assert.ok(!('HIMARI_REDIS_PASSWORD' in back) && !('HIMARI_POSTGRES_URL' in back));
    // With the secrets given again, the file alone gives the configuration of env + config file.
    assert.deepEqual(loadConfig({ env: { ...back, ...secrets } }), loadConfig({ env: { ...rest, ...secrets }, file: fileConfig }));
  });

  it('--markdown is the table of docs/config.md; --config without --effective is a usage error', () => {
    const md = cli(['config', '--markdown']);
    assert.equal(md.status, 0);
    assert.match(md.stdout, /^\| key \| environment variable \| default \| description \|$/m);
    const r = cli(['config', '--config', 'x.json']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--config is read with --effective only/);
  });
});
