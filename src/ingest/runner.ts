import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { startMetricsServer } from '../obs/metrics.js';
import { IngestGateway } from './gateway.js';
import { IngestMetrics } from './metrics.js';

/** Of the shutdown deadline, what closing the WebSockets and the process's exit may take; Kafka gets the rest. */
const CLOSE_RESERVE_MS = 3_000;

/** A started gateway with its /metrics endpoint, as `ingest` runs it and `run` does with ingest.inProcess. */
export interface RunningIngest {
  readonly gateway: IngestGateway;
  /** Closes the feeds, gives Kafka what is left of shutdown.deadlineMs, closes the endpoint: events not acknowledged. */
  close(): Promise<number>;
}

/**
 * Starts the gateway of `config.ingest` and its endpoint (metrics.host:ingest.metricsPort).
 * `defaultMetrics`: the stock Node.js metrics too (false beside the processor, whose registry
 * has them).
 */
export async function startIngest(config: Readonly<Config>, log: Logger, defaultMetrics: boolean): Promise<RunningIngest> {
  const metrics = new IngestMetrics({ defaultMetrics });
  const gateway = new IngestGateway(config.kafka, config.ingest, metrics, log);
  let server: Server | null = null;
  const close = async (): Promise<number> => {
    const lost = await gateway.close(Math.max(1_000, config.shutdown.deadlineMs - CLOSE_RESERVE_MS));
    server?.closeAllConnections();
    server?.close();
    return lost;
  };
  try {
    // /debug/latency: receive → Kafka acknowledged of every event since start, exact to 1.6 % (the
    // Prometheus histogram's buckets are coarse), for benchmarks that diff two readings.
    if (config.ingest.metricsPort !== 0) {
      server = await startMetricsServer(metrics, gateway, config.metrics.host, config.ingest.metricsPort, () => ({ receiveToAck: gateway.ackLatency.encode() }));
    }
    await gateway.start();
  } catch (err) {
    await close().catch(() => 0);
    throw err;
  }
  return { gateway, close };
}
