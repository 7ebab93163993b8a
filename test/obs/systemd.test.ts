import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { SystemdNotifier, unsupportedNotifySocket, watchdogIntervalMs } from '../../src/obs/systemd.js';

const CHILD = fileURLToPath(new URL('../helpers/notify-child.js', import.meta.url));

interface ServerSocket { bind(path: string): void; close(): void; on(e: 'error', l: (err: Error) => void): void }
const unixDgram = createRequire(import.meta.url)('unix-dgram') as {
  createSocket(type: 'unix_dgram', listener?: (buf: Buffer) => void): ServerSocket;
};

/** A fake NOTIFY_SOCKET: a bound datagram socket keeping what it receives, in order. */
class NotifySocket {
  readonly received: string[] = [];
  readonly path: string;
  private readonly socket: ServerSocket;
  constructor(dir: string, name: string) {
    this.path = join(dir, name);
    this.socket = unixDgram.createSocket('unix_dgram', (buf) => { this.received.push(buf.toString()); });
    this.socket.on('error', (err) => { throw err; });
    this.socket.bind(this.path);
  }
  async waitFor(what: string, predicate: (received: readonly string[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.received)) {
      if (Date.now() > deadline) throw new Error(`no ${what} after ${timeoutMs} ms; received: ${JSON.stringify(this.received)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  /** Datagrams strictly between two markers (the first of each). */
  between(from: string, to: string): string[] {
    const a = this.received.indexOf(`MARK=${from}`);
    const b = this.received.indexOf(`MARK=${to}`);
    assert.ok(a >= 0 && b > a, `markers ${from} then ${to} received: ${JSON.stringify(this.received)}`);
    return this.received.slice(a + 1, b);
  }
  close(): void { this.socket.close(); }
}

const count = (list: readonly string[], datagram: string, from = 0): number => list.slice(from).filter((d) => d === datagram).length;
const isWatchdog = (d: string) => d === 'WATCHDOG=1';

interface LogLine { level: string; obj: object; msg: string }
const recordingLog = () => {
  const lines: LogLine[] = [];
  return { lines, info: (obj: object, msg: string) => lines.push({ level: 'info', obj, msg }), warn: (obj: object, msg: string) => lines.push({ level: 'warn', obj, msg }) };
};

describe('SystemdNotifier', () => {
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'himari-notify-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('does nothing without NOTIFY_SOCKET', () => {
    const log = recordingLog();
    const n = new SystemdNotifier({ log, env: { WATCHDOG_USEC: '200000' } });
    assert.equal(n.enabled, false);
    assert.equal(n.watchdogMs, 0);
    n.ready('ready'); n.status('x'); n.startWatchdog(() => null); n.stopping('bye'); n.close();
    assert.deepEqual(log.lines, []);
  });

  it('refuses the addresses its transport cannot reach, saying why, and stays off', () => {
    assert.match(unsupportedNotifySocket('@himari-notify')!, /abstract/);
    assert.match(unsupportedNotifySocket('vsock:2:1234')!, /absolute path/);
    assert.match(unsupportedNotifySocket(`/${'x'.repeat(107)}`)!, /longer than 107/);
    assert.equal(unsupportedNotifySocket('/run/systemd/notify'), null);
    const log = recordingLog();
    const n = new SystemdNotifier({ log, env: { NOTIFY_SOCKET: '@himari-notify', WATCHDOG_USEC: '200000' } });
    assert.equal(n.enabled, false);
    assert.equal(n.watchdogMs, 0);
    n.ready('ready');
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0]!.msg, /abstract socket/);
  });

  it('pings only for the process WATCHDOG_PID names', () => {
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '20000000' }, 42), 20_000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '42' }, 42), 20_000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '43' }, 42), 0);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 42), 0);
    assert.equal(watchdogIntervalMs({}, 42), 0);
  });

  it('sends to the socket, and a send that fails is logged once and never thrown', async () => {
    const socket = new NotifySocket(dir, 'direct.sock');
    try {
      const n = new SystemdNotifier({ log: recordingLog(), env: { NOTIFY_SOCKET: socket.path } });
      n.ready('ready: line one\nline two');
      n.status('busy');
      n.stopping('bye');
      n.status('after the stop: not sent');
      n.close();
      await socket.waitFor('3 datagrams', (r) => r.length >= 3);
      assert.deepEqual(socket.received, ['READY=1\nSTATUS=ready: line one line two', 'STATUS=busy', 'STOPPING=1\nSTATUS=bye']);
    } finally {
      socket.close();
    }
    const log = recordingLog();
    const gone = new SystemdNotifier({ log, env: { NOTIFY_SOCKET: join(dir, 'nobody-listens.sock') } });
    gone.ready('ready'); gone.status('a'); gone.status('b');
    gone.close();
    assert.equal(log.lines.length, 1);
    assert.equal(log.lines[0]!.level, 'warn');
    assert.match(JSON.stringify(log.lines[0]!.obj), /ENOENT/);
  });

  describe('in a child process with WATCHDOG_USEC=200000', { timeout: 60_000 }, () => {
    let socket: NotifySocket;
    let child: ChildProcess;
    let stderr = '';
    before(async () => {
      socket = new NotifySocket(dir, 'child.sock');
      child = fork(CHILD, [], { env: { ...process.env, NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: '200000' }, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
      child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      await socket.waitFor('start', (r) => r.includes('MARK=started'));
    });
    after(() => { child.kill('SIGKILL'); socket.close(); });

    it('says READY=1 first, then pings WATCHDOG=1', async () => {
      await socket.waitFor('3 pings', (r) => count(r, 'WATCHDOG=1') >= 3);
      assert.equal(socket.received[0], 'READY=1\nSTATUS=ready: test child');
    });

    it('stops pinging while the event loop is blocked, and resumes after', async () => {
      child.send({ stallMs: 800 });
      await socket.waitFor('the stall', (r) => r.includes('MARK=stall-end'));
      assert.deepEqual(socket.between('stall-begin', 'stall-end').filter(isWatchdog), []);
      const end = socket.received.indexOf('MARK=stall-end');
      await socket.waitFor('pings after the stall', (r) => count(r, 'WATCHDOG=1', end) >= 2);
      // The tick that ran late is withheld and says why.
      assert.ok(socket.received.slice(end).some((d) => d.startsWith('STATUS=unhealthy, watchdog withheld: event loop blocked')), JSON.stringify(socket.received.slice(end)));
    });

    it('stops pinging while the health function says unhealthy, and resumes after', async () => {
      child.send({ unhealthy: true });
      // Withheld ticks announce themselves: wait for three, so pings would have had their turn.
      await socket.waitFor('withheld ticks', (r) => {
        const begin = r.indexOf('MARK=unhealthy-begin');
        return begin >= 0 && r.slice(begin).filter((d) => d === 'STATUS=unhealthy, watchdog withheld: told to be unhealthy').length >= 3;
      });
      child.send({ unhealthy: false });
      await socket.waitFor('the end of unhealthy', (r) => r.includes('MARK=unhealthy-end'));
      assert.deepEqual(socket.between('unhealthy-begin', 'unhealthy-end').filter(isWatchdog), []);
      const end = socket.received.indexOf('MARK=unhealthy-end');
      await socket.waitFor('pings after unhealthy', (r) => count(r, 'WATCHDOG=1', end) >= 2);
      assert.match(stderr, /systemd watchdog ping withheld/);
      assert.match(stderr, /healthy again/);
    });

    it('says STOPPING=1 last: no ping after it', async () => {
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.send({ stop: true });
      await exited;
      const stopping = socket.received.indexOf('STOPPING=1\nSTATUS=stopping: test child');
      assert.ok(stopping > 0, JSON.stringify(socket.received.slice(-5)));
      assert.deepEqual(socket.received.slice(stopping + 1), []);
    });
  });
});
