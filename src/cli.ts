#!/usr/bin/env node
import { COMMANDS } from './cli/commands.js';
import { commandHelp, overviewHelp, parseCommandArgs, UsageError, wantsHelp } from './cli/options.js';
import { interruptProgress } from './cli/progress.js';
import { HimariError } from './errors.js';

/**
 * `himari-l0 <command> [options]`: the commands, their options and their help are one table
 * (src/cli/commands.ts); this finds the command, parses its arguments by its entry and runs it.
 */
async function main(argv: readonly string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(overviewHelp(COMMANDS));
    return;
  }
  const spec = COMMANDS.find((c) => c.name === name);
  if (spec === undefined) {
    throw new UsageError(name.startsWith('-') ? `unknown option '${name}' before the command` : `unknown command '${name}'`, null);
  }
  if (wantsHelp(rest)) {
    process.stdout.write(commandHelp(spec));
    return;
  }
  const parsed = parseCommandArgs(spec, rest);
  if (spec.name === 'help') {
    const topic = parsed.positionals[0];
    if (topic === undefined) { process.stdout.write(overviewHelp(COMMANDS)); return; }
    const about = COMMANDS.find((c) => c.name === topic);
    if (about === undefined) throw new UsageError(`unknown command '${topic}'`, null);
    process.stdout.write(commandHelp(about));
    return;
  }
  const handler = await spec.load();
  await handler(parsed);
}

// `himari-l0 config | head` closes the pipe early: not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0); throw err; });

main(process.argv.slice(2)).catch((err: Error) => {
  interruptProgress();
  if (err instanceof UsageError) {
    process.stderr.write(`${err.line()}\n`);
    process.exit(2);
  }
  process.stderr.write(`himari-l0: ${err.message}\n`);
  process.exit(err instanceof HimariError && err.code === 'CONFIG_INVALID' ? 2 : 1);
});
