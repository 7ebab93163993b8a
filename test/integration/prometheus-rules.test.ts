import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ALERTS_FILE, ALERTS_TEST_FILE, ensurePrometheus } from '../helpers/prometheus.js';

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The alert names of alerts.yml and those its unit tests exercise (`alertname:` lines). */
function alertNames(text: string, key: 'alert' | 'alertname'): Set<string> {
  return new Set([...text.matchAll(new RegExp(`^\\s*-?\\s*${key}:\\s*(\\S+)\\s*$`, 'gm'))].map((m) => m[1]!));
}

const skip = ensurePrometheus();

describe('the alert rules (promtool)', { skip }, () => {
  it('promtool check rules deploy/prometheus/alerts.yml passes', () => {
    const r = promtool('check', 'rules', ALERTS_FILE);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS/);
  });

  it('promtool test rules deploy/prometheus/alerts.test.yml passes', () => {
    const r = promtool('test', 'rules', ALERTS_TEST_FILE);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS/);
  });

  it('every alert has a unit test, and every unit test names an existing alert', () => {
    const alerts = alertNames(readFileSync(ALERTS_FILE, 'utf8'), 'alert');
    const tested = alertNames(readFileSync(ALERTS_TEST_FILE, 'utf8'), 'alertname');
    assert.ok(alerts.size >= 10, `expected the alert rules, found ${[...alerts].join(', ')}`);
    assert.deepEqual([...alerts].filter((a) => !tested.has(a)), [], 'alerts without a unit test');
    assert.deepEqual([...tested].filter((a) => !alerts.has(a)), [], 'unit tests of alerts that do not exist');
  });

  it('a unit test that expects the wrong thing fails (promtool reports it)', () => {
    // The healthy series must not fire: expecting it to is a failure, so the tests above can fail.
    const r = spawnSync('bash', ['-c', `d=$(mktemp -d) && trap 'rm -rf "$d"' EXIT && cp "$1" "$d/alerts.yml" &&
      sed 's/sink: redis }/sink: postgres }/' "$2" >"$d/alerts.test.yml" && promtool test rules "$d/alerts.test.yml"`, '-', ALERTS_FILE, ALERTS_TEST_FILE],
    { encoding: 'utf8', timeout: 120_000 });
    assert.notEqual(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(`${r.stdout}${r.stderr}`, /FAILED[\s\S]*HimariEndToEndLatencyHigh/);
  });
});
