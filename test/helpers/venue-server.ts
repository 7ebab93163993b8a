import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { CHECKSUM, okxChecksum, OrderBook } from '../../src/checks/book.js';
import { levels } from '../../src/normalize/common.js';
import { readRecording } from '../../src/replay/recording.js';
import { venueOfRecording, type Venue } from '../../src/normalize/index.js';
import type { Rate } from '../../src/ingest/rate-limit.js';

export interface VenueServerOptions {
  /** A cryptofeed raw recording (`../shared/data/cryptofeed/*.ws.*`): what the server replays. */
  recording: string;
  /** The recorded pace divided by this (10: ten times as fast); 0: as fast as the socket takes them. */
  speed: number;
  /** Instruments a client must subscribe to (found in its URL or subscribe frames, case-insensitive) before it gets data. */
  symbols: readonly string[];
  /**
   * Binance: the recording's REST depth snapshots (`*.http.*`), served at `/api/v3/depth` and
   * `/fapi/v1/depth` (?symbol=) as the venue holds the book at the request: the recorded
   * snapshot with every recorded update newer than it applied, up to the one last due (the
   * recorded snapshot itself until the first such update).
   */
  snapshots?: string;
  /** Messages the venue loses (by index in the recording's messages): never sent, yet in its book. */
  skip?: (index: number, text: string) => boolean;
  /**
   * The venue's limits, enforced as a venue does, counted on the server's clock: a connection
   * beyond `connections` is refused (HTTP 429, `refused`); a connection that sends more frames
   * than `requests` (pings aside) is closed (1008, `violations`).
   */
  limits?: { connections?: Rate; requests?: Rate };
  /** Clients subscribed before the stream begins (default 1): a feed split over two endpoints needs both. */
  startAfter?: number;
}

/** A book side's levels (price text → size text) as [price, size] pairs, best first: bids descending (`desc`), asks ascending. */
function bestFirst(side: Map<string, string>, desc: boolean): Array<[string, string]> {
  return [...side].sort((a, b) => (desc ? Number(b[0]) - Number(a[0]) : Number(a[0]) - Number(b[0])));
}

/** How many of `times` (ms, ascending) fall in the window of `perMs` ending at `now`. */
function inWindow(times: readonly number[], now: number, perMs: number): number {
  let n = 0;
  for (let i = times.length - 1; i >= 0 && times[i]! > now - perMs; i--) n++;
  return n;
}

/** Binance USD-M: a stream its /public endpoint serves (best bid/ask, books); the rest are /market's. */
function isPublicStream(stream: string): boolean {
  return stream.includes('@bookTicker') || stream.includes('@depth');
}

/** One symbol's book as the venue holds it: price text → quantity text per side. */
interface VenueBook {
  lastUpdateId: number;
  bids: Map<string, string>;
  asks: Map<string, string>;
  /** Futures: the last applied update's event and transaction times. */
  E?: number;
  T?: number;
}

/** A snapshot the stub served, for tests to build what the gateway must have made of it. */
export interface ServedSnapshot {
  symbol: string;
  body: string;
}

/**
 * A local stand-in for a venue's public WebSocket, for tests without the internet: it replays a
 * recording's received messages in order with their recorded spacing (scaled), speaks the
 * venue's conversation around them (Binance streams named in the URL; subscribe frames for
 * Coinbase, Kraken, OKX and Bybit; OKX's text ping, Bybit's and Kraken's JSON pings; WebSocket
 * pings by the library), and refuses a client that did not subscribe to every symbol it must.
 *
 * Like a live venue, the stream goes on without a client: what falls due while nobody is
 * subscribed is missed (counted), and a client that reconnects and resubscribes gets the stream
 * from where it is then. Subscription answers are part of the recording and replayed with it.
 */
export class VenueServer {
  readonly venue: Venue;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly messages: Array<{ recvUs: number; text: string }>;
  /** Clients subscribed now: each gets every message (a replacement overlaps the connection it replaces). */
  private readonly subscribers = new Set<WebSocket>();
  /** Most clients subscribed at once. */
  maxSubscribers = 0;
  private cursor = 0;
  private startedMs = 0;
  private pumping = false;
  /** URLs clients opened, in order. */
  readonly requests: string[] = [];
  /** Text frames clients sent (subscriptions, pings), in order. */
  readonly received: string[] = [];
  /** Connections the server accepted. */
  connections = 0;
  /** When it accepted each, ms. */
  readonly connectedAt: number[] = [];
  /** Connections refused for the connection limit. */
  refused = 0;
  /** Connections closed for sending beyond the request limit. */
  violations = 0;
  /** Messages that fell due while no client was subscribed, by their index in the recording's messages. */
  readonly missed: number[] = [];
  /** Messages sent (to every subscribed client). */
  sent = 0;
  /** Messages sent outside the recording by `broadcast`. */
  broadcasts = 0;
  /** Messages lost on purpose (`skip`), by index. */
  readonly skipped: number[] = [];
  /** Binance USD-M: streams asked on an endpoint that does not serve them (the connection was refused). */
  readonly misrouted: string[] = [];
  /** Depth snapshots served, in order. */
  readonly served: ServedSnapshot[] = [];
  private readonly books = new Map<string, VenueBook>();
  /**
   * Binance USD-M since 2026-04-23: a connection to /public/stream gets only best bid/ask and
   * book streams, one to /market/stream only the others (trades, liquidations); /stream, the
   * endpoint before, every stream.
   */
  private readonly endpoints = new Map<WebSocket, 'public' | 'market'>();
  /** OKX: each instrument's book as the venue holds it (price text → level), for the snapshot a resubscription gets. */
  private readonly okxBooks = new Map<string, { bids: Map<string, string[]>; asks: Map<string, string[]>; ts: string }>();
  /** Coinbase: each product's level2 book as the venue holds it (price text → size text per side). */
  private readonly coinbaseBooks = new Map<string, { bids: Map<string, string>; asks: Map<string, string> }>();
  /** OKX and Coinbase: snapshots sent in answer to a book subscription after the stream began, by instrument. */
  readonly resnapshots: string[] = [];
  /** Frames sent outside the recording, with the index of the recorded message each went before. */
  private readonly inserted: Array<{ before: number; text: string }> = [];
  private finished!: () => void;
  /** Resolves once every message of the recording fell due (sent or missed). */
  readonly done: Promise<void>;

  constructor(private readonly options: VenueServerOptions) {
    const venue = venueOfRecording(options.recording);
    if (venue === null) throw new Error(`not a recording of a known venue: ${options.recording}`);
    this.venue = venue;
    this.messages = readRecording(options.recording).messages
      .filter((m) => m.connect === undefined && m.url === undefined)
      .map((m) => ({ recvUs: m.recvTsUs, text: m.text }));
    this.done = new Promise((resolve) => { this.finished = resolve; });
    if (options.snapshots !== undefined) {
      for (const m of readRecording(options.snapshots).messages) {
        const symbol = /[?&]symbol=([^&]+)/.exec(m.url ?? '')?.[1];
        const p = m.payload as { lastUpdateId: number; bids: string[][]; asks: string[][]; E?: number; T?: number };
        if (symbol !== undefined) {
          this.books.set(symbol.toUpperCase(), { lastUpdateId: p.lastUpdateId, bids: new Map(p.bids.map(([px, q]) => [px!, q!])), asks: new Map(p.asks.map(([px, q]) => [px!, q!])), E: p.E, T: p.T });
        }
      }
    }
    this.http = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://local');
      const book = /^\/(api\/v3|fapi\/v1)\/depth$/.test(url.pathname) ? this.books.get((url.searchParams.get('symbol') ?? '').toUpperCase()) : undefined;
      if (book === undefined) {
        res.writeHead(url.pathname.endsWith('/depth') ? 400 : 426, { 'content-type': 'application/json' }).end('{"code":-1121,"msg":"Invalid symbol."}');
        return;
      }
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const body = JSON.stringify({ lastUpdateId: book.lastUpdateId, ...(book.E === undefined ? {} : { E: book.E, T: book.T }), bids: bestFirst(book.bids, true).slice(0, limit), asks: bestFirst(book.asks, false).slice(0, limit) });
      this.served.push({ symbol: (url.searchParams.get('symbol') ?? '').toUpperCase(), body });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    this.wss = new WebSocketServer({
      server: this.http,
      verifyClient: (_info, accept) => {
        const limit = this.options.limits?.connections;
        if (limit !== undefined && inWindow(this.connectedAt, Date.now(), limit.perMs) >= limit.count) {
          this.refused++;
          accept(false, 429, 'Too Many Requests');
          return;
        }
        this.connectedAt.push(Date.now());
        accept(true);
      },
    });
    this.wss.on('connection', (socket, req) => this.accept(socket, req.url ?? '/'));
  }

  /** Index of the recorded message after which every OKX book of `instIds` has had its first snapshot. */
  afterFirstOkxSnapshots(instIds: readonly string[]): number {
    const at = instIds.map((s) => this.messages.findIndex((m) => m.text.includes(`"books","instId":"${s}"},"action":"snapshot"`)));
    if (at.includes(-1)) throw new Error(`the recording lacks a book snapshot of one of ${instIds.join(', ')}`);
    return Math.max(...at);
  }

  /** The recording's received messages, as the server replays them. */
  get recorded(): ReadonlyArray<{ readonly recvUs: number; readonly text: string }> {
    return this.messages;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', () => resolve()));
    return (this.http.address() as AddressInfo).port;
  }

  /** Sends `text` now to every subscribed client, outside the recording (a message the venue might send). */
  broadcast(text: string): void {
    for (const s of this.subscribers) if (s.readyState === WebSocket.OPEN) s.send(text);
    this.broadcasts++;
  }

  /**
   * Tells the connections subscribed now that their server shuts down (Binance's
   * `serverShutdown`, OKX's notice 64008), and drops them `graceMs` later (connections opened
   * meanwhile stay).
   */
  announceShutdown(graceMs: number): void {
    const doomed = [...this.subscribers];
    this.broadcast(this.venue === 'okx'
      ? JSON.stringify({ event: 'notice', code: '64008', msg: 'The connection will soon be closed for a service upgrade. Please reconnect.', connId: 'local' })
      : JSON.stringify({ e: 'serverShutdown', E: Date.now() }));
    setTimeout(() => { for (const s of doomed) s.terminate(); }, graceMs);
  }

  /** Resets every client connection, as a network failure would (no close frame). */
  dropConnections(): void {
    for (const c of this.wss.clients) c.terminate();
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private accept(socket: WebSocket, url: string): void {
    this.connections++;
    this.requests.push(url);
    let asked = this.venue.startsWith('binance') ? decodeURIComponent(url).toLowerCase() : '';
    const subscribeIfComplete = () => {
      const missing = this.options.symbols.filter((s) => !asked.includes(s.toLowerCase()));
      if (missing.length === 0) this.subscribe(socket);
      return missing;
    };
    const requestTimes: number[] = [];
    const subscribes: string[] = [];
    socket.on('message', (data) => {
      const frame = data.toString();
      this.received.push(frame);
      const answer = this.pingAnswer(frame);
      if (answer !== null) {
        socket.send(answer);
        return;
      }
      const limit = this.options.limits?.requests;
      if (limit !== undefined) {
        if (inWindow(requestTimes, Date.now(), limit.perMs) >= limit.count) {
          this.violations++;
          socket.close(1008, 'Too many requests');
          return;
        }
        requestTimes.push(Date.now());
      }
      if (this.isSubscribe(frame)) {
        subscribes.push(frame);
        // OKX and Coinbase answer a book subscription with a snapshot of the book: on a live
        // connection (subscribed again), and on a new one once the stream is under way (the
        // recording's own snapshots are at its start).
        const live = this.subscribers.has(socket);
        const underway = this.startedMs !== 0;
        if (live) this.sendSnapshots(socket, frame);
        asked += frame.toLowerCase();
        subscribeIfComplete();
        if (!live && underway && this.subscribers.has(socket)) for (const f of subscribes) this.sendSnapshots(socket, f);
      }
    });
    socket.on('close', () => { this.subscribers.delete(socket); this.endpoints.delete(socket); });
    if (this.venue.startsWith('binance')) {
      const endpoint = this.venue === 'binance-futures' ? /^\/(public|market)\/stream\b/.exec(url)?.[1] as 'public' | 'market' | undefined : undefined;
      if (endpoint !== undefined) {
        const streams = (new URL(url, 'http://local').searchParams.get('streams') ?? '').split('/');
        const elsewhere = streams.filter((s) => isPublicStream(s) !== (endpoint === 'public'));
        if (elsewhere.length > 0) {
          this.misrouted.push(...elsewhere);
          socket.close(4000, `not served on /${endpoint}/stream`.slice(0, 120));
          return;
        }
        this.endpoints.set(socket, endpoint);
      }
      const missing = subscribeIfComplete();
      if (missing.length > 0) socket.close(4000, `streams missing for ${missing.join(', ')}`);
    }
  }

  /** The venue's answer to an application ping, or null when `frame` is not one. */
  private pingAnswer(frame: string): string | null {
    if (this.venue === 'okx' && frame === 'ping') return 'pong';
    if (frame.startsWith('{')) {
      const msg = JSON.parse(frame) as Record<string, unknown>;
      if (this.venue === 'bybit' && msg.op === 'ping') return JSON.stringify({ success: true, ret_msg: 'pong', conn_id: 'local', op: 'ping' });
      if (this.venue === 'kraken' && msg.event === 'ping') return JSON.stringify({ event: 'pong', reqid: msg.reqid });
    }
    return null;
  }

  private isSubscribe(frame: string): boolean {
    if (!frame.startsWith('{')) return false;
    const msg = JSON.parse(frame) as Record<string, unknown>;
    switch (this.venue) {
      case 'coinbase': return msg.type === 'subscribe' && Array.isArray(msg.product_ids) && Array.isArray(msg.channels);
      case 'kraken': return msg.event === 'subscribe' && Array.isArray(msg.pair) && typeof msg.subscription === 'object';
      case 'okx':
      case 'bybit': return msg.op === 'subscribe' && Array.isArray(msg.args);
      default: return false;
    }
  }

  private subscribe(socket: WebSocket): void {
    if (this.subscribers.has(socket)) return;
    this.subscribers.add(socket);
    this.maxSubscribers = Math.max(this.maxSubscribers, this.subscribers.size);
    if (this.startedMs === 0 && this.subscribers.size >= (this.options.startAfter ?? 1)) {
      this.startedMs = Date.now();
      void this.pump();
    }
  }

  /** OKX: a snapshot of each book `frame` subscribes, with the venue's checksum of its top 25. */
  private sendOkxSnapshots(socket: WebSocket, frame: string): void {
    const args = (JSON.parse(frame) as { args: Array<{ channel?: string; instId?: string }> }).args;
    for (const a of args) {
      const b = a.channel === 'books' && a.instId !== undefined ? this.okxBooks.get(a.instId) : undefined;
      if (b === undefined) continue;
      const bids = [...b.bids.values()].sort((x, y) => Number(y[0]) - Number(x[0])).slice(0, 400);
      const asks = [...b.asks.values()].sort((x, y) => Number(x[0]) - Number(y[0])).slice(0, 400);
      const book = new OrderBook();
      book.applySnapshot(levels(bids), levels(asks));
      okxChecksum(book);
      this.sendExtra(socket, JSON.stringify({ arg: { channel: 'books', instId: a.instId }, action: 'snapshot', data: [{ asks, bids, ts: b.ts, checksum: CHECKSUM[0]! | 0 }] }));
      this.resnapshots.push(a.instId!);
    }
  }

  private sendSnapshots(socket: WebSocket, frame: string): void {
    if (this.venue === 'okx') this.sendOkxSnapshots(socket, frame);
    if (this.venue === 'coinbase') this.sendCoinbaseSnapshots(socket, frame);
  }

  /** A frame sent outside the recording (a snapshot), noted with the recorded message it went before. */
  private sendExtra(socket: WebSocket, text: string): void {
    socket.send(text);
    this.inserted.push({ before: this.cursor, text });
  }

  /**
   * The texts sent, in order, as one subscriber that stayed subscribed got them: the recording
   * less what was missed or skipped, with the snapshots sent outside it where they went.
   */
  sentTexts(): string[] {
    const gone = new Set([...this.missed, ...this.skipped]);
    const out: string[] = [];
    let k = 0;
    for (let i = 0; i <= this.messages.length; i++) {
      while (k < this.inserted.length && this.inserted[k]!.before === i) out.push(this.inserted[k++]!.text);
      if (i < this.messages.length && i < this.cursor && !gone.has(i)) out.push(this.messages[i]!.text);
    }
    return out;
  }

  /** Coinbase: a level2 snapshot of each product `frame` subscribes with level2_batch. */
  private sendCoinbaseSnapshots(socket: WebSocket, frame: string): void {
    const msg = JSON.parse(frame) as { product_ids: string[]; channels: unknown[] };
    if (!msg.channels.includes('level2_batch')) return;
    for (const product of msg.product_ids) {
      const b = this.coinbaseBooks.get(product);
      if (b === undefined) continue;
      this.sendExtra(socket, JSON.stringify({ type: 'snapshot', product_id: product, asks: bestFirst(b.asks, false), bids: bestFirst(b.bids, true) }));
      this.resnapshots.push(product);
    }
  }

  /** A Coinbase level2 message, applied to the venue's book of its product. */
  private applyToCoinbaseBook(text: string): void {
    if (!text.startsWith('{"type":"snapshot"') && !text.startsWith('{"type":"l2update"')) return;
    const msg = JSON.parse(text) as { type: string; product_id: string; bids?: string[][]; asks?: string[][]; changes?: string[][] };
    let b = this.coinbaseBooks.get(msg.product_id);
    if (b === undefined || msg.type === 'snapshot') {
      b = { bids: new Map(msg.bids?.map(([px, q]) => [px!, q!])), asks: new Map(msg.asks?.map(([px, q]) => [px!, q!])) };
      this.coinbaseBooks.set(msg.product_id, b);
      return;
    }
    for (const [side, px, q] of msg.changes ?? []) {
      const levels = side === 'buy' ? b.bids : b.asks;
      if (Number(q) === 0) levels.delete(px!);
      else levels.set(px!, q!);
    }
  }

  /** An OKX books message, applied to the venue's book of its instrument. */
  private applyToOkxBook(text: string): void {
    if (!text.includes('"channel":"books"')) return;
    const msg = JSON.parse(text) as { arg: { instId: string }; action?: string; data?: Array<{ bids: string[][]; asks: string[][]; ts: string }> };
    const d = msg.data?.[0];
    if (d === undefined) return; // a subscription answer
    let b = this.okxBooks.get(msg.arg.instId);
    if (b === undefined || msg.action === 'snapshot') {
      b = { bids: new Map(), asks: new Map(), ts: d.ts };
      this.okxBooks.set(msg.arg.instId, b);
    }
    for (const [side, lv] of [[b.bids, d.bids], [b.asks, d.asks]] as const) {
      for (const level of lv) {
        if (Number(level[1]) === 0) side.delete(level[0]!);
        else side.set(level[0]!, level);
      }
    }
    b.ts = d.ts;
  }

  /** A Binance depth update, applied to the venue's book of its symbol when it is newer than the book. */
  private applyToBook(text: string): void {
    if (this.venue === 'okx') {
      this.applyToOkxBook(text);
      return;
    }
    if (this.venue === 'coinbase') {
      this.applyToCoinbaseBook(text);
      return;
    }
    if (this.books.size === 0 || !text.includes('depthUpdate')) return;
    const msg = JSON.parse(text) as { data?: { e: string; s: string; u: number; E?: number; T?: number; b: string[][]; a: string[][] } };
    const d = msg.data;
    const book = d === undefined ? undefined : this.books.get(d.s);
    if (d === undefined || book === undefined || d.u <= book.lastUpdateId) return;
    for (const [side, levels] of [[book.bids, d.b], [book.asks, d.a]] as const) {
      for (const [px, q] of levels) {
        if (Number(q) === 0) side.delete(px!);
        else side.set(px!, q!);
      }
    }
    book.lastUpdateId = d.u;
    if (book.E !== undefined) { book.E = d.E; book.T = d.T; }
  }

  /** Sends each message when it falls due on the recorded clock (scaled), to whoever is subscribed then. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    const first = this.messages[0]?.recvUs ?? 0;
    while (this.cursor < this.messages.length) {
      const m = this.messages[this.cursor]!;
      if (this.options.speed > 0) {
        const due = this.startedMs + (m.recvUs - first) / 1000 / this.options.speed;
        const wait = due - Date.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      } else if ((this.cursor & 255) === 255) {
        await new Promise((r) => setImmediate(r));
      }
      this.applyToBook(m.text);
      const stream = this.endpoints.size === 0 ? null : /^\{"stream":"([^"]+)"/.exec(m.text)?.[1] ?? null;
      const open = [...this.subscribers].filter((s) => s.readyState === WebSocket.OPEN
        && (stream === null || !this.endpoints.has(s) || (this.endpoints.get(s) === 'public') === isPublicStream(stream)));
      if (this.options.skip?.(this.cursor, m.text) === true) {
        this.skipped.push(this.cursor);
      } else if (open.length > 0) {
        for (const s of open) s.send(m.text);
        this.sent++;
      } else {
        this.missed.push(this.cursor);
      }
      this.cursor++;
    }
    this.finished();
  }
}
