import type { Config } from './schema.js';
import { listConfigKeys, redactConfig, type ConfigKey } from './load.js';

/**
 * The configuration as an environment file that systemd's EnvironmentFile= and POSIX sh
 * (`set -a; . FILE`) both read back to the values written, and that `loadConfig` then turns into
 * the same configuration.
 *
 * What the two readers share decides the quoting (systemd: src/basic/env-file.c; sh: POSIX
 * quoting). A bare value of letters, digits and `_ @ % + = : , . / -` means the same to both. A
 * value in single quotes is literal to both. A value holding a single quote goes in double quotes
 * with `\ " $ \`` escaped, the four characters both unescape there (systemd keeps the backslash
 * before anything else, as sh does). A bare value must not hold quotes or backslashes: systemd
 * keeps a quote in the middle of a bare value literally where sh starts quoting. Comment lines
 * start with `#` and never end with a backslash (systemd before v254 continued such a comment
 * onto the next line).
 */

const BARE = /^[A-Za-z0-9_@%+=:,./-]*$/;

/**
 * Keys whose default is worked out on the machine that runs the processor: written commented
 * out among the defaults, so that a file made on one machine does not pin another's value.
 */
const MACHINE_DEFAULTS = new Set(['workers.threads']);

/** One value as both systemd and sh read it back. */
export function quoteEnvValue(value: string): string {
  if (BARE.test(value)) return value;
  if (!value.includes("'")) return `'${value}'`;
  return `"${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

/**
 * The text a key's value takes in the environment, as `coerceEnv` in load.ts reads it: lists
 * comma separated, maps as JSON, numbers and booleans plain. Null when a list cannot be written
 * (an element holding a comma: the loader splits on commas).
 */
export function envText(key: ConfigKey, value: unknown): string | null {
  switch (key.kind) {
    case 'array': {
      const items = value as readonly unknown[];
      if (items.some((s) => String(s).includes(',') || String(s).trim() !== String(s) || String(s) === '')) return null;
      return items.join(',');
    }
    case 'record':
      return JSON.stringify(value);
    default:
      return String(value);
  }
}

function commentLines(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line.length > 1 && line.length + 1 + word.length > width) { lines.push(line); line = '#'; }
    line += ` ${word}`;
  }
  lines.push(line);
  // A trailing backslash would continue the comment in older systemd.
  return lines.map((l) => (l.endsWith('\\') ? `${l} ` : l));
}

function valueAt(config: unknown, path: string): unknown {
  let node: unknown = config;
  for (const p of path.split('.')) node = node === undefined || node === null ? undefined : (node as Record<string, unknown>)[p];
  return node;
}

export interface EnvFileOptions {
  /** The values to write; absent: every key's default. */
  config?: Readonly<Config>;
}

/**
 * Every key under its description: `HIMARI_X=value`, or commented out (`# HIMARI_X=`) when it
 * has no value. With a config, its values, and a secret (a password, a URL's password) commented
 * out with its redacted form, so the output can be shown or pasted into a ticket.
 */
export function configEnvFile(options: EnvFileOptions = {}): string {
  const { config } = options;
  const redacted = config === undefined ? undefined : redactConfig(config);
  const out: string[] = config === undefined
    ? ['# himari-l0 configuration: every key with its default (himari-l0 config).']
    : ['# himari-l0 configuration: the effective values (defaults, the --config file, the environment).', '# Secrets are not printed: their lines are commented out.'];
  out.push(
    '# For systemd\'s EnvironmentFile= and for sh (set -a; . FILE). Lists are comma separated, check',
    '# threshold maps JSON. A commented-out key keeps its default (none, or the one described).',
  );
  for (const key of listConfigKeys()) {
    const value = config === undefined ? key.defaultValue : valueAt(config, key.path);
    out.push('', ...commentLines(`${key.path}: ${key.description}`));
    if (value === undefined) {
      out.push(`# ${key.env}=`);
      continue;
    }
    const text = envText(key, value);
    if (text === null) {
      out.push(`# ${key.env}=${JSON.stringify(value)}   (a list element holds a comma: not expressible in the environment)`);
      continue;
    }
    if (config === undefined && MACHINE_DEFAULTS.has(key.path)) {
      out.push(`# ${key.env}=${quoteEnvValue(text)}   (this machine's; the default is worked out where the processor runs)`);
      continue;
    }
    const shown = redacted === undefined ? value : valueAt(redacted, key.path);
    if (JSON.stringify(shown) !== JSON.stringify(value)) {
      out.push(`# ${key.env}=${quoteEnvValue(envText(key, shown) ?? '')}   (secret, not printed)`);
      continue;
    }
    out.push(`${key.env}=${quoteEnvValue(text)}`);
  }
  return out.join('\n') + '\n';
}
