import { existsSync } from 'node:fs';
import { readRecordingEvents, recordingFailure, type RecordingReport } from '../../replay/recording.js';
import { replay } from '../../replay/replay.js';
import type { ReplayArgs } from '../commands.js';
import { fail, intOption, load } from '../common.js';
import { Progress } from '../progress.js';

export async function cmdReplay({ values, positionals }: ReplayArgs): Promise<void> {
  for (const f of positionals) if (!existsSync(f)) fail(`no such file: ${f}`);
  // On a terminal: which file is being read and how far, then how far the produce is.
  const progress = new Progress();
  const recordings = positionals.map((f, i) => {
    const of = positionals.length > 1 ? ` (file ${i + 1} of ${positionals.length})` : '';
    progress.step(`replay: reading ${f}${of}`);
    const recording = readRecordingEvents(f, (done, total) => progress.update(`replay: reading ${f}${of}: ${done} of ${total} messages`));
    progress.print(describeRecording(recording.report));
    return recording;
  });
  progress.done();
  if (values['dry-run'] !== true) {
    const config = load(values.config);
    const stats = await replay(config.kafka, recordings.map((r) => r.events), {
      topic: values.topic ?? config.kafka.topics[0]!, speed: intOption(values, 'speed', 0),
      onProgress: ({ produced, delivered, total }) => progress.update(`replay: produced ${produced} of ${total} events, ${delivered} delivered`),
    });
    progress.done();
    process.stdout.write(`${JSON.stringify(stats)}\n`);
  }
  const failed = recordings.map((r) => [r.report.file, recordingFailure(r.report)] as const).filter(([, why]) => why !== null);
  if (failed.length > 0) fail(`${failed.length} of ${recordings.length} recordings failed: ${failed.map(([f, why]) => `${f}: ${why}`).join('; ')}`, 1);
}

/** One recording's accounting for the terminal: messages = with events + ignored + not understood. */
function describeRecording(r: RecordingReport): string {
  const ignoredTotal = Object.values(r.ignored).reduce((a, b) => a + b, 0);
  const lines = [`${r.file}: ${r.unreadable ?? `${r.messages} messages: ${r.withEvents} gave ${r.events} events, ${ignoredTotal} ignored, ${r.errors} not understood`}`];
  for (const [channel, n] of Object.entries(r.ignored)) lines.push(`  ignored ${n} ${channel}`);
  for (const p of r.problems) lines.push(`  line ${p.line}: ${p.reason}: ${p.raw}`);
  if (r.errors > r.problems.length) lines.push(`  ... ${r.errors - r.problems.length} more`);
  return lines.join('\n');
}
