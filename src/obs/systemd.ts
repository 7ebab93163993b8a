import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { performance } from 'node:perf_hooks';

/**
 * The systemd notify protocol (sd_notify(3)): newline-separated `KEY=VALUE` lines in one
 * AF_UNIX datagram to the socket named by `NOTIFY_SOCKET`. Node has no AF_UNIX datagram socket,
 * so the datagram goes through `unix-dgram`, a small addon built by node-gyp against Node's own
 * headers (no libsystemd). That addon addresses a socket by path only: it copies the name with
 * strncpy and passes the whole sockaddr_un, so an abstract name ('@' in NOTIFY_SOCKET) reaches
 * the wrong address. systemd's service managers (system and user) give a path; an abstract
 * socket or a `vsock:` address is reported once and the notifier stays off.
 */

/** The part of a pino logger the notifier uses. */
export interface NotifierLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** A socket of `unix-dgram`: `send` calls back synchronously, with a negative errno on failure. */
interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, callback: (err?: Error & { code?: unknown }) => void): void;
  close(): void;
  on(event: 'error', listener: (err: Error) => void): void;
}
interface UnixDgram { createSocket(type: 'unix_dgram'): DgramSocket }

/** sockaddr_un.sun_path is 108 bytes with its terminating NUL; the addon cuts longer paths. */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * Why the notifier cannot use `NOTIFY_SOCKET` (null: it can). Exported for the tests.
 */
export function unsupportedNotifySocket(address: string): string | null {
  if (address.startsWith('@')) return 'an abstract socket (the datagram transport, unix-dgram, addresses paths only)';
  if (!address.startsWith('/')) return 'not an absolute path (vsock: and relative addresses are not supported)';
  if (Buffer.byteLength(address) > MAX_SOCKET_PATH_BYTES) return `longer than ${MAX_SOCKET_PATH_BYTES} bytes`;
  return null;
}

/**
 * The watchdog interval for this process from `WATCHDOG_USEC` and `WATCHDOG_PID` (ms, 0: none).
 * systemd sets WATCHDOG_PID to the main process; a child that inherited the variables must not
 * ping for it.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number {
  const usec = Number(env.WATCHDOG_USEC ?? '');
  if (!Number.isSafeInteger(usec) || usec <= 0) return 0;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return 0;
  return usec / 1000;
}

export interface SystemdNotifierOptions {
  log: NotifierLog;
  /** Read once, here; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  pid?: number;
}

/**
 * Tells systemd about the processor: READY=1, STATUS=, WATCHDOG=1 while healthy, STOPPING=1.
 * Without `NOTIFY_SOCKET` (a run outside systemd, the tests) every method does nothing. A send
 * that fails is logged once and never thrown: telling systemd is worth less than processing.
 */
export class SystemdNotifier {
  /** NOTIFY_SOCKET's path, null when the notifier is off. */
  readonly socketPath: string | null;
  /** systemd's watchdog timeout for this process (ms), 0 when it set none. */
  readonly watchdogMs: number;
  private socket: DgramSocket | null = null;
  private readonly log: NotifierLog;
  private sendFailed = false;
  private watchdogTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Why the last watchdog tick withheld its ping (null: it pinged). */
  private withheld: string | null = null;

  constructor(options: SystemdNotifierOptions) {
    const env = options.env ?? process.env;
    this.log = options.log;
    const address = env.NOTIFY_SOCKET;
    let path: string | null = null;
    if (address !== undefined && address !== '') {
      const unsupported = unsupportedNotifySocket(address);
      if (unsupported === null) path = address;
      else this.log.warn({ notifySocket: address }, `NOTIFY_SOCKET is ${unsupported}: systemd is not notified`);
    }
    this.socketPath = path;
    this.watchdogMs = path === null ? 0 : watchdogIntervalMs(env, options.pid ?? process.pid);
  }

  get enabled(): boolean {
    return this.socketPath !== null;
  }

  /** Why the last watchdog tick withheld its ping; null when it pinged (or none ran yet). */
  get withheldReason(): string | null {
    return this.withheld;
  }

  /** READY=1: start-up is complete; systemd's watchdog starts counting from here. */
  ready(status: string): void {
    this.send(`READY=1\nSTATUS=${oneLine(status)}`);
  }

  /** STATUS=: one line for `systemctl status`. */
  status(text: string): void {
    if (!this.stopped) this.send(`STATUS=${oneLine(text)}`);
  }

  /**
   * Pings WATCHDOG=1 every half of systemd's timeout (sd_watchdog_enabled(3)'s advice), on this
   * thread's event loop, so a blocked loop stops the pings by itself, and only while `health()`
   * returns null (else the reason, logged on the change and shown as the STATUS). A tick that
   * runs more than a quarter of the timeout late is not sent either: the loop was blocked for
   * that long (5 s under the unit's WatchdogSec=20; a run at 5,000 events/s on 2 shared cores
   * had 0.26 s at most, see deploy/himari-l0.service), which a healthy run never comes near, and
   * a loop that gets a turn only between long stalls (a GC spiral near the heap limit) must not
   * be kept alive by the turns it gets. Does nothing without a watchdog.
   */
  startWatchdog(health: () => string | null): void {
    if (this.watchdogMs === 0 || this.watchdogTimer !== null || this.stopped) return;
    const intervalMs = this.watchdogMs / 2;
    const lateBoundMs = this.watchdogMs / 4;
    let expected = performance.now() + intervalMs;
    this.watchdogTimer = setInterval(() => {
      const now = performance.now();
      const lateMs = now - expected;
      expected = now + intervalMs;
      const why = lateMs > lateBoundMs ? `event loop blocked: the watchdog tick ran ${Math.round(lateMs)} ms late` : health();
      if (why === null) {
        if (this.withheld !== null) this.log.info({ was: this.withheld }, 'healthy again: systemd watchdog pings resume');
        this.withheld = null;
        this.send('WATCHDOG=1');
        return;
      }
      if (this.withheld === null) this.log.warn({ why, watchdogMs: this.watchdogMs }, 'systemd watchdog ping withheld: systemd restarts the processor if this lasts');
      this.withheld = why;
      this.send(`STATUS=${oneLine(`unhealthy, watchdog withheld: ${why}`)}`);
    }, intervalMs);
    this.watchdogTimer.unref();
  }

  /** STOPPING=1: the stop has begun; the watchdog stops pinging (systemd stops watching). */
  stopping(status: string): void {
    if (this.watchdogTimer !== null) { clearInterval(this.watchdogTimer); this.watchdogTimer = null; }
    if (this.stopped) return;
    this.send(`STOPPING=1\nSTATUS=${oneLine(status)}`);
    this.stopped = true;
  }

  /** Closes the socket (its poll handle would keep the event loop alive). */
  close(): void {
    if (this.watchdogTimer !== null) { clearInterval(this.watchdogTimer); this.watchdogTimer = null; }
    this.stopped = true;
    try { this.socket?.close(); } catch { /* already closed */ }
    this.socket = null;
  }

  private send(message: string): void {
    if (this.socketPath === null) return;
    try {
      this.socket ??= openSocket((err) => this.failed(err));
      const buf = Buffer.from(message);
      this.socket.send(buf, 0, buf.length, this.socketPath, (err) => { if (err !== undefined) this.failed(err); });
    } catch (err) {
      this.failed(err as Error);
    }
  }

  private failed(err: Error & { code?: unknown }): void {
    if (this.sendFailed) return;
    this.sendFailed = true;
    this.log.warn({ err: describeSendError(err), notifySocket: this.socketPath }, 'notifying systemd failed (said once; later failures are not logged)');
  }
}

function openSocket(onError: (err: Error) => void): DgramSocket {
  // Loaded on first use, so a run outside systemd never needs the addon.
  const unixDgram = createRequire(import.meta.url)('unix-dgram') as UnixDgram;
  const socket = unixDgram.createSocket('unix_dgram');
  socket.on('error', onError);
  return socket;
}

/** unix-dgram reports `send -111`: name the errno. */
function describeSendError(err: Error & { code?: unknown }): string {
  const code = err.code;
  if (typeof code === 'number' && code < 0) {
    const name = Object.entries(osConstants.errno).find(([, n]) => n === -code)?.[0];
    if (name !== undefined) return `${name} (${err.message})`;
  }
  return err.message;
}

/** A STATUS value is one line: a newline would start another assignment. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
