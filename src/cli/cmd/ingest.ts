import { redactConfig } from '../../config/load.js';
import { startIngest, type RunningIngest } from '../../ingest/runner.js';
import { createLogger } from '../../obs/log.js';
import type { IngestArgs } from '../commands.js';
import { EXIT_DEADLINE, intOption, load, onStopSignals } from '../common.js';

export async function cmdIngest({ values }: IngestArgs): Promise<void> {
  const config = load(values.config);
  const log = createLogger(config.log.level);
  log.info({ config: redactConfig(config) }, 'starting the ingest gateway');
  let running: RunningIngest | null = null;
  let stopping = false;
  const exit = (code: number) => { log.flush(); setTimeout(() => process.exit(code), 50); };
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ why, deadlineMs: config.shutdown.deadlineMs }, 'stopping');
    (running?.close() ?? Promise.resolve(0)).then(
      (lost) => exit(lost === 0 ? 0 : EXIT_DEADLINE),
      (err: Error) => { log.error({ err }, 'close failed'); exit(1); },
    );
  };
  onStopSignals(log, () => stopping, stop);
  try {
    running = await startIngest(config, log, true);
  } catch (err) {
    log.fatal({ err }, 'start failed');
    process.stderr.write(`himari-l0 ingest: start failed: ${(err as Error).message}\n`);
    log.flush();
    process.exit((err as { code?: unknown }).code === 'CONFIG_INVALID' ? 2 : 1);
  }
  if (stopping) return;
  // Said on stderr whatever the log level: scripts and tests wait for this line.
  process.stderr.write(`himari-l0 ingest: producing ${Object.keys(config.ingest.feeds).length} feeds to ${config.ingest.topic}\n`);
  const maxSeconds = intOption(values, 'max-seconds', 0);
  if (maxSeconds > 0) setTimeout(() => stop(`--max-seconds ${maxSeconds}`), maxSeconds * 1000).unref();
}
