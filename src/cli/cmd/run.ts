import { spawn } from 'node:child_process';
import { App } from '../../app.js';
import { PipelineThread } from '../../pipeline-thread.js';
import type { Processor } from '../../processor.js';
import { checkByBit } from '../../checks/registry.js';
import { VERDICT_NAMES } from '../../codec/event.js';
import { redactConfig } from '../../config/load.js';
import { startIngest, type RunningIngest } from '../../ingest/runner.js';
import { createLogger } from '../../obs/log.js';
import { SystemdLifecycle } from '../../systemd-lifecycle.js';
import type { RunArgs } from '../commands.js';
import { EXIT_DEADLINE, intOption, load, onStopSignals } from '../common.js';

export async function cmdRun({ values }: RunArgs): Promise<void> {
  const config = load(values.config);
  const log = createLogger(config.log.level);
  log.info({ config: redactConfig(config) }, 'starting');
  // With the pipeline in its own thread, that thread dying leaves nothing consumed or committed:
  // exit like a crash (offsets were committed only for what the sinks hold; systemd restarts).
  const app: Processor = config.workers.pipelineThread
    ? await PipelineThread.create(config, log, () => { log.flush(); setTimeout(() => process.exit(1), 50); })
    : await App.create(config, log);
  // READY, STATUS, WATCHDOG and STOPPING to systemd (nothing without NOTIFY_SOCKET).
  const systemd = new SystemdLifecycle(app, log);
  const startedAt = Date.now();
  let stopping = false;
  let ready = false;
  let ingest: RunningIngest | null = null;
  const exit = (code: number) => { log.flush(); setTimeout(() => process.exit(code), 50); };
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    systemd.stopping(why);
    log.info({ why, deadlineMs: config.shutdown.deadlineMs }, 'stopping');
    // The deadline holds even if a step of the close hangs in native code: exit regardless.
    setTimeout(() => {
      log.error({ deadlineMs: config.shutdown.deadlineMs }, 'shutdown deadline passed; exiting now (unconfirmed batches are replayed on the next start)');
      log.flush();
      // Node joins libuv's threads at exit, and a native Kafka call that waits for a broker that
      // is gone would hold the exit with it: a detached watchdog kills what is left 2 s later.
      spawn('sh', ['-c', `sleep 2; kill -9 ${process.pid} 2>/dev/null`], { detached: true, stdio: 'ignore' }).unref();
      process.exit(EXIT_DEADLINE);
    }, config.shutdown.deadlineMs).unref();
    // With ingest.inProcess the gateway stops beside the processor, within the same deadline.
    Promise.all([app.close(), ingest?.close() ?? Promise.resolve(0)]).then(
      ([outcome, lost]) => {
        if (ready) printSummary(app, Date.now() - startedAt);
        exit(outcome === 'drained' && lost === 0 ? 0 : EXIT_DEADLINE);
      },
      (err: Error) => { log.error({ err }, 'close failed'); exit(1); },
    );
  };
  onStopSignals(log, () => stopping, stop);
  try {
    await app.start();
  } catch (err) {
    // A signal during start-up: the close it started ends the process (exit 0: nothing was taken).
    if (stopping) return;
    log.fatal({ err }, 'start failed');
    process.stderr.write(`himari-l0: start failed: ${(err as Error).message}\n`);
    await app.close(5_000).catch(() => {});
    log.flush();
    process.exit(1);
  }
  if (stopping) return;
  if (config.ingest.inProcess) {
    try {
      ingest = await startIngest(config, log.child({ stage: 'ingest' }), false);
    } catch (err) {
      if (stopping) return;
      log.fatal({ err }, 'the in-process ingest gateway did not start');
      process.stderr.write(`himari-l0: start failed: ingest gateway: ${(err as Error).message}\n`);
      await app.close(5_000).catch(() => {});
      log.flush();
      process.exit(1);
    }
    if (stopping) return;
  }
  ready = true;
  log.info({ startupMs: Math.round(app.startupMs), threads: config.workers.threads, pipelineThread: config.workers.pipelineThread, storage: app.storageMode }, 'ready');
  // Also said on stderr whatever the log level: scripts and tests wait for this line.
  const stores = config.sink.stores.includes('postgres') ? `${app.storageMode} storage` : 'Redis only';
  process.stderr.write(`himari-l0: ready in ${Math.round(app.startupMs)} ms (${config.workers.threads} worker threads, ${stores})\n`);
  systemd.started();
  const maxSeconds = intOption(values, 'max-seconds', 0);
  if (maxSeconds > 0) setTimeout(() => stop('max-seconds'), maxSeconds * 1000).unref();
  const idleMs = intOption(values, 'stop-when-idle', 0);
  if (idleMs > 0) {
    let lastCount = -1;
    let lastChange = Date.now();
    setInterval(() => {
      const consumed = app.status().consumed;
      if (consumed !== lastCount) { lastCount = consumed; lastChange = Date.now(); return; }
      if (consumed > 0 && Date.now() - lastChange >= idleMs) stop('idle');
    }, Math.min(200, idleMs)).unref();
  }
}

function printSummary(app: Processor, elapsedMs: number): void {
  const t = app.summary();
  const c = app.config;
  const lines: string[] = [];
  const rate = elapsedMs > 0 ? Math.round((t.consumed * 1000) / elapsedMs) : 0;
  lines.push('', 'himari-l0 run summary', `  consumed       ${t.consumed} messages in ${(elapsedMs / 1000).toFixed(1)} s (${rate}/s average, start-up ${Math.round(app.startupMs)} ms)`);
  for (let v = 0; v < VERDICT_NAMES.length; v++) lines.push(`  ${VERDICT_NAMES[v]!.padEnd(14)} ${t.verdicts[v]}`);
  const failed = t.checkFailures.map((n, bit) => [bit, n] as const).filter(([, n]) => n > 0);
  lines.push(`  checks failed  ${failed.length === 0 ? 'none' : failed.map(([bit, n]) => `${checkByBit(bit)?.id ?? bit}=${n}`).join('  ')}`);
  lines.push('  end-to-end latency, send (x-intended-ns header, else Kafka timestamp) -> confirmed write:');
  for (const s of t.sinks) {
    const h = s.latency;
    const ms = (us: number) => (us / 1000).toFixed(1);
    lines.push(`    ${s.name.padEnd(9)} n=${h.count}  p50 ${ms(h.p50)} ms  p90 ${ms(h.p90)} ms  p99 ${ms(h.p99)} ms  max ${ms(h.max)} ms`);
  }
  const commits = [...t.committed].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  lines.push(`  committed      ${commits.map(([tp, offset]) => `${tp}=${offset}`).join(' ') || 'nothing'}`);
  const stores = new Set(c.sink.stores);
  lines.push(`  stores         ${c.sink.stores.join(', ')}${stores.has('postgres') ? ` (${app.storageMode ?? 'unknown'} storage, table ${c.postgres.table})` : ''}`);
  lines.push('  where to look:');
  if (stores.has('redis')) {
    lines.push(`    redis-cli --scan --pattern '${c.redis.keyPrefix}latest:*' | head`);
    lines.push(`    redis-cli HGETALL ${c.redis.keyPrefix}latest:binance:BTC-USDT`);
    lines.push(`    redis-cli ZRANGE ${c.redis.keyPrefix}recent:BTC-USDT -3 -1   (then HMGET ${c.redis.keyPrefix}recent-events:BTC-USDT <member>)`);
    lines.push(`    redis-cli XREVRANGE ${c.redis.keyPrefix}quarantine + - COUNT 3`);
  }
  if (stores.has('postgres')) {
    lines.push(`    psql '${redactConfig(c).postgres.url}' -c "SELECT venue, type, verdict, count(*) FROM ${c.postgres.table} GROUP BY 1,2,3 ORDER BY 1,2,3"`);
  }
  lines.push(`    dead letters: topic ${c.kafka.deadLetterTopic} (headers x-error-code, x-error-message, x-source-*)`);
  lines.push(`    metrics: http://${c.metrics.host}:${c.metrics.port}/metrics while running`);
  process.stderr.write(lines.join('\n') + '\n');
}
