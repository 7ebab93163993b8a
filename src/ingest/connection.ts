import WebSocket from 'ws';
import type { Logger } from 'pino';
import { wallClockMs } from '../obs/clock.js';

/** Why a connection ended, as the gateway reports the gap it left. */
export type CloseReason = 'closed by the venue' | 'error' | 'stale' | 'handshake failed' | 'replaced';

/** What a FeedConnection tells its owner. */
export interface ConnectionHandlers {
  /** A text frame (not a ping answer), with the time it was received, µs since the epoch. */
  onFrame(frame: string, recvUs: number): void;
  /** Connected and subscribed; `downMs` is how long the feed was without a connection before (0 the first time). */
  onOpen(url: string, downMs: number, attempt: number): void;
  /** The connection ended; a reconnect follows in `retryInMs` unless the feed is closing. */
  onClose(reason: CloseReason, detail: string, retryInMs: number): void;
}

export interface ConnectionOptions {
  url: string;
  /** Text frames sent once open (subscriptions). */
  subscriptions: readonly string[];
  /** Application-level ping the venue needs, or null. */
  ping: { readonly text: string; readonly everyMs: number } | null;
  /** A frame that only answers that ping (not handed on). */
  isPong: (frame: string) => boolean;
  /** No frame, ping or pong for this long: the socket is dropped and reconnected. */
  staleMs: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
}

/**
 * The delay before reconnect attempt `attempt` (0 = the first after a drop): doubling from
 * `initialMs` up to `maxMs`, then a uniformly random share of its upper half ("equal jitter"),
 * so that many gateways dropped together do not come back in step and stay at least half the
 * backoff apart from the venue.
 */
export function reconnectDelayMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (base / 2) * random());
}

/**
 * One venue WebSocket that stays up: subscribes on every open, answers and sends pings, drops a
 * socket that went silent (`staleMs`: a half-open TCP connection otherwise looks like a quiet
 * market for as long as the kernel keeps it), and reconnects with capped, jittered backoff until
 * closed. Frames are handed on as text with their receive time.
 */
export class FeedConnection {
  private socket: WebSocket | null = null;
  private closing = false;
  /** Failed attempts since the last successful open. */
  private attempt = 0;
  /** When the feed last lost its connection (ms, 0 while connected or before the first open). */
  private downSinceMs = 0;
  private lastActivityMs = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ConnectionOptions, private readonly log: Logger, private readonly handlers: ConnectionHandlers) {}

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.downSinceMs = Date.now();
    this.open();
  }

  /** Closes the socket and stops reconnecting. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.stopTimers();
    if (socket === null || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const bound = setTimeout(() => { socket.terminate(); resolve(); }, 2_000);
      socket.once('close', () => { clearTimeout(bound); resolve(); });
      socket.close(1000);
    });
  }

  /** Drops the current socket as if the network had (tests, and a stale socket): a reconnect follows. */
  drop(reason: CloseReason = 'stale', detail = ''): void {
    const socket = this.socket;
    if (socket === null) return;
    this.ended(socket, reason, detail);
    socket.terminate();
  }

  private open(): void {
    const { url } = this.options;
    // No compression: it costs CPU and latency on every frame for bandwidth a tick feed has.
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 10_000 });
    this.socket = socket;
    let opened = false;
    socket.on('open', () => {
      opened = true;
      for (const s of this.options.subscriptions) socket.send(s);
      const downMs = this.downSinceMs === 0 ? 0 : Date.now() - this.downSinceMs;
      const attempt = this.attempt;
      this.attempt = 0;
      this.downSinceMs = 0;
      this.lastActivityMs = Date.now();
      this.startTimers(socket);
      this.handlers.onOpen(url, downMs, attempt);
    });
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      const recvUs = Math.round(wallClockMs() * 1000);
      this.lastActivityMs = Date.now();
      const frame = isBinary ? '' : data.toString();
      if (isBinary || this.options.isPong(frame)) return;
      this.handlers.onFrame(frame, recvUs);
    });
    socket.on('ping', () => { this.lastActivityMs = Date.now(); });
    socket.on('pong', () => { this.lastActivityMs = Date.now(); });
    socket.on('unexpected-response', (_req, res) => {
      this.ended(socket, 'handshake failed', `HTTP ${res.statusCode ?? '?'}`);
      socket.terminate();
    });
    socket.on('error', (err) => {
      this.ended(socket, opened ? 'error' : 'handshake failed', err.message);
    });
    socket.on('close', (code, reason) => {
      this.ended(socket, 'closed by the venue', `code ${code}${reason.length > 0 ? ` ${reason.toString()}` : ''}`);
    });
  }

  /** The end of `socket`, reported once (error and close both come): schedules the next attempt. */
  private ended(socket: WebSocket, reason: CloseReason, detail: string): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.stopTimers();
    if (this.downSinceMs === 0) this.downSinceMs = Date.now();
    if (this.closing) return;
    const retryInMs = reconnectDelayMs(this.attempt++, this.options.reconnectInitialMs, this.options.reconnectMaxMs);
    this.handlers.onClose(reason, detail, retryInMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closing) this.open();
    }, retryInMs);
  }

  private startTimers(socket: WebSocket): void {
    const { staleMs, ping } = this.options;
    // A WebSocket ping a third of the stale bound apart: a live venue answers well within it.
    this.watchTimer = setInterval(() => {
      if (Date.now() - this.lastActivityMs > staleMs) {
        this.log.warn({ url: this.options.url, silentMs: Date.now() - this.lastActivityMs }, 'connection silent: dropping it');
        this.drop('stale', `nothing for ${staleMs} ms`);
        return;
      }
      if (socket.readyState === WebSocket.OPEN) socket.ping();
    }, Math.max(250, Math.floor(staleMs / 3)));
    if (ping !== null) {
      this.pingTimer = setInterval(() => { if (socket.readyState === WebSocket.OPEN) socket.send(ping.text); }, ping.everyMs);
    }
  }

  private stopTimers(): void {
    if (this.watchTimer !== null) clearInterval(this.watchTimer);
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.watchTimer = null;
    this.pingTimer = null;
  }
}
