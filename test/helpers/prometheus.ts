import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is dist/test/helpers/prometheus.js once built). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const PROMETHEUS_SH = `${ROOT}scripts/prometheus.sh`;
export const ALERTS_FILE = `${ROOT}deploy/prometheus/alerts.yml`;
export const ALERTS_TEST_FILE = `${ROOT}deploy/prometheus/alerts.test.yml`;
export const DASHBOARD_FILE = `${ROOT}deploy/grafana/dashboards/himari-l0.json`;

/** scripts/prometheus.sh's exit status when prometheus/promtool are missing and cannot be installed here. */
const NOT_INSTALLABLE = 3;

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Makes prometheus and promtool available (scripts/prometheus.sh install: Debian's package).
 * Returns a reason to skip only when they are missing and this machine cannot install them
 * (not root, no apt-get); a failed install throws.
 */
export function ensurePrometheus(): string | undefined {
  if (onPath('promtool') && onPath('prometheus')) return undefined;
  const r = spawnSync('bash', [PROMETHEUS_SH, 'install'], { encoding: 'utf8', timeout: 600_000 });
  if (r.status === NOT_INSTALLABLE) {
    return `prometheus/promtool are missing and cannot be installed here (${r.stderr.trim()}); install Debian's prometheus package`;
  }
  if (r.status !== 0) throw new Error(`scripts/prometheus.sh install failed (exit ${r.status}):\n${r.stderr}`);
  return undefined;
}
