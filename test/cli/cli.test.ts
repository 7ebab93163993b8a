import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { configMarkdownTable } from '../../src/config/load.js';
import { checksMarkdownTable } from '../../src/checks/docs.js';
import { ALL_CHECKS } from '../../src/checks/registry.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { commonOptions, parseCommandArgs } from '../../src/cli/options.js';
import { CLI } from '../helpers/processor.js';
import { recordingFiles } from '../helpers/recordings.js';

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
}

describe('command line', () => {
  it('--help lists every command of the table, with the exit codes', () => {
    for (const args of [['--help'], ['-h'], ['help'], []]) {
      const r = cli(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c.name} +\\S`, 'm'), `${args.join(' ')} lists ${c.name}`);
      assert.match(r.stdout, /^Exit codes:$/m);
      assert.match(r.stdout, /^  3 +stopped at the shutdown deadline/m);
    }
  });

  it('a bad config stops start-up before connecting, naming the key (exit 2)', () => {
    const r = cli(['run'], { HIMARI_SINK_REDIS_BATCH_MAX_MS: 'soon', HIMARI_REDIS_URLL: 'redis://x' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /sink\.redis\.batchMaxMs \(HIMARI_SINK_REDIS_BATCH_MAX_MS\)/);
    assert.match(r.stderr, /HIMARI_REDIS_URLL: unknown environment variable/);
  });

  it('a usage mistake exits 2 with one line naming it and the help to read', () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /^himari-l0: unknown command 'frobnicate' \(see 'himari-l0 --help'\)$/],
      [['produce', '--rat', '5'], /^himari-l0: unknown option '--rat' \(did you mean --rate\?\) \(see 'himari-l0 produce --help'\)$/],
      [['run', '--no-such-option'], /^himari-l0: unknown option '--no-such-option' \(see 'himari-l0 run --help'\)$/],
      [['produce', '--rate'], /^himari-l0: --rate needs a value N \(see 'himari-l0 produce --help'\)$/],
      [['loadtest', '--rate', '--drain'], /^himari-l0: --rate needs a value R .*\(see 'himari-l0 loadtest --help'\)$/],
      [['produce', '--rate', 'fast'], /^himari-l0: --rate must be a non-negative number, got "fast" \(see 'himari-l0 produce --help'\)$/],
      [['run', '--max-seconds', '-1'], /^himari-l0: --max-seconds needs a value S/],
      [['run', '--max-seconds=-1'], /^himari-l0: --max-seconds must be a non-negative number, got "-1"/],
      [['checks', '--json=yes'], /^himari-l0: --json takes no value \(see 'himari-l0 checks --help'\)$/],
      [['migrate', 'now'], /^himari-l0: unexpected argument 'now' \(see 'himari-l0 migrate --help'\)$/],
      [['replay'], /^himari-l0: missing FILE\.\.\. \(see 'himari-l0 replay --help'\)$/],
      [['help', 'frobnicate'], /^himari-l0: unknown command 'frobnicate' \(see 'himari-l0 --help'\)$/],
      [['loadtest', '--drain', '--find-max'], /^himari-l0: --drain and --find-max are separate runs \(see 'himari-l0 loadtest --help'\)$/],
      [['loadtest', '--stores', 'redis,mysql'], /^himari-l0: --stores: unknown store mysql \(redis, postgres\) \(see 'himari-l0 loadtest --help'\)$/],
      [['loadtest', '--stores', ' , '], /^himari-l0: --stores: none named \(redis, postgres\) \(see 'himari-l0 loadtest --help'\)$/],
      [['loadtest', '--stamped'], /^himari-l0: --stamped goes with --drain \(the rate modes always stamp\) \(see 'himari-l0 loadtest --help'\)$/],
      [['checks', '--config', 'x.json'], /^himari-l0: unknown option '--config'/],
    ];
    for (const [args, message] of cases) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr.trimEnd(), message, args.join(' '));
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
    }
  });

  it('a runtime failure still exits 1', () => {
    const r = cli(['replay', '--dry-run', '/dev/null']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /1 of 1 recordings failed/);
  });

  it('doctor and top refuse a bad option value (exit 2)', () => {
    const top = cli(['top', '--interval', '0.1']);
    assert.equal(top.status, 2);
    assert.match(top.stderr, /--interval must be a number of seconds, at least 0\.2/);
    const doctor = cli(['doctor', '--timeout', '0']);
    assert.equal(doctor.status, 2);
    assert.match(doctor.stderr, /--timeout must be a positive number of seconds/);
  });

  it('docs/config.md is generated from the schema and up to date', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/config.md', import.meta.url)), 'utf8');
    assert.ok(doc.includes(configMarkdownTable()), 'regenerate with: node dist/src/cli.js config --markdown');
  });

  it('checks --json lists every check, the decoder\'s schema checks S1-S4 first, with id, severity and description', () => {
    const r = cli(['checks', '--json']);
    assert.equal(r.status, 0);
    const list = JSON.parse(r.stdout) as Array<{ id: string; severity: string; description: string; thresholds?: object; code?: string }>;
    assert.equal(list.length, ALL_CHECKS.length + 4);
    assert.deepEqual(list.slice(0, 4).map((c) => [c.id, c.severity, c.code]), [
      ['S1', 'dead-letter', 'DECODE_FAILED'], ['S2', 'dead-letter', 'SCHEMA_INVALID'], ['S3', 'dead-letter', 'SCHEMA_INVALID'], ['S4', 'dead-letter', 'SCHEMA_INVALID'],
    ]);
    for (const c of list.slice(4)) assert.ok(c.id && c.severity && c.description && c.thresholds);
  });

  it('every command of the table answers --help, -h and help <command> alike: usage, options, examples, exit codes', () => {
    for (const c of COMMANDS) {
      const r = cli([c.name, '--help']);
      assert.equal(r.status, 0, `${c.name} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: himari-l0 ${c.name} \\[options\\]`));
      for (const o of [...c.options, ...commonOptions(c)]) assert.match(r.stdout, new RegExp(`^  (-h, )?--${o.name}\\b`, 'm'), `${c.name} --help shows --${o.name}`);
      assert.ok(c.examples.length >= 1 && c.examples.length <= 3, `${c.name}: 1-3 examples`);
      for (const e of c.examples) assert.ok(r.stdout.includes(`\n  himari-l0 ${e.args}\n`), `${c.name} --help shows: ${e.args}`);
      assert.match(r.stdout, /^Common options:$/m);
      assert.match(r.stdout, /^Exit codes:\n  0 +ok\n  1 +[^]+?\n  2 +bad usage/m);
      assert.equal(cli([c.name, '-h']).stdout, r.stdout, `${c.name} -h`);
      assert.equal(cli(['help', c.name]).stdout, r.stdout, `help ${c.name}`);
      // --help wins over any other argument, even a wrong one.
      assert.equal(cli([c.name, '--no-such-option', '--help']).status, 0);
    }
  });

  it('the parser accepts every option of the table, and each example', async () => {
    for (const c of COMMANDS) {
      for (const o of [...c.options, ...commonOptions(c)]) {
        const args = o.type === 'boolean' ? [`--${o.name}`] : [`--${o.name}`, o.number ? '7' : 'x'];
        const parsed = parseCommandArgs(c, [...args, ...Array(c.positionals?.min ?? 0).fill('file')]);
        assert.equal(parsed.values[o.name as keyof typeof parsed.values], o.type === 'boolean' ? true : args[1], `${c.name} --${o.name}`);
      }
      for (const e of c.examples) {
        // What the shell passes: the words before a redirection or a pipe.
        const words = e.args.split(' ');
        const end = words.findIndex((w) => w === '>' || w === '|');
        const [name, ...args] = end < 0 ? words : words.slice(0, end);
        assert.equal(name, c.name);
        assert.doesNotThrow(() => parseCommandArgs(c, args), e.args);
      }
      // Every default is given to the parser.
      const parsed = parseCommandArgs(c, Array(c.positionals?.min ?? 0).fill('file'));
      for (const o of c.options) if (o.default !== undefined) assert.equal(parsed.values[o.name as keyof typeof parsed.values], o.default);
      assert.equal(typeof (await c.load()), 'function', `${c.name}: its handler loads`);
    }
  });

  it('replay --dry-run accounts for every message and exits 1 on a file it cannot use', () => {
    const files = recordingFiles();
    if (files.length > 0) {
      const ok = cli(['replay', '--dry-run', ...files]);
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stderr, /KRAKEN\.ws\.50\.0: 4321 messages: 4279 gave 4279 events, 42 ignored, 0 not understood/);
      assert.match(ok.stderr, /ignored 31 heartbeat/);
    }
    const dir = mkdtempSync(join(tmpdir(), 'himari-replay-'));
    try {
      // cryptofeed's raw format with one line that is not JSON and one message of an unknown kind.
      const mixed = join(dir, 'OKX.ws.1.0');
      writeFileSync(mixed, [
        'wss://ws.okx.com:8443/ws/v5/public <-> 1652459220.1',
        '1652459224.1: {"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"30000","sz":"0.1","side":"buy","ts":"1652459224000"}]}',
        '1652459224.2: {"arg":{"channel":"trades"',
        '1652459224.3: {"arg":{"channel":"mark-price","instId":"BTC-USDT"},"data":[{"markPx":"1"}]}',
      ].join('\n'));
      const r = cli(['replay', '--dry-run', mixed]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /3 messages: 1 gave 1 events, 0 ignored, 2 not understood/);
      assert.match(r.stderr, /line 3: message is not JSON/);
      assert.match(r.stderr, /line 4: channel mark-price: \{"arg"/);
      // A JSON-lines file and a compressed one: unreadable, said so, exit 1.
      const jsonl = join(dir, 'BINANCE.jsonl');
      writeFileSync(jsonl, '{"ts": 1, "msg": {"e": "aggTrade"}}\n');
      const zst = join(dir, 'BINANCE.jsonl.zst');
      writeFileSync(zst, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 1, 2]));
      const u = cli(['replay', '--dry-run', jsonl, zst]);
      assert.equal(u.status, 1);
      assert.match(u.stderr, /BINANCE\.jsonl: unknown format/);
      assert.match(u.stderr, /BINANCE\.jsonl\.zst: compressed \(\.zst\)/);
      assert.match(u.stderr, /2 of 2 recordings failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
