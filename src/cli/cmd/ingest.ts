import { IngestGateway } from '../../ingest/gateway.js';
import { IngestMetrics } from '../../ingest/metrics.js';
import { redactConfig } from '../../config/load.js';
import { createLogger } from '../../obs/log.js';
import { startMetricsServer } from '../../obs/metrics.js';
import type { IngestArgs } from '../commands.js';
import { EXIT_DEADLINE, intOption, load } from '../common.js';

/** Of the shutdown deadline, what closing the WebSockets and the process's exit may take; Kafka gets the rest. */
const CLOSE_RESERVE_MS = 3_000;

export async function cmdIngest({ values }: IngestArgs): Promise<void> {
  const config = load(values.config);
  const log = createLogger(config.log.level);
  log.info({ config: redactConfig(config) }, 'starting the ingest gateway');
  const metrics = new IngestMetrics();
  const gateway = new IngestGateway(config.kafka, config.ingest, metrics, log);
  const server = config.ingest.metricsPort === 0 ? null : await startMetricsServer(metrics, gateway, config.metrics.host, config.ingest.metricsPort);
  let stopping = false;
  const exit = (code: number) => { log.flush(); setTimeout(() => process.exit(code), 50); };
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ why, deadlineMs: config.shutdown.deadlineMs }, 'stopping');
    const flushMs = Math.max(1_000, config.shutdown.deadlineMs - CLOSE_RESERVE_MS);
    gateway.close(flushMs).then(
      (lost) => {
        server?.closeAllConnections();
        server?.close();
        exit(lost === 0 ? 0 : EXIT_DEADLINE);
      },
      (err: Error) => { log.error({ err }, 'close failed'); exit(1); },
    );
  };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (stopping) { log.warn({ sig }, 'second signal: exiting now'); log.flush(); process.exit(130); }
      stop(sig);
    });
  }
  try {
    await gateway.start();
  } catch (err) {
    log.fatal({ err }, 'start failed');
    process.stderr.write(`himari-l0 ingest: start failed: ${(err as Error).message}\n`);
    await gateway.close(1_000).catch(() => 0);
    log.flush();
    process.exit(1);
  }
  // Said on stderr whatever the log level: scripts and tests wait for this line.
  process.stderr.write(`himari-l0 ingest: producing ${Object.keys(config.ingest.feeds).length} feeds to ${config.ingest.topic}\n`);
  const maxSeconds = intOption(values, 'max-seconds', 0);
  if (maxSeconds > 0) setTimeout(() => stop(`--max-seconds ${maxSeconds}`), maxSeconds * 1000).unref();
}
