import type Kafka from 'node-rdkafka';
import type { KafkaConfig } from '../config/schema.js';

/** The librdkafka settings every client shares; each call site adds its own tuning. */
export type KafkaClientSettings = Pick<Kafka.GlobalConfig,
  | 'metadata.broker.list' | 'client.id' | 'security.protocol'
  | 'sasl.mechanisms' | 'sasl.username' | 'sasl.password'
  | 'ssl.ca.location' | 'ssl.certificate.location' | 'ssl.key.location'
  | 'ssl.endpoint.identification.algorithm' | 'enable.ssl.certificate.verification'>;

/**
 * Brokers, client id and security for one Kafka client. Every client of the processor, the CLI
 * and the tests is built from this, so a broker that needs TLS or SASL gets it from all of them
 * (one of them left plaintext would fail only on that path, e.g. when the first dead letter is
 * written). `clientIdSuffix` names the client's role in the broker's logs and quotas
 * (`himari-l0-dlq`).
 */
export function kafkaClientConfig(config: KafkaConfig, clientIdSuffix?: string): KafkaClientSettings {
  const settings: KafkaClientSettings = {
    'metadata.broker.list': config.brokers,
    'client.id': clientIdSuffix === undefined ? config.clientId : `${config.clientId}-${clientIdSuffix}`,
    'security.protocol': config.securityProtocol,
  };
  if (config.securityProtocol === 'sasl_plaintext' || config.securityProtocol === 'sasl_ssl') {
    settings['sasl.mechanisms'] = config.saslMechanism;
    // The schema requires both with a sasl_* protocol.
    settings['sasl.username'] = config.saslUsername!;
    settings['sasl.password'] = config.saslPassword!;
  }
  if (config.securityProtocol === 'ssl' || config.securityProtocol === 'sasl_ssl') {
    // Explicit, whatever librdkafka's defaults become: the chain is always verified.
    settings['enable.ssl.certificate.verification'] = true;
    settings['ssl.endpoint.identification.algorithm'] = config.sslVerifyHostname ? 'https' : 'none';
    if (config.sslCaFile !== undefined) settings['ssl.ca.location'] = config.sslCaFile;
    if (config.sslCertFile !== undefined) settings['ssl.certificate.location'] = config.sslCertFile;
    if (config.sslKeyFile !== undefined) settings['ssl.key.location'] = config.sslKeyFile;
  }
  return settings;
}
