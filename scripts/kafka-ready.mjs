// Exit 0 when a Kafka broker at argv[2] answers a metadata request within argv[3] ms. argv[4],
// optional: a file of librdkafka settings (key=value lines: security protocol, SASL, certificates).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const Kafka = createRequire(import.meta.url)('node-rdkafka');
const [brokers = '127.0.0.1:9092', timeout = '5000', settingsFile] = process.argv.slice(2);
const settings = {};
if (settingsFile !== undefined) {
  for (const line of readFileSync(settingsFile, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) settings[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
}
const p = new Kafka.Producer({ ...settings, 'metadata.broker.list': brokers, 'client.id': 'himari-l0-ready' });
const timer = setTimeout(() => process.exit(1), Number(timeout));
p.connect({ timeout: Number(timeout) }, (err) => {
  if (err) process.exit(1);
  p.getMetadata({ timeout: Number(timeout) }, (err2, meta) => {
    clearTimeout(timer);
    process.exit(!err2 && meta.brokers.length > 0 ? 0 : 1);
  });
});
