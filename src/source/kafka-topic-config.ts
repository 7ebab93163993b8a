import type { KafkaConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import { KafkaWire, WireReader, WireWriter } from '../kafka/wire.js';

/** Kafka protocol: DescribeConfigs, version 1 (Kafka 1.1 and later, Redpanda; 4.0 dropped v0). */
const DESCRIBE_CONFIGS = 32;
const VERSION = 1;
const RESOURCE_TOPIC = 2;

/**
 * Reads configuration entries of a topic from the brokers (DescribeConfigs), which node-rdkafka's
 * admin client does not offer. Used at start for the dead-letter topic's `max.message.bytes`, so
 * that a dead letter is cut to what the topic takes before the broker refuses it. Connects with
 * the processor's security settings (TLS, SASL: KafkaWire). Tries the bootstrap brokers in turn;
 * any broker answers for any topic.
 */
export async function describeTopicConfig(config: KafkaConfig, topic: string, names: readonly string[], timeoutMs = 5_000): Promise<Map<string, string | null>> {
  let last: unknown = null;
  for (const broker of config.brokers.split(',').map((b) => b.trim()).filter(Boolean)) {
    const at = broker.lastIndexOf(':');
    let wire: KafkaWire | null = null;
    try {
      wire = await KafkaWire.open(config, broker.slice(0, at).replace(/^\[|\]$/g, ''), Number(broker.slice(at + 1)), timeoutMs);
      const response = await withTimeout(wire.request(DESCRIBE_CONFIGS, VERSION, encodeRequest(topic, names)), timeoutMs);
      return decodeResponse(response, topic);
    } catch (err) {
      last = err;
    } finally {
      wire?.close();
    }
  }
  throw new HimariError(ErrorCode.KAFKA_ERROR, `DescribeConfigs of topic ${topic} at ${config.brokers}: ${last instanceof Error ? last.message : String(last)}`, { cause: last });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new HimariError(ErrorCode.KAFKA_ERROR, `no answer in ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

/** The request body, after the request header (exported for its unit test). */
export function encodeRequest(topic: string, names: readonly string[]): Buffer {
  const w = new WireWriter();
  // One resource: the topic, the entries asked for; no synonyms.
  w.int32(1).int8(RESOURCE_TOPIC).str(topic);
  w.int32(names.length);
  for (const n of names) w.str(n);
  return w.int8(0).done();
}

/** The response body after its correlation id; throws on a protocol or topic error. */
export function decodeResponse(b: Buffer, topic: string): Map<string, string | null> {
  const r = new WireReader(b);
  r.int32(); // throttle time
  const resources = r.int32();
  for (let n = 0; n < resources; n++) {
    const error = r.int16();
    const message = r.str();
    r.int8(); // resource type
    const name = r.str();
    if (error !== 0) throw new HimariError(ErrorCode.KAFKA_ERROR, `broker error ${error}${message === null ? '' : `: ${message}`} for ${name}`);
    const out = new Map<string, string | null>();
    const entries = r.int32();
    for (let e = 0; e < entries; e++) {
      const key = r.str() ?? '';
      const value = r.str();
      r.int8(); r.int8(); r.int8(); // read only, source, sensitive
      const synonyms = r.int32();
      for (let s = 0; s < Math.max(0, synonyms); s++) { r.str(); r.str(); r.int8(); }
      out.set(key, value);
    }
    if (name === topic) return out;
  }
  throw new HimariError(ErrorCode.KAFKA_ERROR, `DescribeConfigs response has no entry for ${topic}`);
}
