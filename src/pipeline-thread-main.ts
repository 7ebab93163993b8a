import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { App } from './app.js';
import type { Config } from './config/schema.js';
import { PortKafkaClients } from './kafka/port-clients.js';
import { toWireError } from './kafka/port-protocol.js';
import { createLogger } from './obs/log.js';
import { osThreadId } from './obs/os-thread.js';
import type { PipelineThreadData, ToMain, ToPipeline } from './pipeline-thread.js';

/**
 * The pipeline thread (see `PipelineThread`): the whole processor but its Kafka clients, which it
 * reaches over `kafka` (served on the main thread). It reports its status every
 * `STATUS_EVERY_MS` (systemd's STATUS and watchdog read it on the main thread) and closes when told.
 */
const STATUS_EVERY_MS = 200;

const port = parentPort!;
const { config, kafka } = workerData as PipelineThreadData & { config: Readonly<Config>; kafka: MessagePort };
const send = (m: ToMain) => port.postMessage(m);
const log = createLogger(config.log.level);
const app = await App.create(config, log, { kafka: new PortKafkaClients(kafka), pipelineThreadId: osThreadId() });
let closing = false;

const status = setInterval(() => send({ op: 'status', status: app.status(), atMs: Date.now() }), STATUS_EVERY_MS);
status.unref();

port.on('message', (m: ToPipeline) => {
  if (m.op === 'loopDelay') {
    app.metrics.loopDelayMax.observe({ thread: 'kafka' }, m.maxSeconds);
    return;
  }
  if (closing) return;
  closing = true;
  app.close(m.deadlineMs).then(
    (outcome) => {
      clearInterval(status);
      log.flush();
      send({ op: 'closed', outcome, summary: app.summary() });
    },
    (err: unknown) => {
      log.flush();
      send({ op: 'closeFailed', error: toWireError(err) });
    },
  );
});

try {
  await app.start();
  send({ op: 'started', startupMs: app.startupMs, storageMode: app.storageMode, status: app.status() });
} catch (err) {
  // A close during start-up ends it: the close's answer says how.
  if (!closing) {
    log.flush();
    send({ op: 'startFailed', error: toWireError(err) });
  }
}
