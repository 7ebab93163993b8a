import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TcpProxy } from '../../helpers/tcp-proxy.js';

/**
 * A broker of the suite's own for restarts and network faults (the machine's 9092 broker is
 * shared and never stopped): scripts/kafka.sh keys its data, pid and log by port. Besides its
 * listener on PORT it has one on PROXIED_PORT that advertises PROXY_PORT, where the suite's TCP
 * proxy forwards to it: a client that bootstraps through the proxy reaches the broker, group
 * coordinator included, only through it.
 */
const PORT = 9192;
const CONTROLLER_PORT = 9193;
const PROXIED_PORT = 9195;
const PROXY_PORT = 9196;
export const SECOND_BROKER = `127.0.0.1:${PORT}`;
/** Where a TCP proxy in front of the second broker must listen, and what it forwards to. */
export const SECOND_BROKER_PROXY = { port: PROXY_PORT, upstreamPort: PROXIED_PORT, brokers: `127.0.0.1:${PROXY_PORT}` };

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const STATE_DIR = process.env.HIMARI_STATE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'himari-l0');

function kafkaSh(command: 'start' | 'stop'): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('bash', [join(ROOT, 'scripts/kafka.sh'), command], {
      env: { ...process.env, HIMARI_KAFKA_PORT: String(PORT), HIMARI_KAFKA_CONTROLLER_PORT: String(CONTROLLER_PORT),
        HIMARI_KAFKA_PROXIED_PORT: String(PROXIED_PORT), HIMARI_KAFKA_PROXY_PORT: String(PROXY_PORT) }, timeout: 240_000,
    }, (err, _stdout, stderr) => (err ? reject(new Error(`kafka.sh ${command} on ${PORT}: ${err.message}\n${stderr}`)) : resolve()));
  });
}

/** Starts the second broker, or reuses it when it is already healthy; resolves once it answers. */
export function startSecondBroker(): Promise<void> {
  return kafkaSh('start');
}

/** A clean stop: SIGTERM, the broker closes its logs and leaves the group coordinator cleanly. */
export function stopSecondBroker(): Promise<void> {
  return kafkaSh('stop');
}

/** A crash: kill -9 of the broker's JVM (the pid kafka.sh recorded for port 9192). */
export async function killSecondBroker(): Promise<void> {
  const pid = Number(readFileSync(join(STATE_DIR, 'kafka', `broker-${PORT}.pid`), 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no pid for the broker on ${PORT}`);
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`broker ${pid} still alive 30 s after SIGKILL`);
}

/**
 * The second broker behind the suite's TCP proxy, for the enclosing `describe`: started (or
 * reused) before its tests, the proxy listening where the proxied listener advertises; both
 * stopped after. Clients that bootstrap from SECOND_BROKER_PROXY.brokers reach it only through
 * the proxy.
 */
export function secondBrokerBehindProxy(): TcpProxy {
  const proxy = new TcpProxy('127.0.0.1', SECOND_BROKER_PROXY.upstreamPort);
  before(async () => {
    await startSecondBroker();
    await proxy.listen(SECOND_BROKER_PROXY.port);
  });
  after(async () => {
    await proxy.close();
    await stopSecondBroker();
  });
  return proxy;
}
