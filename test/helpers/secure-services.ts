import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The secured services the security tests need, started (or reused when healthy) by the
 * project's scripts, so a test file runs on a fresh machine by itself: the secured broker
 * (scripts/kafka-secure.sh) and the TLS-only PostgreSQL cluster (scripts/pg-cluster.sh).
 * Certificates and generated passwords live in the scripts' state directory; the scripts print
 * the settings a client needs (`env`).
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function script(name: string, args: string[], timeoutMs = 300_000): string {
  // stderr through: what the script did (started, reused, recovered) belongs in the test output.
  return execFileSync('bash', [`${ROOT}scripts/${name}`, ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: timeoutMs });
}

function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

export type SecureListener = 'sasl_ssl' | 'ssl';

/** Starts the secured broker and returns the processor's HIMARI_KAFKA_* settings for a listener. */
export function secureKafka(listener: SecureListener): Record<string, string> {
  script('kafka-secure.sh', ['start']);
  return parseEnv(script('kafka-secure.sh', ['env', listener]));
}

/** Starts the TLS-only cluster; its superuser's HIMARI_POSTGRES_* settings (verify-full). */
export function tlsPostgres(): Record<string, string> {
  script('pg-cluster.sh', ['start']);
  return parseEnv(script('pg-cluster.sh', ['env']));
}

/** The directory of the test certificates (scripts/tls.sh): ca.pem, client.pem, other-ca.pem... */
export function tlsDir(): string {
  return script('tls.sh', ['ensure']).trim();
}

/**
 * Builds TimescaleDB from the vendored source once (about 3 minutes; reused after) and starts the
 * project's cluster that preloads it; its superuser's HIMARI_POSTGRES_* settings (verify-full).
 */
export function timescalePostgres(): Record<string, string> {
  script('timescaledb.sh', ['start'], 900_000);
  return parseEnv(script('timescaledb.sh', ['env']));
}
