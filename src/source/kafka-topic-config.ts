import { connect, type Socket } from 'node:net';
import { ErrorCode, HimariError } from '../errors.js';

/** Kafka protocol: DescribeConfigs, version 1 (Kafka 1.1 and later, Redpanda; 4.0 dropped v0). */
const DESCRIBE_CONFIGS = 32;
const VERSION = 1;
const RESOURCE_TOPIC = 2;

/**
 * Reads configuration entries of a topic from the brokers (DescribeConfigs), which node-rdkafka's
 * admin client does not offer. Used at start for the dead-letter topic's `max.message.bytes`, so
 * that a dead letter is cut to what the topic takes before the broker refuses it. Plaintext
 * listeners only (a secured listener needs its handshake first: the caller falls back to its
 * configured value). Tries the bootstrap brokers in turn; any broker answers for any topic.
 */
export async function describeTopicConfig(brokers: string, topic: string, names: readonly string[], timeoutMs = 5_000): Promise<Map<string, string | null>> {
  let last: unknown = null;
  for (const broker of brokers.split(',').map((b) => b.trim()).filter(Boolean)) {
    const at = broker.lastIndexOf(':');
    try {
      return await describeOnce(broker.slice(0, at).replace(/^\[|\]$/g, ''), Number(broker.slice(at + 1)), topic, names, timeoutMs);
    } catch (err) {
      last = err;
    }
  }
  throw new HimariError(ErrorCode.KAFKA_ERROR, `DescribeConfigs of topic ${topic} at ${brokers}: ${last instanceof Error ? last.message : String(last)}`, { cause: last });
}

function describeOnce(host: string, port: number, topic: string, names: readonly string[], timeoutMs: number): Promise<Map<string, string | null>> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host, port });
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer in ${timeoutMs} ms`)); }, timeoutMs);
    const done = (err: Error | null, value?: Map<string, string | null>) => {
      clearTimeout(timer);
      socket.destroy();
      if (err !== null) reject(err);
      else resolve(value!);
    };
    let received = Buffer.alloc(0);
    socket.on('error', (err) => done(err));
    socket.on('connect', () => socket.write(encodeRequest(topic, names)));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
      try {
        done(null, decodeResponse(received.subarray(4, 4 + received.readInt32BE(0)), topic));
      } catch (err) {
        done(err as Error);
      }
    });
  });
}

const CORRELATION_ID = 1;
const CLIENT_ID = 'himari-l0';

/** The request, length-prefixed (exported for its unit test). */
export function encodeRequest(topic: string, names: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  const int8 = (v: number) => { const b = Buffer.alloc(1); b.writeInt8(v); parts.push(b); };
  const int16 = (v: number) => { const b = Buffer.alloc(2); b.writeInt16BE(v); parts.push(b); };
  const int32 = (v: number) => { const b = Buffer.alloc(4); b.writeInt32BE(v); parts.push(b); };
  const str = (s: string) => { const b = Buffer.from(s, 'utf8'); int16(b.length); parts.push(b); };
  // Request header v1: api key, version, correlation id, client id.
  int16(DESCRIBE_CONFIGS); int16(VERSION); int32(CORRELATION_ID); str(CLIENT_ID);
  // One resource: the topic, the entries asked for; no synonyms.
  int32(1); int8(RESOURCE_TOPIC); str(topic);
  int32(names.length); for (const n of names) str(n);
  int8(0);
  const body = Buffer.concat(parts);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

/** The response without its length prefix; throws on a protocol or topic error. */
export function decodeResponse(b: Buffer, topic: string): Map<string, string | null> {
  let at = 0;
  const need = (n: number) => { if (at + n > b.length) throw new Error('DescribeConfigs response cut short'); };
  const int8 = () => { need(1); return b.readInt8(at++); };
  const int16 = () => { need(2); const v = b.readInt16BE(at); at += 2; return v; };
  const int32 = () => { need(4); const v = b.readInt32BE(at); at += 4; return v; };
  const nstr = (): string | null => {
    const n = int16();
    if (n < 0) return null;
    need(n);
    const s = b.toString('utf8', at, at + n);
    at += n;
    return s;
  };
  if (int32() !== CORRELATION_ID) throw new Error('DescribeConfigs response for another request');
  int32(); // throttle time
  const resources = int32();
  for (let r = 0; r < resources; r++) {
    const error = int16();
    const message = nstr();
    int8(); // resource type
    const name = nstr();
    if (error !== 0) throw new Error(`broker error ${error}${message === null ? '' : `: ${message}`} for ${name}`);
    const out = new Map<string, string | null>();
    const entries = int32();
    for (let e = 0; e < entries; e++) {
      const key = nstr() ?? '';
      const value = nstr();
      int8(); int8(); int8(); // read only, source, sensitive
      const synonyms = int32();
      for (let s = 0; s < Math.max(0, synonyms); s++) { nstr(); nstr(); int8(); }
      out.set(key, value);
    }
    if (name === topic) return out;
  }
  throw new Error(`DescribeConfigs response has no entry for ${topic}`);
}
