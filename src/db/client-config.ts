import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { PostgresConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';

/**
 * The node-postgres settings of every connection the processor opens (sink, migrate, partition
 * maintenance): the URL, the separate password when set, and TLS as `postgres.sslMode` says.
 * `extra` adds a caller's own settings (keep-alive, application name).
 */
export function pgClientConfig(config: PostgresConfig, extra: Omit<pg.ClientConfig, 'connectionString' | 'password' | 'ssl'> = {}): pg.ClientConfig {
  return { ...extra, connectionString: urlWithPassword(config), ssl: pgTls(config) };
}

/**
 * node-postgres lays the parsed URL over the other settings, and a URL without a password
 * parses as the empty password: a separate `password` would be lost, so it goes into the URL.
 */
function urlWithPassword(config: PostgresConfig): string {
  if (config.password === undefined) return config.url;
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw new HimariError(ErrorCode.CONFIG_INVALID, 'postgres.password needs postgres.url to be a postgres:// URL');
  }
  // The userinfo setter leaves '%' as it is; encoding first keeps any password intact.
  url.password = encodeURIComponent(config.password);
  return url.toString();
}

/** libpq's sslmode in Node's TLS terms. */
function pgTls(config: PostgresConfig): false | ConnectionOptions {
  if (config.sslMode === 'disable') return false;
  const files: ConnectionOptions = {};
  if (config.sslCaFile !== undefined) files.ca = readFileSync(config.sslCaFile);
  if (config.sslCertFile !== undefined) files.cert = readFileSync(config.sslCertFile);
  if (config.sslKeyFile !== undefined) files.key = readFileSync(config.sslKeyFile);
  switch (config.sslMode) {
    case 'require':
      return { ...files, rejectUnauthorized: false };
    case 'verify-ca':
      // The chain is checked, the name is not (node-postgres would otherwise check it).
      return { ...files, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      // Node checks the name against the host connected to (an IP address against the IP SANs).
      return { ...files, rejectUnauthorized: true };
  }
}

/**
 * Connection failures no retry can fix: refused credentials or no pg_hba entry (SQLSTATE class
 * 28, which includes a plaintext client on a TLS-only server), a missing database (3D000), and
 * TLS failures (a certificate we reject, a server without TLS).
 */
export function isPermanentConnectError(err: unknown): boolean {
  const code = String((err as { code?: unknown }).code ?? '');
  if (code.startsWith('28') || code === '3D000') return true;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) return true;
  return /does not support SSL|certificate/i.test((err as Error).message ?? '');
}

/** Where a connection goes, for messages: host, port and TLS mode, never the credentials. */
export function describeTarget(config: PostgresConfig): string {
  try {
    const u = new URL(config.url);
    // `?host=/dir` (node-postgres, as libpq) connects to the Unix socket in that directory.
    const socketDir = u.searchParams.get('host');
    const where = socketDir !== null && socketDir.startsWith('/') ? `the socket in ${socketDir}` : `${u.hostname}:${u.port || '5432'}`;
    return `PostgreSQL at ${where} (sslMode ${config.sslMode})`;
  } catch {
    return `PostgreSQL (sslMode ${config.sslMode})`;
  }
}

/** A connected client; a failure names the server and says whether a retry could help. */
export async function connectPostgres(config: PostgresConfig, extra: Parameters<typeof pgClientConfig>[1] = {}): Promise<pg.Client> {
  const client = new pg.Client(pgClientConfig(config, extra));
  try {
    await client.connect();
  } catch (err) {
    client.end().catch(() => {});
    throw new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `${describeTarget(config)}: ${(err as Error).message}`, {
      retriable: !isPermanentConnectError(err), cause: err,
    });
  }
  return client;
}
