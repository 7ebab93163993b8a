import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { HimariError, ErrorCode } from '../errors.js';
import { ConfigSchema, type Config } from './schema.js';
import { ALL_CHECKS } from '../checks/registry.js';
import { checkConfigProblems } from '../checks/thresholds.js';

/** Environment variables that belong to us but are not config keys (read by scripts). */
const ENV_PREFIX = 'HIMARI_';
const RESERVED_ENV = new Set(['HIMARI_CONFIG', 'HIMARI_STATE_DIR', 'HIMARI_KAFKA_PORT', 'HIMARI_KAFKA_CONTROLLER_PORT',
  // scripts/kafka.sh's secured mode and scripts/kafka-secure.sh
  'HIMARI_KAFKA_SECURE', 'HIMARI_KAFKA_SSL_PORT', 'HIMARI_KAFKA_SECURE_PORT',
  // scripts/pg-cluster.sh
  'HIMARI_PG_PORT', 'HIMARI_PG_NAME', 'HIMARI_PG_PRELOAD', 'HIMARI_PG_BIN', 'HIMARI_PG_USER']);

/**
 * Secrets systemd hands over as credentials (LoadCredential=, LoadCredentialEncrypted=, or
 * SetCredential= in deploy/himari-l0.service): each file in `$CREDENTIALS_DIRECTORY` is named
 * after the config key it sets. Three keys, listed here, rather than any key: a credential is a
 * secret, and a name outside this list is a typo that would otherwise start the processor
 * without its password. `CREDENTIALS_DIRECTORY` needs no place in RESERVED_ENV: only HIMARI_*
 * names are read as config keys.
 */
export const CREDENTIAL_KEYS: readonly string[] = ['kafka.saslPassword', 'redis.password', 'postgres.password'];

/**
 * The credentials in `dir`, key → value; problems (an unknown name, a file that cannot be read
 * or is empty) go to `problems`, never with a value in them. One trailing newline is dropped:
 * `echo secret > file` writes one, and no password of ours ends with it.
 */
function readCredentials(dir: string, problems: string[]): Map<string, string> {
  const credentials = new Map<string, string>();
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    problems.push(`CREDENTIALS_DIRECTORY ${dir}: cannot be listed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return credentials;
  }
  for (const name of names) {
    if (!CREDENTIAL_KEYS.includes(name)) {
      problems.push(`credential ${name} (${dir}): not a secret config key; credentials are named ${CREDENTIAL_KEYS.join(', ')}`);
      continue;
    }
    let value: string;
    try {
      value = readFileSync(join(dir, name), 'utf8');
    } catch (err) {
      problems.push(`credential ${name} (${dir}): cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      continue;
    }
    value = value.replace(/\r?\n$/, '');
    if (value === '') {
      problems.push(`credential ${name} (${dir}): empty`);
      continue;
    }
    credentials.set(name, value);
  }
  return credentials;
}

type LeafKind = 'string' | 'number' | 'boolean' | 'array' | 'enum' | 'record';

export interface ConfigKey {
  /** Dotted path, e.g. `sink.batchMaxRows`. */
  path: string;
  /** Environment variable, e.g. `HIMARI_SINK_BATCH_MAX_ROWS`. */
  env: string;
  kind: LeafKind;
  description: string;
  defaultValue: unknown;
}

function unwrap(schema: z.ZodType): { inner: z.ZodType; description: string | undefined; def: unknown } {
  let s: z.ZodType = schema;
  let description = s.description;
  let def: unknown;
  for (;;) {
    const d = (s as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; defaultValue?: unknown } } })._zod.def;
    if (d.type === 'default' || d.type === 'optional' || d.type === 'prefault') {
      if (d.type === 'default') def = typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue;
      s = d.innerType!;
      description ??= s.description;
      continue;
    }
    return { inner: s, description, def };
  }
}

function camelToScreaming(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Every leaf key of the schema, with its env var, kind, description and default. */
export function listConfigKeys(): ConfigKey[] {
  const keys: ConfigKey[] = [];
  const walk = (schema: z.ZodType, path: string[]): void => {
    const { inner, description, def } = unwrap(schema);
    const type = (inner as unknown as { _zod: { def: { type: string } } })._zod.def.type;
    if (type === 'object') {
      const shape = (inner as z.ZodObject).shape as Record<string, z.ZodType>;
      for (const [k, v] of Object.entries(shape)) walk(v, [...path, k]);
      return;
    }
    keys.push({
      path: path.join('.'),
      env: ENV_PREFIX + path.map(camelToScreaming).join('_'),
      kind: type as LeafKind,
      description: description ?? '',
      defaultValue: def,
    });
  };
  walk(ConfigSchema, []);
  return keys;
}

function coerceEnv(raw: string, kind: LeafKind): unknown {
  switch (kind) {
    case 'number': {
      const trimmed = raw.trim();
      // Number('') is 0; an empty value must be reported, not read as zero.
      return trimmed === '' ? raw : Number(trimmed);
    }
    case 'boolean':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return raw; // let the schema report it, naming the key
    case 'array':
      return raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    case 'record':
      // Maps (check thresholds) come as JSON in the environment.
      try { return JSON.parse(raw) as unknown; } catch { return raw; }
    default:
      return raw;
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    const next = node[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * Optional JSON config file; `HIMARI_CONFIG` names one too. Env vars override the file, and
   * credentials in `$CREDENTIALS_DIRECTORY` (systemd's, see CREDENTIAL_KEYS) override both.
   */
  file?: string | undefined;
  /** Command-line overrides, highest precedence (dotted path → value). */
  overrides?: Record<string, unknown>;
}

/**
 * Builds the configuration once: file, then environment, then systemd credentials, then
 * overrides; validates everything together and reports every bad key in one error; returns a
 * frozen object. Nothing else in the process reads `process.env` for configuration.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  let raw: Record<string, unknown> = {};

  const file = options.file ?? env.HIMARI_CONFIG;
  if (file !== undefined && file !== '') {
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        problems.push(`config file ${file}: must hold a JSON object`);
      } else {
        raw = parsed as Record<string, unknown>;
      }
    } catch (err) {
      problems.push(`config file ${file}: ${(err as Error).message}`);
    }
  }

  const keys = listConfigKeys();
  const byEnv = new Map(keys.map((k) => [k.env, k]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined || RESERVED_ENV.has(name)) continue;
    const key = byEnv.get(name);
    if (key === undefined) {
      problems.push(`${name}: unknown environment variable (not a config key; see 'himari-l0 config')`);
      continue;
    }
    setPath(raw, key.path, coerceEnv(value, key.kind));
  }
  const credentialsDir = env.CREDENTIALS_DIRECTORY;
  if (credentialsDir !== undefined && credentialsDir !== '') {
    for (const [path, value] of readCredentials(credentialsDir, problems)) setPath(raw, path, value);
  }
  for (const [path, value] of Object.entries(options.overrides ?? {})) setPath(raw, path, value);

  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.join('.');
      const envName = byEnv.size > 0 ? keys.find((k) => k.path === path)?.env : undefined;
      if (issue.code === 'unrecognized_keys') {
        const prefix = path === '' ? '' : path + '.';
        for (const k of issue.keys) problems.push(`${prefix}${k}: unknown config key`);
      } else {
        problems.push(`${path}${envName ? ` (${envName})` : ''}: ${issue.message}`);
      }
    }
  }
  if (result.success) problems.push(...checkConfigProblems(result.data.checks, ALL_CHECKS));
  if (problems.length > 0 || !result.success) {
    throw new HimariError(ErrorCode.CONFIG_INVALID, `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      context: { problems },
    });
  }
  return deepFreeze(result.data);
}

const REDACTED = '[redacted]';

/**
 * A copy of the config with secrets replaced, for the start-up log line. Every secret key is
 * listed here; test/integration/secrets.test.ts runs the processor with all of them set and
 * looks for them in its output.
 */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config) as Config;
  if (copy.kafka.saslPassword !== undefined) copy.kafka.saslPassword = REDACTED;
  if (copy.redis.password !== undefined) copy.redis.password = REDACTED;
  if (copy.postgres.password !== undefined) copy.postgres.password = REDACTED;
  copy.redis.url = redactUrl(copy.redis.url);
  copy.postgres.url = redactUrl(copy.postgres.url);
  return copy;
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = 'redacted';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':redacted@');
  }
}

/** The reference table of docs/config.md. */
export function configMarkdownTable(): string {
  const rows = listConfigKeys().map((k) =>
    `| \`${k.path}\` | \`${k.env}\` | ${k.defaultValue === undefined ? '-' : `\`${JSON.stringify(k.defaultValue)}\``} | ${k.description.replaceAll('|', '\\|')} |`);
  return ['| key | environment variable | default | description |', '|---|---|---|---|', ...rows].join('\n') + '\n';
}
