import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { KafkaConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';

/**
 * One connection speaking the Kafka protocol itself, for the few requests node-rdkafka does not
 * offer (DescribeConfigs). Same security as every librdkafka client of the processor
 * (kafkaClientConfig): TLS with the configured CA, client certificate and host name check, and
 * SASL PLAIN or SCRAM-SHA-256/512 (RFC 5802) through SaslHandshake v1 + SaslAuthenticate v1.
 * Requests go one at a time; non-flexible versions only (request header v1).
 */
export class KafkaWire {
  private received: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private failed: Error | null = null;
  private correlationId = 0;

  private constructor(private readonly socket: Socket, private readonly clientId: string) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new HimariError(ErrorCode.KAFKA_ERROR, 'connection closed by the broker')));
  }

  /** Connects to one broker and authenticates as the config says; rejects after `timeoutMs`. */
  static async open(config: KafkaConfig, host: string, port: number, timeoutMs: number): Promise<KafkaWire> {
    const tls = config.securityProtocol === 'ssl' || config.securityProtocol === 'sasl_ssl';
    const socket = tls
      ? connectTls({
        host, port, servername: /^[\d.:]+$/.test(host) ? undefined : host,
        ca: config.sslCaFile === undefined ? undefined : readFileSync(config.sslCaFile),
        cert: config.sslCertFile === undefined ? undefined : readFileSync(config.sslCertFile),
        key: config.sslKeyFile === undefined ? undefined : readFileSync(config.sslKeyFile),
        // The chain is always verified; only the name check follows kafka.sslVerifyHostname.
        rejectUnauthorized: true,
        ...(config.sslVerifyHostname ? {} : { checkServerIdentity: () => undefined }),
      })
      : connectTcp({ host, port });
    const wire = new KafkaWire(socket, config.clientId);
    const timer = setTimeout(() => wire.fail(new HimariError(ErrorCode.KAFKA_ERROR, `no answer in ${timeoutMs} ms`)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once(tls ? 'secureConnect' : 'connect', () => resolve());
        socket.once('error', reject);
        socket.once('close', () => reject(wire.failed ?? new HimariError(ErrorCode.KAFKA_ERROR, 'connection closed by the broker')));
      });
      if (config.securityProtocol === 'sasl_plaintext' || config.securityProtocol === 'sasl_ssl') {
        await wire.authenticate(config.saslMechanism, config.saslUsername!, config.saslPassword!);
      }
      return wire;
    } catch (err) {
      wire.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends one request and resolves with the response body after the correlation id. */
  request(apiKey: number, version: number, body: Buffer): Promise<Buffer> {
    if (this.failed !== null) return Promise.reject(this.failed);
    if (this.waiting !== null) return Promise.reject(new HimariError(ErrorCode.KAFKA_ERROR, 'one request at a time'));
    const id = ++this.correlationId;
    const clientId = Buffer.from(this.clientId, 'utf8');
    const header = Buffer.alloc(4 + 2 + 2 + 4 + 2);
    header.writeInt32BE(header.length - 4 + clientId.length + body.length, 0);
    header.writeInt16BE(apiKey, 4);
    header.writeInt16BE(version, 6);
    header.writeInt32BE(id, 8);
    header.writeInt16BE(clientId.length, 12);
    return new Promise<Buffer>((resolve, reject) => {
      this.waiting = {
        resolve: (response) => {
          if (response.readInt32BE(0) !== id) reject(new HimariError(ErrorCode.KAFKA_ERROR, `response for request ${response.readInt32BE(0)}, expected ${id}`));
          else resolve(response.subarray(4));
        },
        reject,
      };
      this.socket.write(Buffer.concat([header, clientId, body]));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    if (this.received.length < 4) return;
    const size = this.received.readInt32BE(0);
    if (size < 4) return this.fail(new HimariError(ErrorCode.KAFKA_ERROR, `response of ${size} bytes`));
    if (this.received.length < 4 + size) return;
    const response = this.received.subarray(4, 4 + size);
    this.received = this.received.subarray(4 + size);
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.resolve(response);
  }

  private fail(err: Error): void {
    this.failed ??= err;
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.reject(err);
    this.socket.destroy();
  }

  private async authenticate(mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512', username: string, password: string): Promise<void> {
    const handshake = new WireReader(await this.request(SASL_HANDSHAKE, 1, new WireWriter().str(mechanism).done()));
    const error = handshake.int16();
    if (error !== 0) {
      const offered: string[] = [];
      for (let n = handshake.int32(); n > 0; n--) offered.push(handshake.str() ?? '');
      throw new HimariError(ErrorCode.KAFKA_ERROR, `SASL mechanism ${mechanism} refused (broker error ${error}; it offers ${offered.join(', ') || 'none'})`);
    }
    if (mechanism === 'PLAIN') {
      await this.saslStep(Buffer.from(`\u0000${username}\u0000${password}`, 'utf8'));
      return;
    }
    const scram = new ScramClient(mechanism, username, password);
    const serverFirst = await this.saslStep(Buffer.from(scram.clientFirst(), 'utf8'));
    const serverFinal = await this.saslStep(Buffer.from(scram.clientFinal(serverFirst.toString('utf8')), 'utf8'));
    scram.verifyServerFinal(serverFinal.toString('utf8'));
  }

  private async saslStep(bytes: Buffer): Promise<Buffer> {
    const r = new WireReader(await this.request(SASL_AUTHENTICATE, 1, new WireWriter().bytes(bytes).done()));
    const error = r.int16();
    const message = r.str();
    const auth = r.bytes();
    if (error !== 0) throw new HimariError(ErrorCode.KAFKA_ERROR, `SASL authentication failed (broker error ${error}${message === null ? '' : `: ${message}`})`);
    return auth;
  }
}

const SASL_HANDSHAKE = 17;
const SASL_AUTHENTICATE = 36;

/**
 * The client side of SCRAM (RFC 5802; SHA-256 and SHA-512 as RFC 7677 and Kafka's KIP-84 use
 * them): client-first, client-final with the proof, and the check of the server's signature, so a
 * server that does not know the password is not believed either.
 */
export class ScramClient {
  private readonly hash: 'sha256' | 'sha512';
  private readonly firstBare: string;
  private serverSignature: Buffer | null = null;

  constructor(mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', username: string, private readonly password: string,
    private readonly clientNonce = randomBytes(24).toString('base64url')) {
    this.hash = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
    this.firstBare = `n=${username.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${clientNonce}`;
  }

  clientFirst(): string {
    return `n,,${this.firstBare}`;
  }

  clientFinal(serverFirst: string): string {
    const fields = scramFields(serverFirst);
    const nonce = fields.get('r');
    const salt = fields.get('s');
    const iterations = Number(fields.get('i'));
    if (nonce === undefined || !nonce.startsWith(this.clientNonce) || salt === undefined || !Number.isSafeInteger(iterations) || iterations < 1) {
      throw new HimariError(ErrorCode.KAFKA_ERROR, `SCRAM: unusable server-first message ${JSON.stringify(serverFirst)}`);
    }
    const hmac = (key: Buffer, text: string) => createHmac(this.hash, key).update(text, 'utf8').digest();
    const salted = pbkdf2Sync(this.password, Buffer.from(salt, 'base64'), iterations, this.hash === 'sha256' ? 32 : 64, this.hash);
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.firstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  verifyServerFinal(serverFinal: string): void {
    const fields = scramFields(serverFinal);
    const error = fields.get('e');
    if (error !== undefined) throw new HimariError(ErrorCode.KAFKA_ERROR, `SCRAM: the server refused: ${error}`);
    const v = Buffer.from(fields.get('v') ?? '', 'base64');
    if (this.serverSignature === null || v.length !== this.serverSignature.length || !timingSafeEqual(v, this.serverSignature)) {
      throw new HimariError(ErrorCode.KAFKA_ERROR, 'SCRAM: the server\'s signature is wrong (it does not know the password)');
    }
  }
}

function scramFields(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) if (part.length >= 2 && part[1] === '=') out.set(part[0]!, part.slice(2));
  return out;
}

/** Big-endian writer of the protocol's fixed-width types (non-flexible versions). */
export class WireWriter {
  private readonly parts: Buffer[] = [];

  int8(v: number): this { const b = Buffer.alloc(1); b.writeInt8(v); this.parts.push(b); return this; }
  int16(v: number): this { const b = Buffer.alloc(2); b.writeInt16BE(v); this.parts.push(b); return this; }
  int32(v: number): this { const b = Buffer.alloc(4); b.writeInt32BE(v); this.parts.push(b); return this; }
  str(s: string): this { const b = Buffer.from(s, 'utf8'); return this.int16(b.length).raw(b); }
  bytes(b: Buffer): this { return this.int32(b.length).raw(b); }
  raw(b: Buffer): this { this.parts.push(b); return this; }
  done(): Buffer { return Buffer.concat(this.parts); }
}

/** Reader of the same; throws when a response is shorter than its fields say. */
export class WireReader {
  private at = 0;
  constructor(private readonly b: Buffer) {}

  private need(n: number): void {
    if (this.at + n > this.b.length) throw new HimariError(ErrorCode.KAFKA_ERROR, 'Kafka response cut short');
  }

  int8(): number { this.need(1); return this.b.readInt8(this.at++); }
  int16(): number { this.need(2); const v = this.b.readInt16BE(this.at); this.at += 2; return v; }
  int32(): number { this.need(4); const v = this.b.readInt32BE(this.at); this.at += 4; return v; }

  /** A nullable string. */
  str(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    this.need(n);
    const s = this.b.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }

  /** Bytes (a null is read as empty). */
  bytes(): Buffer {
    const n = this.int32();
    if (n < 0) return Buffer.alloc(0);
    this.need(n);
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}
