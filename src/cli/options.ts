import { parseArgs } from 'node:util';

/**
 * The command line's one description of itself: each command declares its options, positionals
 * and examples once (src/cli/commands.ts), and both node:util's parser and every help text are
 * built from that, so the help cannot list an option the parser refuses or miss one it accepts.
 */

export interface OptionSpec {
  /** Long name without the dashes: `--stop-when-idle` is `stop-when-idle`. */
  readonly name: string;
  readonly type: 'string' | 'boolean';
  /** What the value is, in the help: `--rate N`. String options only. */
  readonly value?: string;
  /** Validated at parse time: a non-negative number (the value stays a string). */
  readonly number?: boolean;
  /** Given to the parser when the option is absent, and shown in the help. */
  readonly default?: string;
  /** Shown in the help only: a default that comes from elsewhere (the config, another option). */
  readonly defaultText?: string;
  readonly description: string;
}

export interface PositionalSpec {
  /** In the usage line: `FILE...`. */
  readonly name: string;
  readonly description: string;
  readonly min: number;
  /** Absent: no limit. */
  readonly max?: number;
}

export interface Example {
  /** Everything after `himari-l0 `. */
  readonly args: string;
  readonly says: string;
}

/** What a command's handler receives: the parsed option values (strings and booleans) and positionals. */
export interface ParsedArgs<Options extends readonly OptionSpec[] = readonly OptionSpec[]> {
  readonly values: OptionValues<Options> & { readonly config?: string | undefined };
  readonly positionals: string[];
}

export type OptionValues<Options extends readonly OptionSpec[]> = {
  readonly [O in Options[number] as O['name']]?: (O['type'] extends 'boolean' ? boolean : string) | undefined;
};

/** Method syntax: a handler typed for its own command's options fits the table's general type. */
interface HandlerHolder { handle(parsed: ParsedArgs): unknown }
export type CommandHandler = HandlerHolder['handle'];

export interface CommandSpec {
  readonly name: string;
  /** One line, in `himari-l0 --help`'s command list. */
  readonly summary: string;
  /** The paragraph of `himari-l0 <command> --help`. */
  readonly description: string;
  /** Takes `--config FILE` (reads the configuration). */
  readonly config: boolean;
  readonly options: readonly OptionSpec[];
  readonly positionals?: PositionalSpec;
  /** 1-3. */
  readonly examples: readonly Example[];
  /** Exit codes beyond 0/1/2 (or a command's own meaning of 1). */
  readonly exitCodes?: Readonly<Record<number, string>>;
  /** Imported only when the command runs, so that `--help` and usage errors stay quick. */
  load(): Promise<CommandHandler>;
}

export const PROGRAM = 'himari-l0';

const CONFIG_OPTION: OptionSpec = {
  name: 'config', type: 'string', value: 'FILE', defaultText: '$HIMARI_CONFIG',
  description: 'JSON config file. Environment variables HIMARI_<SECTION>_<KEY> override it; \'himari-l0 config\' lists them.',
};
const HELP_OPTION: OptionSpec = { name: 'help', type: 'boolean', description: 'This help (also: himari-l0 help <command>).' };

export const EXIT_CODES: Readonly<Record<number, string>> = {
  0: 'ok',
  1: 'runtime failure',
  2: 'bad usage (unknown option, missing or bad value, unknown command) or invalid configuration',
};

/** A mistake on the command line: exit 2 with one line naming it and where the help is. */
export class UsageError extends Error {
  constructor(message: string, readonly command: string | null) {
    super(message);
    this.name = 'UsageError';
  }

  /** The one line for stderr. */
  line(): string {
    return `${PROGRAM}: ${this.message} (see '${PROGRAM}${this.command === null ? '' : ` ${this.command}`} --help')`;
  }
}

/** The common options a command takes, after its own. */
export function commonOptions(spec: CommandSpec): OptionSpec[] {
  return spec.config ? [CONFIG_OPTION, HELP_OPTION] : [HELP_OPTION];
}

/** Whether the arguments ask for help (`-h`/`--help` before any `--`). */
export function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** node:util parseArgs options built from the table. */
export function parserOptions(spec: CommandSpec): Record<string, { type: 'string' | 'boolean'; short?: string; default?: string }> {
  const out: Record<string, { type: 'string' | 'boolean'; short?: string; default?: string }> = {};
  for (const o of [...spec.options, ...commonOptions(spec)]) {
    out[o.name] = { type: o.type, ...(o.name === 'help' ? { short: 'h' } : {}), ...(o.default === undefined ? {} : { default: o.default }) };
  }
  return out;
}

/** Parses a command's arguments by its table entry; every mistake is a UsageError. */
export function parseCommandArgs(spec: CommandSpec, args: readonly string[]): ParsedArgs {
  const options = [...spec.options, ...commonOptions(spec)];
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options: parserOptions(spec), strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(describeParseError(err as Error & { code?: string }, options), spec.name);
  }
  for (const o of options) {
    const v = parsed.values[o.name];
    if (o.number === true && typeof v === 'string' && !isNonNegativeNumber(v)) {
      throw new UsageError(`--${o.name} must be a non-negative number, got ${JSON.stringify(v)}`, spec.name);
    }
  }
  const p = spec.positionals;
  const n = parsed.positionals.length;
  if (p === undefined && n > 0) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`, spec.name);
  if (p !== undefined && n < p.min) throw new UsageError(`missing ${p.name}${p.min > 1 ? ` (at least ${p.min})` : ''}`, spec.name);
  if (p?.max !== undefined && n > p.max) throw new UsageError(`unexpected argument '${parsed.positionals[p.max]}'`, spec.name);
  return parsed as ParsedArgs;
}

function isNonNegativeNumber(raw: string): boolean {
  if (raw.trim() === '') return false;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0;
}

/** parseArgs' errors, said in one line in the words of the table. */
function describeParseError(err: Error & { code?: string }, options: readonly OptionSpec[]): string {
  const quoted = /'(-[^' ]*)/.exec(err.message)?.[1] ?? '';
  const name = quoted.replace(/^-+/, '').replace(/=.*$/, '');
  const spec = options.find((o) => o.name === name);
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const near = closest(name, options.map((o) => o.name));
      return `unknown option '${quoted}'${near === null ? '' : ` (did you mean --${near}?)`}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      if (spec?.type === 'boolean') return `--${name} takes no value`;
      const needs = `--${name} needs a value${spec?.value === undefined ? '' : ` ${spec.value}`}`;
      // parseArgs calls a value that starts with '-' ambiguous: it may be the next option.
      return /ambiguous/.test(err.message) ? `${needs} (one starting with '-' is written --${name}=-...)` : needs;
    }
    default:
      return err.message.split('\n')[0]!;
  }
}

/** The option name a typo most likely meant (edit distance at most 2), or null. */
function closest(word: string, names: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = 3;
  for (const n of names) {
    const d = editDistance(word, n);
    if (d < bestD) { best = n; bestD = d; }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

// ---- help text ----

const WIDTH = 100;

/** Words of `text` in lines of at most `width` characters, each after `indent`. */
export function wrap(text: string, indent: string, width = WIDTH, firstIndent = indent): string {
  const lines: string[] = [];
  let line = firstIndent;
  let empty = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent;
      empty = true;
    }
    line += (empty ? '' : ' ') + word;
    empty = false;
  }
  lines.push(line);
  return lines.join('\n');
}

function usageLine(spec: CommandSpec): string {
  const p = spec.positionals;
  const pos = p === undefined ? '' : p.min > 0 ? ` ${p.name}` : ` [${p.name}]`;
  return `Usage: ${PROGRAM} ${spec.name} [options]${pos}`;
}

function optionLabel(o: OptionSpec): string {
  const name = o.name === 'help' ? '-h, --help' : `--${o.name}`;
  return o.type === 'string' ? `${name} ${o.value ?? 'VALUE'}` : name;
}

function optionRows(options: readonly OptionSpec[]): string {
  const labels = options.map(optionLabel);
  const col = Math.min(28, Math.max(...labels.map((l) => l.length)) + 2);
  return options.map((o, i) => {
    const shown = o.default !== undefined ? `default ${o.default === '' ? "''" : o.default}` : o.defaultText !== undefined ? `default ${o.defaultText}` : null;
    const text = shown === null ? o.description : `${o.description} (${shown})`;
    const label = `  ${labels[i]}`;
    const pad = ' '.repeat(col + 2);
    // A label longer than the column gets its own line.
    if (label.length >= col + 2) return `${label}\n${wrap(text, pad)}`;
    return wrap(text, pad, WIDTH, label.padEnd(col + 2));
  }).join('\n');
}

function exitCodeLines(codes: Readonly<Record<number, string>>): string {
  return Object.entries(codes).map(([code, what]) => wrap(what, '        ', WIDTH, `  ${code.padEnd(4)}  `)).join('\n');
}

/** `himari-l0 <command> --help`. */
export function commandHelp(spec: CommandSpec): string {
  const parts = [usageLine(spec), '', wrap(spec.summary, '  ', WIDTH, '  '), '', wrap(spec.description, '')];
  if (spec.positionals !== undefined) parts.push('', 'Arguments:', wrap(spec.positionals.description, ' '.repeat(14), WIDTH, `  ${spec.positionals.name.padEnd(12)}`));
  if (spec.options.length > 0) parts.push('', 'Options:', optionRows(spec.options));
  parts.push('', 'Common options:', optionRows(commonOptions(spec)));
  parts.push('', 'Examples:', spec.examples.map((e) => `  ${PROGRAM} ${e.args}\n${wrap(e.says, '      ')}`).join('\n'));
  parts.push('', 'Exit codes:', exitCodeLines({ ...EXIT_CODES, ...spec.exitCodes }));
  return parts.join('\n') + '\n';
}

/** `himari-l0 --help`: the command list. */
export function overviewHelp(specs: readonly CommandSpec[]): string {
  const col = Math.max(...specs.map((s) => s.name.length)) + 2;
  // A code several commands give: each meaning once, with the commands that give it.
  const meanings = new Map<number, Map<string, string[]>>();
  for (const s of specs) {
    for (const [code, what] of Object.entries(s.exitCodes ?? {})) {
      if (Number(code) <= 2) continue;
      const byWhat = meanings.get(Number(code)) ?? new Map<string, string[]>();
      meanings.set(Number(code), byWhat);
      byWhat.set(what, [...(byWhat.get(what) ?? []), s.name]);
    }
  }
  const exitCodes: Record<number, string> = { ...EXIT_CODES };
  for (const [code, byWhat] of meanings) exitCodes[code] = [...byWhat].map(([what, names]) => `${what} (${names.join(', ')})`).join('; ');
  return [
    `${PROGRAM}: Layer 0 market-data processor (Kafka -> checks -> Redis + PostgreSQL)`,
    '',
    `Usage: ${PROGRAM} <command> [options]`,
    `       ${PROGRAM} <command> --help      options and examples of a command (also: ${PROGRAM} help <command>)`,
    '',
    'Commands:',
    specs.map((s) => wrap(s.summary, ' '.repeat(col + 2), WIDTH, `  ${s.name.padEnd(col)}`)).join('\n'),
    '',
    'Common options:',
    optionRows([CONFIG_OPTION, HELP_OPTION]),
    '',
    'Exit codes:',
    exitCodeLines(exitCodes),
    '',
  ].join('\n');
}
