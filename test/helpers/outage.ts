import { execFileSync, execSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Stops and starts the machine's Redis and PostgreSQL for outage tests, with the same commands
 * the environment uses to start them (scripts/services.sh does the same on a fresh machine).
 */
export function stopRedis(): void {
  try { execSync('redis-cli -h 127.0.0.1 -p 6379 shutdown nosave', { stdio: 'ignore' }); } catch { /* already down: the connection drops */ }
}

export function startRedis(): void {
  execFileSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', '6379', '--save', '', '--appendonly', 'no',
    '--dir', '/var/lib/redis', '--logfile', '/var/log/redis/ci.log'], { stdio: 'ignore' });
}

function pgVersion(): string {
  return readdirSync('/etc/postgresql').sort().pop()!;
}

export function stopPostgres(): void {
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', pgVersion(), 'main', 'stop', '-m', 'fast'], { stdio: 'ignore' });
}

export function startPostgres(): void {
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', pgVersion(), 'main', 'start'], { stdio: 'ignore' });
}

export function canControlServices(): boolean {
  try {
    execSync('command -v redis-server && command -v pg_ctlcluster && ls /etc/postgresql', { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
