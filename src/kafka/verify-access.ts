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
 * Connects once with the settings every client shares and fails at once, with librdkafka's own
 * reason, when the brokers refuse the credentials or the TLS handshake. Without it a wrong
 * password or CA shows only as every client timing out with "broker transport failure", since
 * librdkafka retries a refused connection forever. Called before any other client is built.
 */
export async function verifyKafkaAccess(config: KafkaConfig, timeoutMs = 10_000): Promise<void> {
  const client = new Kafka.Producer({ ...kafkaClientConfig(config, 'probe') });
  let reason = '';
  // Producer events (errors, logs) are delivered only by poll(), which works once the native
  // client exists, i.e. while connect() still waits for metadata.
  const poll = setInterval(() => { if (client.isConnected()) client.poll(); }, 20);
  try {
    await new Promise<void>((resolve, reject) => {
      client.on('event.log', (entry: { severity: number; message: string }) => {
        if (entry.severity > LOG_ERR) return;
        reason = entry.message.replace(/^\[thrd:[^\]]*\]: /, '');
        // The pending connect() still runs to its timeout and then closes the client itself.
        if (REFUSED.test(reason)) {
          reject(new HimariError(ErrorCode.SERVICE_UNAVAILABLE,
            `Kafka at ${config.brokers} (${config.securityProtocol}) refused the connection: ${reason}`, { retriable: false }));
        }
      });
      client.connect({ timeout: timeoutMs }, (err) => {
        if (err) {
          reject(new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `Kafka at ${config.brokers}: ${reason || err.message}`, { retriable: true, cause: err }));
        } else {
          client.disconnect();
          resolve();
        }
      });
    });
  } finally {
    clearInterval(poll);
  }
}
