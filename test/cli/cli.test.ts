import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { configMarkdownTable } from '../../src/config/load.js';
import { checksMarkdownTable } from '../../src/checks/docs.js';
import { ALL_CHECKS } from '../../src/checks/registry.js';
import { CLI } from '../helpers/processor.js';

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
}

describe('command line', () => {
  it('--help lists every command', () => {
    const r = cli(['--help']);
    assert.equal(r.status, 0);
    for (const cmd of ['run', 'produce', 'loadtest', 'replay', 'migrate', 'config', 'checks']) assert.match(r.stdout, new RegExp(`^  ${cmd} `, 'm'));
  });

  it('a bad config stops start-up before connecting, naming the key (exit 2)', () => {
    const r = cli(['run'], { HIMARI_SINK_REDIS_BATCH_MAX_MS: 'soon', HIMARI_REDIS_URLL: 'redis://x' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /sink\.redis\.batchMaxMs \(HIMARI_SINK_REDIS_BATCH_MAX_MS\)/);
    assert.match(r.stderr, /HIMARI_REDIS_URLL: unknown environment variable/);
  });

  it('an unknown command or a bad option value is a usage error', () => {
    assert.equal(cli(['frobnicate']).status, 2);
    const r = cli(['produce', '--rate', 'fast']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--rate must be a non-negative number/);
  });

  it('docs/config.md is generated from the schema and up to date', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/config.md', import.meta.url)), 'utf8');
    assert.ok(doc.includes(configMarkdownTable()), 'regenerate with: node dist/src/cli.js config --markdown');
  });

  it('checks --json lists every check with id, severity, description and thresholds', () => {
    const r = cli(['checks', '--json']);
    assert.equal(r.status, 0);
    const list = JSON.parse(r.stdout) as Array<{ id: string; severity: string; description: string; thresholds: object }>;
    assert.equal(list.length, ALL_CHECKS.length);
    for (const c of list) assert.ok(c.id && c.severity && c.description && c.thresholds);
  });

  it('docs/checks.md is generated from the registry and up to date', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/checks.md', import.meta.url)), 'utf8');
    assert.ok(doc.includes(checksMarkdownTable()), 'regenerate with: node dist/src/cli.js checks --markdown');
  });

  it('a bad threshold stops start-up naming it', () => {
    const r = cli(['run'], { HIMARI_CHECKS_THRESHOLDS: '{"T2":{"maxSkewMs":-1},"Z1":{}}' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /checks\.thresholds\.T2\.maxSkewMs: -1 is outside/);
    assert.match(r.stderr, /checks\.thresholds\.Z1: unknown check/);
  });
});
