import { createRequire } from 'node:module';
import { SystemdNotifier } from '../../src/obs/systemd.js';

/**
 * A SystemdNotifier in a process of its own, driven by the parent over IPC, so that a test can
 * block this event loop. Reads NOTIFY_SOCKET and WATCHDOG_USEC from its environment. Markers
 * (`MARK=<name>`) go to the same socket from a second socket, in order with the notifier's
 * datagrams, so the parent can see what arrived between two of them.
 *
 * Messages: {unhealthy: true|false}, {stallMs: N} (busy loop), {stop: true}.
 */
const unixDgram = createRequire(import.meta.url)('unix-dgram') as {
  createSocket(type: 'unix_dgram'): { send(b: Buffer, o: number, l: number, p: string, cb: (err?: Error) => void): void; close(): void };
};
const path = process.env.NOTIFY_SOCKET!;
const markSocket = unixDgram.createSocket('unix_dgram');
const mark = (name: string): void => {
  const buf = Buffer.from(`MARK=${name}`);
  markSocket.send(buf, 0, buf.length, path, (err) => { if (err) throw err; });
};

const log = {
  info: (obj: object, msg: string) => process.stderr.write(`${JSON.stringify({ level: 'info', ...obj, msg })}\n`),
  warn: (obj: object, msg: string) => process.stderr.write(`${JSON.stringify({ level: 'warn', ...obj, msg })}\n`),
};
const notifier = new SystemdNotifier({ log });
let unhealthy = false;
notifier.ready('ready: test child');
notifier.startWatchdog(() => (unhealthy ? 'told to be unhealthy' : null));
mark('started');

process.on('message', (m: { unhealthy?: boolean; stallMs?: number; stop?: boolean }) => {
  if (m.unhealthy === true) { unhealthy = true; mark('unhealthy-begin'); }
  if (m.unhealthy === false) { mark('unhealthy-end'); unhealthy = false; }
  if (m.stallMs !== undefined) {
    mark('stall-begin');
    const until = Date.now() + m.stallMs;
    while (Date.now() < until) { /* the stalled event loop */ }
    mark('stall-end');
  }
  if (m.stop === true) {
    notifier.stopping('stopping: test child');
    notifier.close();
    markSocket.close();
    process.disconnect();
  }
});
