import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { describeTarget, isPermanentConnectError, pgClientConfig } from '../../src/db/client-config.js';

const FILE = fileURLToPath(import.meta.url);
const postgres = (env: Record<string, string>) => loadConfig({ env }).postgres;

describe('pgClientConfig', () => {
  it('disable: the URL as given, TLS explicitly off (PGSSLMODE in the environment is not read)', () => {
    const c = pgClientConfig(postgres({ HIMARI_POSTGRES_URL: 'postgres://u:p@h:5/db' }), { application_name: 'x' });
    assert.deepEqual(c, { application_name: 'x', connectionString: 'postgres://u:p@h:5/db', ssl: false });
  });

  it('a separate password replaces the URL\'s, whatever characters it holds', () => {
    const password = 'p@ss:w/rd%41 é';
    const c = pgClientConfig(postgres({ HIMARI_POSTGRES_URL: 'postgres://u:old@h:5/db?application_name=a', HIMARI_POSTGRES_PASSWORD: password }));
    const url = new URL(c.connectionString!);
    assert.equal(decodeURIComponent(url.password), password);
    assert.equal(url.username, 'u');
    assert.equal(url.searchParams.get('application_name'), 'a');
  });

  it('require encrypts without verifying; verify-ca checks the chain only; verify-full also the name', () => {
    const require = pgClientConfig(postgres({ HIMARI_POSTGRES_SSL_MODE: 'require' })).ssl;
    assert.deepEqual(require, { rejectUnauthorized: false });

    const ca = pgClientConfig(postgres({ HIMARI_POSTGRES_SSL_MODE: 'verify-ca', HIMARI_POSTGRES_SSL_CA_FILE: FILE })).ssl as Record<string, unknown>;
    assert.equal(ca.rejectUnauthorized, true);
    assert.equal(typeof ca.checkServerIdentity, 'function');
    assert.deepEqual(ca.ca, readFileSync(FILE));

    const full = pgClientConfig(postgres({
      HIMARI_POSTGRES_SSL_MODE: 'verify-full', HIMARI_POSTGRES_SSL_CA_FILE: FILE, HIMARI_POSTGRES_SSL_CERT_FILE: FILE, HIMARI_POSTGRES_SSL_KEY_FILE: FILE,
    })).ssl as Record<string, unknown>;
    assert.equal(full.rejectUnauthorized, true);
    assert.equal(full.checkServerIdentity, undefined, 'Node\'s own host name check stays');
    assert.ok(full.cert !== undefined && full.key !== undefined);
  });

  it('connection failures an operator must fix are told apart from outages', () => {
    assert.equal(isPermanentConnectError(Object.assign(new Error('password authentication failed'), { code: '28P01' })), true);
    assert.equal(isPermanentConnectError(Object.assign(new Error('no pg_hba.conf entry'), { code: '28000' })), true);
    assert.equal(isPermanentConnectError(Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' })), true);
    assert.equal(isPermanentConnectError(new Error('The server does not support SSL connections')), true);
    assert.equal(isPermanentConnectError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), false);
    assert.equal(isPermanentConnectError(Object.assign(new Error('the database system is starting up'), { code: '57P03' })), false);
  });

  it('messages name the host and port, or the Unix socket directory of a ?host=/dir URL, never the credentials', () => {
    assert.equal(describeTarget(postgres({ HIMARI_POSTGRES_URL: 'postgres://u:secret@db.internal:6432/x' })), 'PostgreSQL at db.internal:6432 (sslMode disable)');
    assert.equal(describeTarget(postgres({ HIMARI_POSTGRES_URL: 'postgres://u:secret@localhost/x?host=/var/run/postgresql' })), 'PostgreSQL at the socket in /var/run/postgresql (sslMode disable)');
    assert.equal(describeTarget(postgres({ HIMARI_POSTGRES_URL: 'postgres://u@h/x?host=db2' })), 'PostgreSQL at h:5432 (sslMode disable)');
  });
});
