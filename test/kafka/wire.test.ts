import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { KafkaWire, ScramClient, WireReader, WireWriter } from '../../src/kafka/wire.js';

describe('SCRAM client', () => {
  // RFC 7677, section 3: the SCRAM-SHA-256 exchange for user "user", password "pencil".
  const nonce = 'rOprNGfwEbeRWgbNEkqO';
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';

  it('produces the RFC 7677 messages and accepts its server signature', () => {
    const scram = new ScramClient('SCRAM-SHA-256', 'user', 'pencil', nonce);
    assert.equal(scram.clientFirst(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    assert.equal(scram.clientFinal(serverFirst),
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    scram.verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });

  it('refuses a server that does not know the password, a server error, and a nonce it did not extend', () => {
    const wrong = new ScramClient('SCRAM-SHA-256', 'user', 'not-pencil', nonce);
    wrong.clientFinal(serverFirst);
    assert.throws(() => wrong.verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), /signature is wrong/);
    const refused = new ScramClient('SCRAM-SHA-256', 'user', 'pencil', nonce);
    refused.clientFinal(serverFirst);
    assert.throws(() => refused.verifyServerFinal('e=invalid-proof'), /refused: invalid-proof/);
    assert.throws(() => new ScramClient('SCRAM-SHA-256', 'user', 'pencil', nonce).clientFinal('r=someone-else,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'),
      /unusable server-first/);
  });

  it('escapes = and , in the user name', () => {
    assert.equal(new ScramClient('SCRAM-SHA-512', 'a=b,c', 'p', 'n').clientFirst(), 'n,,n=a=3Db=2Cc,r=n');
  });
});

describe('wire reader and writer', () => {
  it('round-trips the fixed-width types and fails on a cut buffer', () => {
    const b = new WireWriter().int8(-2).int16(300).int32(-70000).str('héllo').bytes(Buffer.from([1, 2, 3])).done();
    const r = new WireReader(b);
    assert.deepEqual([r.int8(), r.int16(), r.int32(), r.str(), [...r.bytes()]], [-2, 300, -70000, 'héllo', [1, 2, 3]]);
    const cut = new WireReader(b.subarray(0, 10));
    cut.int8(); cut.int16(); cut.int32();
    assert.throws(() => cut.str(), /cut short/, 'a string longer than what is left');
  });
});

describe('KafkaWire framing (a local server speaking the frame format)', () => {
  const servers: Server[] = [];
  after(() => { for (const s of servers) s.close(); });

  /** A server that answers each request with its correlation id and the request's body reversed, in 1-byte chunks. */
  async function echoServer(): Promise<number> {
    const server = createServer((socket) => {
      let got = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        while (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
          const request = got.subarray(4, 4 + got.readInt32BE(0));
          got = got.subarray(4 + request.length);
          const clientIdLength = request.readInt16BE(8);
          const body = Buffer.from(request.subarray(10 + clientIdLength)).reverse();
          const response = Buffer.alloc(8 + body.length);
          response.writeInt32BE(4 + body.length, 0);
          request.copy(response, 4, 4, 8);
          body.copy(response, 8);
          for (const byte of response) socket.write(Buffer.from([byte]));
        }
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return (server.address() as { port: number }).port;
  }

  it('sends requests one after another and reassembles responses split into any chunks', async () => {
    const port = await echoServer();
    const config = loadConfig({ env: {} }).kafka;
    const wire = await KafkaWire.open(config, '127.0.0.1', port, 2_000);
    try {
      assert.deepEqual([...await wire.request(32, 1, Buffer.from([1, 2, 3]))], [3, 2, 1]);
      assert.deepEqual([...await wire.request(32, 1, Buffer.from([9, 8]))], [8, 9]);
    } finally {
      wire.close();
    }
  });

  it('rejects when nothing listens, and when the server never answers', async () => {
    const config = loadConfig({ env: {} }).kafka;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(KafkaWire.open(config, '127.0.0.1', port, 2_000), /ECONNREFUSED/);
    // Connected but silent, with TLS asked for: the handshake never completes.
    const silent = createServer(() => {});
    servers.push(silent);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const silentPort = (silent.address() as { port: number }).port;
    await assert.rejects(KafkaWire.open({ ...config, securityProtocol: 'ssl' }, '127.0.0.1', silentPort, 300), /no answer in 300 ms/);
  });
});
