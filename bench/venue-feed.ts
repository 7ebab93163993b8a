import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';

/**
 * A stand-in venue for the ingest benchmark, in a process of its own (as a venue is): a Binance
 * combined-stream WebSocket sending `trade` messages of SYMBOLS symbols at RATE messages/s,
 * open loop (each millisecond sends what fell due since the start, whatever the client does).
 * Prints its port on stdout; runs until killed.
 */
const RATE = Number(process.env.RATE ?? 10_000);
const SYMBOLS = Number(process.env.SYMBOLS ?? 20);

const symbols = Array.from({ length: SYMBOLS }, (_, i) => `SYM${i}USDT`);
const http = createServer();
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
let client: WebSocket | null = null;
let sent = 0;
let started = 0;
let price = 100;

wss.on('connection', (socket) => {
  client = socket;
  sent = 0;
  started = performance.now();
});

setInterval(() => {
  const c = client;
  if (c === null || c.readyState !== WebSocket.OPEN) return;
  const due = Math.floor(((performance.now() - started) / 1000) * RATE);
  const now = Date.now();
  for (; sent < due; sent++) {
    price += (sent % 7) - 3 === 0 ? 0.01 : -0.001;
    const s = symbols[sent % SYMBOLS]!;
    c.send(`{"stream":"${s.toLowerCase()}@trade","data":{"e":"trade","E":${now},"T":${now},"s":"${s}","t":${sent},"p":"${price.toFixed(2)}","q":"0.010","m":${sent % 2 === 0}}}`);
  }
}, 1);

http.listen(0, '127.0.0.1', () => process.stdout.write(`${(http.address() as AddressInfo).port}\n`));
