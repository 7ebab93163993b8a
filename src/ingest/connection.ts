import WebSocket from 'ws';
import type { Logger } from 'pino';
import { wallClockMs } from '../obs/clock.js';
import { RateWindow, type Rate } from './rate-limit.js';

/** Why a connection ended, as the gateway reports the gap it left. */
export type CloseReason = 'closed by the venue' | 'error' | 'stale' | 'handshake failed';

/** What a FeedConnection tells its owner. */
export interface ConnectionHandlers {
  /** A text frame (not a ping answer), with the time it was received, µs since the epoch. */
  onFrame(frame: string, recvUs: number): void;
  /** Connected and subscribed; `downMs` is how long the feed was without a connection before (0 the first time). */
  onOpen(url: string, downMs: number, attempt: number): void;
  /** The connection ended; a reconnect follows in `retryInMs` unless the feed is closing. */
  onClose(reason: CloseReason, detail: string, retryInMs: number): void;
  /** The connection was replaced by an overlapping one before its age limit: no gap. */
  onReplaced?(handover: Handover): void;
  /** A connection attempt or a request waits `waitMs` for the venue's limit. */
  onRateLimited?(limit: 'connections' | 'requests', waitMs: number): void;
}

/** How a replacement went: frames both connections delivered (handed on once), and how long they overlapped. */
export interface Handover {
  overlapMs: number;
  duplicates: number;
  /** false: no frame arrived on both within HANDOVER_MAX_MS (a quiet feed): switched without proof of overlap. */
  aligned: boolean;
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
  /** Replace each connection by an overlapping one after this long (the venue's age limit less a margin); 0: never. */
  replaceAfterMs: number;
  /** Connection attempts to the venue: shared by the feeds that connect to its host, or null for none. */
  connectGate: RateWindow | null;
  /** Frames each connection may send (subscriptions, `send`), or null for no limit. */
  requestRate: Rate | null;
}

/** Longest a replacement waits for a frame both connections delivered before it switches anyway. */
const HANDOVER_MAX_MS = 30_000;
/** A replacement that failed to open is tried again this much later. */
const REPLACE_RETRY_MS = 10_000;
/**
 * Frames of the old connection a replacement remembers (the newest): enough for far more than
 * the few milliseconds two connections to one venue drift apart, bounded if none overlap.
 */
const SEEN_ON_OLD_MAX = 50_000;

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
 * A replacement under way: the new connection's frames are held until the two streams are seen
 * to overlap (a frame one delivered is also on the other, text for text: the venue serializes a
 * message once for every subscriber), then the new one's frames the old did not deliver are
 * handed on, in its order, and the old is closed.
 */
class Replacement {
  readonly startedMs = Date.now();
  /** Frames the old connection handed on since the new one was started (the newest SEEN_ON_OLD_MAX). */
  readonly seenOnOld = new Set<string>();
  /** Frames of the new connection not (yet) delivered by the old, in order, with their receive times. */
  readonly held: Array<{ frame: string; recvUs: number }> = [];
  readonly heldSet = new Set<string>();
  duplicates = 0;
  aligned = false;
  timer: NodeJS.Timeout | null = null;

  constructor(readonly socket: WebSocket, readonly outbox: Outbox) {}

  /** A frame the old connection handed on. */
  sawOnOld(frame: string): void {
    this.seenOnOld.add(frame);
    // A Set iterates in insertion order: its first entry is the oldest.
    if (this.seenOnOld.size > SEEN_ON_OLD_MAX) this.seenOnOld.delete(this.seenOnOld.values().next().value!);
  }
}

/**
 * The frames one socket sends, within the venue's request limit (its budget is the connection's:
 * venues count requests per connection): what the limit does not allow now waits, in order.
 */
class Outbox {
  private readonly queue: string[] = [];
  private readonly window: RateWindow | null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly socket: WebSocket, rate: Rate | null, private readonly onWait: (waitMs: number) => void) {
    this.window = rate === null ? null : new RateWindow(rate);
  }

  send(frame: string): void {
    this.queue.push(frame);
    if (this.timer === null) this.pump();
  }

  /** Frames not sent: the socket ended (its replacement or the reconnect subscribes anew). */
  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }

  private pump(): void {
    this.timer = null;
    while (this.queue.length > 0) {
      if (this.socket.readyState !== WebSocket.OPEN) return this.close();
      const wait = this.window === null ? 0 : this.window.take(Date.now());
      if (wait > 0) {
        this.onWait(wait);
        this.timer = setTimeout(() => this.pump(), wait);
        return;
      }
      this.socket.send(this.queue.shift()!);
    }
  }
}

/**
 * One venue WebSocket that stays up: subscribes on every open, answers and sends pings, drops a
 * socket that went silent (`staleMs`: a half-open TCP connection otherwise looks like a quiet
 * market for as long as the kernel keeps it), reconnects with capped, jittered backoff until
 * closed, and replaces a connection before the venue's age limit with an overlapping one so that
 * no message is lost or handed on twice. Frames are handed on as text with their receive time.
 * Connection attempts wait for the venue's connection limit (`connectGate`, shared by every feed
 * of the host), frames sent for its request limit: a reconnect storm or a burst of
 * resubscriptions slows down instead of getting the address banned.
 */
export class FeedConnection {
  private socket: WebSocket | null = null;
  /** The current socket's frames, sent within the venue's request limit. */
  private outbox: Outbox | null = null;
  private replacement: Replacement | null = null;
  private closing = false;
  /** Failed attempts since the last successful open. */
  private attempt = 0;
  /** When the feed last lost its connection (ms, 0 while connected or before the first open). */
  private downSinceMs = 0;
  private lastActivityMs = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private replaceTimer: NodeJS.Timeout | null = null;
  /**
   * After a handover on a frame the old connection had delivered first (it was ahead): its
   * frames, which the new one delivers again until it gets past the old one's last; null after.
   */
  private catchUp: Replacement | null = null;

  constructor(private readonly options: ConnectionOptions, private readonly log: Logger, private readonly handlers: ConnectionHandlers) {}

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.downSinceMs = Date.now();
    this.open();
  }

  /** Closes the socket (and a replacement under way) and stops reconnecting. */
  async close(): Promise<void> {
    this.closing = true;
    for (const t of [this.retryTimer, this.replaceTimer, this.replacement?.timer ?? null]) if (t !== null) clearTimeout(t);
    this.retryTimer = null;
    this.replaceTimer = null;
    this.replacement?.outbox.close();
    this.replacement?.socket.terminate();
    this.replacement = null;
    this.outbox?.close();
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

  /**
   * Sends a text frame on the open connection, as soon as the venue's request limit allows; false
   * when there is none (the resubscription a reconnect makes covers it).
   */
  send(frame: string): boolean {
    const socket = this.socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN || this.outbox === null) return false;
    this.outbox.send(frame);
    return true;
  }

  /** 0 when the venue's connection limit allows an attempt now (and counts it), else how long until it does. */
  private connectWaitMs(): number {
    const wait = this.options.connectGate?.take(Date.now()) ?? 0;
    if (wait > 0) this.handlers.onRateLimited?.('connections', wait);
    return wait;
  }

  private newOutbox(socket: WebSocket): Outbox {
    return new Outbox(socket, this.options.requestRate, (wait) => this.handlers.onRateLimited?.('requests', wait));
  }

  /** Starts replacing the connection now (what the age limit's timer does). */
  replace(): void {
    if (this.closing || this.socket === null || this.replacement !== null) return;
    const wait = this.connectWaitMs();
    if (wait > 0) {
      if (this.replaceTimer !== null) clearTimeout(this.replaceTimer);
      this.replaceTimer = setTimeout(() => { this.replaceTimer = null; this.replace(); }, wait);
      return;
    }
    const socket = this.connect();
    const r = new Replacement(socket, this.newOutbox(socket));
    this.replacement = r;
    socket.on('open', () => {
      for (const s of this.options.subscriptions) r.outbox.send(s);
      r.timer = setTimeout(() => this.switchTo(r), HANDOVER_MAX_MS);
    });
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (this.replacement !== r || isBinary) return;
      const recvUs = Math.round(wallClockMs() * 1000);
      const frame = data.toString();
      if (this.options.isPong(frame)) return;
      if (r.seenOnOld.has(frame)) {
        // The old connection handed this one on already: the streams overlap from here, and the
        // new one's next frames may be ones the old one delivered too (it was ahead).
        r.duplicates++;
        r.aligned = true;
        this.switchTo(r);
        this.catchUp = r;
        return;
      }
      r.held.push({ frame, recvUs });
      r.heldSet.add(frame);
    });
    const failed = (detail: string) => {
      if (this.replacement !== r) return;
      if (r.timer !== null) clearTimeout(r.timer);
      r.outbox.close();
      this.replacement = null;
      this.log.warn({ url: this.options.url, detail, retryInMs: REPLACE_RETRY_MS }, 'replacement connection failed: the current one stays');
      this.scheduleReplace(REPLACE_RETRY_MS);
    };
    socket.on('unexpected-response', (_req, res) => { failed(`HTTP ${res.statusCode ?? '?'}`); socket.terminate(); });
    socket.on('error', (err) => failed(err.message));
    socket.on('close', (code) => failed(`closed (${code})`));
  }

  private connect(): WebSocket {
    // No compression: it costs CPU and latency on every frame for bandwidth a tick feed has.
    return new WebSocket(this.options.url, { perMessageDeflate: false, handshakeTimeout: 10_000 });
  }

  private open(): void {
    const wait = this.connectWaitMs();
    if (wait > 0) return this.scheduleOpen(wait);
    const { url } = this.options;
    const socket = this.connect();
    this.socket = socket;
    const outbox = this.newOutbox(socket);
    this.outbox = outbox;
    let opened = false;
    socket.on('open', () => {
      opened = true;
      for (const s of this.options.subscriptions) outbox.send(s);
      const downMs = this.downSinceMs === 0 ? 0 : Date.now() - this.downSinceMs;
      const attempt = this.attempt;
      this.attempt = 0;
      this.downSinceMs = 0;
      this.activate(socket);
      this.handlers.onOpen(url, downMs, attempt);
    });
    this.listen(socket);
    socket.on('error', (err) => {
      this.ended(socket, opened ? 'error' : 'handshake failed', err.message);
    });
    socket.on('unexpected-response', (_req, res) => {
      this.ended(socket, 'handshake failed', `HTTP ${res.statusCode ?? '?'}`);
      socket.terminate();
    });
  }

  /** The handlers of a socket that is (or becomes) the active one. */
  private listen(socket: WebSocket): void {
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (this.socket !== socket) return;
      const recvUs = Math.round(wallClockMs() * 1000);
      this.lastActivityMs = Date.now();
      if (isBinary) return;
      const frame = data.toString();
      if (this.options.isPong(frame)) return;
      const behind = this.catchUp;
      if (behind !== null) {
        if (behind.seenOnOld.has(frame)) {
          behind.duplicates++;
          return;
        }
        // Past the old connection's last frame: every frame from here is new.
        this.catchUp = null;
      }
      // From the moment the new connection is started: the venue may send it a message before
      // its handshake completes here, while the old one is handing the same message on.
      const r = this.replacement;
      if (r !== null) {
        r.sawOnOld(frame);
        if (r.heldSet.has(frame)) {
          // The new connection had it first: handed on now, from here, once.
          r.heldSet.delete(frame);
          r.held.splice(r.held.findIndex((h) => h.frame === frame), 1);
          r.duplicates++;
          r.aligned = true;
          this.handlers.onFrame(frame, recvUs);
          this.switchTo(r);
          return;
        }
      }
      this.handlers.onFrame(frame, recvUs);
    });
    socket.on('ping', () => { if (this.socket === socket) this.lastActivityMs = Date.now(); });
    socket.on('pong', () => { if (this.socket === socket) this.lastActivityMs = Date.now(); });
    socket.on('close', (code, reason) => {
      this.ended(socket, 'closed by the venue', `code ${code}${reason.length > 0 ? ` ${reason.toString()}` : ''}`);
    });
  }

  private activate(socket: WebSocket): void {
    this.lastActivityMs = Date.now();
    this.startTimers(socket);
    this.scheduleReplace(this.options.replaceAfterMs);
  }

  private scheduleReplace(afterMs: number): void {
    if (this.replaceTimer !== null) clearTimeout(this.replaceTimer);
    this.replaceTimer = null;
    if (this.options.replaceAfterMs <= 0 || this.closing) return;
    this.replaceTimer = setTimeout(() => { this.replaceTimer = null; this.replace(); }, afterMs);
  }

  /** The new connection takes over: its frames the old one did not deliver go on, in its order; the old one is closed. */
  private switchTo(r: Replacement): void {
    if (this.replacement !== r) return;
    this.replacement = null;
    if (r.timer !== null) clearTimeout(r.timer);
    const old = this.socket;
    this.stopTimers();
    this.outbox?.close();
    this.socket = r.socket;
    this.outbox = r.outbox;
    r.socket.removeAllListeners('message');
    r.socket.removeAllListeners('close');
    r.socket.removeAllListeners('error');
    r.socket.on('error', (err) => this.ended(r.socket, 'error', err.message));
    this.listen(r.socket);
    for (const h of r.held) this.handlers.onFrame(h.frame, h.recvUs);
    this.activate(r.socket);
    old?.removeAllListeners('close');
    old?.close(1000);
    this.catchUp = null;
    const handover: Handover = { overlapMs: Date.now() - r.startedMs, duplicates: r.duplicates, aligned: r.aligned };
    this.log.info({ url: this.options.url, ...handover }, r.aligned ? 'connection replaced by an overlapping one' : 'connection replaced without a frame seen on both (a quiet feed)');
    this.handlers.onReplaced?.(handover);
  }

  /** The end of `socket`, reported once (error and close both come): schedules the next attempt. */
  private ended(socket: WebSocket, reason: CloseReason, detail: string): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.outbox?.close();
    this.outbox = null;
    this.catchUp = null;
    this.stopTimers();
    if (this.replaceTimer !== null) clearTimeout(this.replaceTimer);
    this.replaceTimer = null;
    // A replacement under way would hand on frames after a gap it cannot see: it goes too.
    if (this.replacement !== null) {
      if (this.replacement.timer !== null) clearTimeout(this.replacement.timer);
      this.replacement.outbox.close();
      this.replacement.socket.terminate();
      this.replacement = null;
    }
    if (this.downSinceMs === 0) this.downSinceMs = Date.now();
    if (this.closing) return;
    const retryInMs = reconnectDelayMs(this.attempt++, this.options.reconnectInitialMs, this.options.reconnectMaxMs);
    this.handlers.onClose(reason, detail, retryInMs);
    this.scheduleOpen(retryInMs);
  }

  private scheduleOpen(afterMs: number): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closing) this.open();
    }, afterMs);
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
