import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { produce } from '../../src/loadtest/generator.js';
import { ALERTS_FILE, DASHBOARD_FILE, PROMETHEUS_SH, ensurePrometheus } from '../helpers/prometheus.js';
import { ProcessorProcess } from '../helpers/processor.js';
import { cleanup, createTopics, testConfig, waitUntil } from '../helpers/services.js';

/**
 * Our Prometheus (scripts/prometheus.sh) scraping a running processor under load, with the alert
 * rules loaded: every query of the Grafana dashboard and every rule expression must return
 * series. A metric renamed or misspelt in the dashboard or the rules, or one the processor stops
 * exporting, fails here instead of leaving an empty panel or an alert that can never fire.
 */

const PROMETHEUS_PORT = 9390;
const METRICS_PORT = 9481;
const PROM = `http://127.0.0.1:${PROMETHEUS_PORT}`;
// The dashboard's Grafana variables, as Grafana would fill them with a 1 s scrape interval.
const GRAFANA_VARIABLES: Record<string, string> = { __rate_interval: '10s', __interval: '1s', __range: '1m' };

interface Rule { name: string; type: 'alerting' | 'recording'; query: string; health: string; lastError?: string }

function dashboardQueries(): Array<{ panel: string; expr: string }> {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
  const out: Array<{ panel: string; expr: string }> = [];
  for (const p of dashboard.panels) {
    for (const t of p.targets ?? []) {
      const expr = t.expr.replace(/\$\{?(\w+)\}?/g, (m, name: string) => {
        const v = GRAFANA_VARIABLES[name];
        if (v === undefined) throw new Error(`panel "${p.title}": unknown Grafana variable ${m} in ${t.expr}`);
        return v;
      });
      out.push({ panel: p.title, expr });
    }
  }
  return out;
}

/** Splits an expression at its top-level `and` / `or` / `unless` (outside parentheses and braces). */
function topLevelTerms(expr: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    else if (depth === 0) {
      const m = /^\s(and|or|unless)\s/.exec(expr.slice(i));
      if (m !== null) {
        terms.push(expr.slice(start, i).trim());
        i += m[0].length - 1;
        start = i + 1;
      }
    }
  }
  terms.push(expr.slice(start).trim());
  return terms;
}

/**
 * The signals of an alert expression: each term `<signal> <comparison> <number>` gives its signal,
 * which returns series whether or not the alert condition holds (the comparison filters them).
 */
function alertSignals(expr: string): string[] {
  return topLevelTerms(expr).map((term) => {
    const m = /^(.*\S)\s*(==|!=|>=|<=|>|<)\s*(?:bool\s+)?[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?$/s.exec(term);
    if (m === null) throw new Error(`alert expression term is not "<signal> <comparison> <number>": ${term}`);
    return m[1]!;
  });
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${PROM}${path}`);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? res.status}`);
  return body.data;
}

/** Series the instant query returns now (a query Prometheus rejects throws). */
async function seriesCount(expr: string): Promise<number> {
  const data = await api<{ resultType: string; result: unknown[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
  assert.equal(data.resultType, 'vector', `${expr}: expected an instant vector, got ${data.resultType}`);
  return data.result.length;
}

function script(command: string, env: Record<string, string>): { status: number | null; output: string } {
  const r = spawnSync('bash', [PROMETHEUS_SH, command], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** No such process, or a zombie its parent has not reaped yet. */
function gone(pid: number): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^\d+ \(.*\)/, ''));
  } catch {
    return true;
  }
}

const skip = ensurePrometheus();

describe('Prometheus scraping the processor: the dashboard and the alert rules have data', { skip, timeout: 240_000 }, () => {
  const { config, env } = testConfig({ HIMARI_METRICS_PORT: String(METRICS_PORT) });
  const dir = mkdtempSync(join(tmpdir(), 'himari-prometheus-'));
  // The script's state (pid file, log, data) in the test's own directory, removed at the end.
  const promEnv = { HIMARI_STATE_DIR: join(dir, 'state'), HIMARI_PROMETHEUS_PORT: String(PROMETHEUS_PORT), HIMARI_PROMETHEUS_CONFIG: join(dir, 'prometheus.yml') };
  const pidFile = join(dir, 'state', 'prometheus', `prometheus-${PROMETHEUS_PORT}.pid`);
  let processor: ProcessorProcess | undefined;
  const loads: Array<Promise<unknown>> = [];

  before(async () => {
    await createTopics(config);
    processor = new ProcessorProcess(env);
    await processor.ready();
    writeFileSync(promEnv.HIMARI_PROMETHEUS_CONFIG, [
      'global:', '  scrape_interval: 1s', '  evaluation_interval: 1s',
      'rule_files:', `  - ${ALERTS_FILE}`,
      'scrape_configs:', '  - job_name: himari-l0', '    static_configs:', `      - targets: ["127.0.0.1:${METRICS_PORT}"]`, '',
    ].join('\n'));
    const started = script('start', promEnv);
    assert.equal(started.status, 0, started.output);
    const topic = config.kafka.topics[0]!;
    // kraken streams for 3 s and stops: check T5 finds them silent and kraken's freshness ages.
    // The rest streams (with poison messages: dead letters) while the queries run.
    loads.push(produce(config.kafka, { topic, symbols: 4, venues: ['kraken'], rate: 400, durationS: 3, bad: 0, seed: 7 }));
    loads.push(produce(config.kafka, { topic, symbols: 20, venues: ['binance', 'okx', 'coinbase'], rate: 2000, durationS: 20, bad: 5, seed: 8 }));
  });

  after(async () => {
    await Promise.allSettled(loads);
    const stopped = script('stop', promEnv);
    if (processor !== undefined) {
      processor.kill('SIGTERM');
      await Promise.race([processor.exited, new Promise((r) => setTimeout(r, 30_000))]);
      await processor.stop();
    }
    await cleanup(config);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(stopped.status, 0, stopped.output);
  });

  it('a second start reuses the healthy Prometheus', () => {
    const again = script('start', promEnv);
    assert.equal(again.status, 0, again.output);
    assert.match(again.output, /already running/);
    assert.equal(script('status', promEnv).status, 0);
  });

  it('a start after Prometheus was killed (stale pid file) starts a new one', async () => {
    const killed = Number(readFileSync(pidFile, 'utf8'));
    process.kill(killed, 'SIGKILL');
    await waitUntil('the killed Prometheus to be gone', async () => gone(killed), 10_000, 100);
    assert.notEqual(script('status', promEnv).status, 0);
    const restarted = script('start', promEnv);
    assert.equal(restarted.status, 0, restarted.output);
    assert.match(restarted.output, /starting Prometheus/);
    assert.notEqual(Number(readFileSync(pidFile, 'utf8')), killed);
    assert.equal(script('status', promEnv).status, 0);
  });

  it('scrapes the processor', async () => {
    await waitUntil('the himari-l0 target to be up', async () => (await seriesCount('up{job="himari-l0"} == 1')) === 1, 30_000, 500);
  });

  it('every rule of alerts.yml is loaded and evaluates without error', async () => {
    const fileRules = [...readFileSync(ALERTS_FILE, 'utf8').matchAll(/^\s*- (?:alert|record): (\S+)\s*$/gm)].map((m) => m[1]!);
    let rules: Rule[] = [];
    await waitUntil('every rule evaluated', async () => {
      const data = await api<{ groups: Array<{ rules: Rule[] }> }>('/api/v1/rules');
      rules = data.groups.flatMap((g) => g.rules);
      return rules.length === fileRules.length && rules.every((r) => r.health !== 'unknown');
    }, 30_000, 500);
    assert.deepEqual(rules.map((r) => r.name).sort(), [...fileRules].sort());
    for (const r of rules) {
      assert.equal(r.health, 'ok', `${r.name}: health ${r.health}, ${r.lastError ?? ''}`);
      assert.ok(!r.lastError, `${r.name}: ${r.lastError}`);
    }
  });

  it('every dashboard query and every rule expression (an alert\'s signal) returns series', async () => {
    const rules = (await api<{ groups: Array<{ rules: Rule[] }> }>('/api/v1/rules')).groups.flatMap((g) => g.rules);
    const queries = [
      ...dashboardQueries().map((q) => ({ what: `dashboard panel "${q.panel}"`, expr: q.expr })),
      ...rules.flatMap((r) => (r.type === 'recording' ? [r.query] : alertSignals(r.query)).map((expr) => ({ what: `rule ${r.name}`, expr }))),
    ];
    assert.ok(queries.length >= 40, `only ${queries.length} queries found`);
    // Each has data once a few scrapes (and T5's silence after kraken stopped) are in.
    let empty: string[] = [];
    await waitUntil('every query to return series', async () => {
      empty = [];
      for (const q of queries) if ((await seriesCount(q.expr)) === 0) empty.push(`${q.what}: ${q.expr}`);
      return empty.length === 0;
    }, 45_000, 1000).catch(() => {});
    assert.deepEqual(empty, [], `queries without data:\n${empty.join('\n')}`);
  });

  it('a misspelt metric name returns no series (so the check above can fail)', async () => {
    const consumed = dashboardQueries().find((q) => q.panel === 'Consumed');
    assert.ok(consumed !== undefined && consumed.expr.includes('himari_consumed_messages_total'), consumed?.expr);
    assert.ok((await seriesCount(consumed.expr)) > 0);
    assert.equal(await seriesCount(consumed.expr.replace('himari_consumed_messages_total', 'himari_consumed_mesages_total')), 0);
    const [signal] = alertSignals('himari_raedy == 0 and max by (sink) (himari_sink_outage) == 1');
    assert.equal(await seriesCount(signal!), 0);
    assert.throws(() => alertSignals('absent(himari_ready)'), /not "<signal> <comparison> <number>"/);
  });
});
