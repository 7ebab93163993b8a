import Kafka from 'node-rdkafka';
import type { KafkaConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import { kafkaClientConfig } from './client-config.js';

/** librdkafka logs why a connection failed at LOG_ERR (3) and below. */
const LOG_ERR = 3;
/**
 * Reasons no retry can fix: refused SASL credentials, a certificate we reject (wrong CA, wrong
 * name) or that the broker rejects (TLS alert: missing or untrusted client certificate).
 */
const REFUSED = /SASL authentication error|SSL handshake failed|certificate|SSL alert/i;
/**
 * connect() blocks a libuv thread in a metadata request until it answers or times out, and
 * Node joins those threads at exit: a refused probe waiting out 10 s would hold the exit of a
 * failed start-up for 10 s. So the probe waits in short attempts, each with a fresh client.
 */
const ATTEMPT_MS = 1_000;

/**
 * Connects with the settings every client shares and fails at once, with librdkafka's own
 * reason, when the brokers refuse the credentials or the TLS handshake. Without it a wrong
 * password or CA shows only as every client timing out with "broker transport failure", since
 * librdkafka retries a refused connection forever. Called before any other client is built.
 */
export async function verifyKafkaAccess(config: KafkaConfig, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let reason = '';
  for (;;) {
    const outcome = await attempt(config, Math.max(100, Math.min(ATTEMPT_MS, deadline - Date.now())));
    if (outcome.ok) return;
    reason = outcome.reason || reason;
    if (outcome.refused) {
      throw new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `Kafka at ${config.brokers} (${config.securityProtocol}) refused the connection: ${reason}`, { retriable: false });
    }
    if (Date.now() >= deadline) {
      throw new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `Kafka at ${config.brokers}: ${reason || outcome.error}`, { retriable: true });
    }
  }
}

type Attempt = { ok: true } | { ok: false; refused: boolean; reason: string; error: string };

function attempt(config: KafkaConfig, timeoutMs: number): Promise<Attempt> {
  const client = new Kafka.Producer({ ...kafkaClientConfig(config, 'probe') });
  let reason = '';
  // Producer events (errors, logs) are delivered only by poll(), which works once the native
  // client exists, i.e. while connect() still waits for metadata.
  const poll = setInterval(() => { if (client.isConnected()) client.poll(); }, 20);
  return new Promise<Attempt>((resolve) => {
    client.on('event.log', (entry: { severity: number; message: string }) => {
      if (entry.severity > LOG_ERR) return;
      reason = entry.message.replace(/^\[thrd:[^\]]*\]: /, '');
      // The pending connect() still runs out its (short) timeout and then closes the client.
      if (REFUSED.test(reason)) resolve({ ok: false, refused: true, reason, error: '' });
    });
    client.connect({ timeout: timeoutMs }, (err) => {
      if (err) {
        resolve({ ok: false, refused: false, reason, error: err.message });
      } else {
        client.disconnect();
        resolve({ ok: true });
      }
    });
  }).finally(() => clearInterval(poll));
}
