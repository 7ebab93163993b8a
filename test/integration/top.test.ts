import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/config/load.js';
import { ensureDatabase } from '../../src/db/migrate.js';
import { CLI, ProcessorProcess } from '../helpers/processor.js';
import { cleanup, createTopics, testConfig } from '../helpers/services.js';

const PORT = 9483;

function run(env: Record<string, string>, command: string, args: string[]): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; type: (s: string) => void; kill: () => void } {
  const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  return { type: (s) => child.stdin!.write(s), kill: () => child.kill('SIGKILL'), done: new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr }))) };
}

/** The consumed/s figures of every frame or block, in order. */
function consumedRates(text: string): number[] {
  return [...text.matchAll(/consumed\s+([\d,.]+)\/s/g)].map((m) => Number(m[1]!.replaceAll(',', '')));
}

describe('himari-l0 top against a running processor', { timeout: 120_000 }, () => {
  const t = testConfig({ HIMARI_METRICS_PORT: PORT });
  const database = `himari_doctor_top_${t.id}`;
  const env = { ...t.env, HIMARI_POSTGRES_URL: `postgres://postgres@127.0.0.1:5432/${database}` };
  const config = loadConfig({ env });
  const url = `http://127.0.0.1:${PORT}`;
  let processor: ProcessorProcess | undefined;

  before(async () => {
    await ensureDatabase(config.postgres);
    await createTopics(config);
    processor = new ProcessorProcess(env);
    await processor.ready();
  });

  after(async () => {
    await processor?.stop();
    await cleanup(config).catch(() => {});
    const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).finally(() => c.end());
  });

  it('redraws in a terminal with non-zero rates under load, and restores the terminal on Ctrl-C', async () => {
    const load = run(env, process.execPath, [CLI, 'produce', '--rate', '2000', '--duration', '8', '--topic', config.kafka.topics[0]!]);
    // A pseudo-terminal, as an operator's ssh session: script(1) runs top on one.
    const top = run(env, 'script', ['-qfec', `${process.execPath} ${CLI} top --url ${url} --interval 1`, '/dev/null']);
    await new Promise((r) => setTimeout(r, 6_000));
    // Ctrl-C typed on the terminal: the pty sends SIGINT to top.
    top.type('\x03');
    const stopped = setTimeout(() => top.kill(), 10_000);
    const shown = await top.done;
    clearTimeout(stopped);
    await load.done;
    assert.ok(shown.stdout.includes('\x1b[?1049h'), 'enters the alternate screen on a terminal');
    assert.ok(shown.stdout.includes('\x1b[H'), 'redraws from the cursor home');
    assert.ok(shown.stdout.includes('\x1b[?25h\x1b[?1049l'), 'restores the cursor and the screen on Ctrl-C');
    const rates = consumedRates(shown.stdout);
    assert.ok(rates.some((r) => r > 0), `consumed/s > 0 in some frame: ${JSON.stringify(rates)}\n${shown.stdout.slice(-3000)}`);
    assert.match(shown.stdout, /events\/s\s+accepted/);
    assert.match(shown.stdout, /workers\s+\d+ % busy, 2 threads/);
  });

  it('prints one block and exits with --once when not on a terminal; exit 1 when unreachable', async () => {
    const once = await run(env, process.execPath, [CLI, 'top', '--url', url, '--interval', '0.5', '--once']).done;
    assert.equal(once.code, 0, once.stderr);
    assert.ok(!once.stdout.includes('\x1b['), 'no escape codes into a pipe');
    assert.equal(consumedRates(once.stdout).length, 1);
    assert.match(once.stdout, /^lag\s+\d+ messages over \d+ partitions/m);
    const down = await run(env, process.execPath, [CLI, 'top', '--url', 'http://127.0.0.1:9489', '--once']).done;
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot read the metrics: ECONNREFUSED/);
  });
});
