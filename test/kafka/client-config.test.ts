import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { kafkaClientConfig } from '../../src/kafka/client-config.js';

// Any readable file passes the config's file checks; librdkafka is not involved here.
const FILE = fileURLToPath(import.meta.url);

describe('kafkaClientConfig', () => {
  it('plaintext: brokers, client id (with the role suffix) and the protocol, nothing else', () => {
    const { kafka } = loadConfig({ env: { HIMARI_KAFKA_BROKERS: 'a:1,b:2', HIMARI_KAFKA_CLIENT_ID: 'l0' } });
    assert.deepEqual(kafkaClientConfig(kafka), { 'metadata.broker.list': 'a:1,b:2', 'client.id': 'l0', 'security.protocol': 'plaintext' });
    assert.equal(kafkaClientConfig(kafka, 'dlq')['client.id'], 'l0-dlq');
  });

  it('sasl_ssl: SCRAM credentials, the CA, chain and host name verified', () => {
    const { kafka } = loadConfig({ env: {
      HIMARI_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', HIMARI_KAFKA_SASL_USERNAME: 'u', HIMARI_KAFKA_SASL_PASSWORD: 'p', HIMARI_KAFKA_SSL_CA_FILE: FILE,
    } });
    assert.deepEqual(kafkaClientConfig(kafka, 'admin'), {
      'metadata.broker.list': '127.0.0.1:9092', 'client.id': 'himari-l0-admin', 'security.protocol': 'sasl_ssl',
      'sasl.mechanisms': 'SCRAM-SHA-512', 'sasl.username': 'u', 'sasl.password': 'p',
      'enable.ssl.certificate.verification': true, 'ssl.endpoint.identification.algorithm': 'https', 'ssl.ca.location': FILE,
    });
  });

  it('ssl with a client certificate, host name check off on request; sasl_plaintext has no TLS keys', () => {
    const ssl = loadConfig({ env: {
      HIMARI_KAFKA_SECURITY_PROTOCOL: 'ssl', HIMARI_KAFKA_SSL_CERT_FILE: FILE, HIMARI_KAFKA_SSL_KEY_FILE: FILE, HIMARI_KAFKA_SSL_VERIFY_HOSTNAME: 'false',
    } }).kafka;
    const s = kafkaClientConfig(ssl);
    assert.equal(s['ssl.certificate.location'], FILE);
    assert.equal(s['ssl.key.location'], FILE);
    assert.equal(s['ssl.endpoint.identification.algorithm'], 'none');
    assert.equal(s['enable.ssl.certificate.verification'], true);
    assert.equal(s['sasl.mechanisms'], undefined);

    const saslPlain = loadConfig({ env: {
      HIMARI_KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext', HIMARI_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', HIMARI_KAFKA_SASL_USERNAME: 'u', HIMARI_KAFKA_SASL_PASSWORD: 'p',
    } }).kafka;
    const p = kafkaClientConfig(saslPlain);
    assert.equal(p['sasl.mechanisms'], 'SCRAM-SHA-256');
    assert.equal(p['ssl.endpoint.identification.algorithm'], undefined);
  });
});
