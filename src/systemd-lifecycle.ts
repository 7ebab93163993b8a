import type { Logger } from 'pino';
import type { Processor } from './processor.js';
import { SystemdNotifier } from './obs/systemd.js';

/** How often STATUS= is refreshed (`systemctl status` shows the last one). */
const STATUS_INTERVAL_MS = 10_000;
/** How often STATUS= says what a start-up still waits for. */
const STARTING_STATUS_MS = 2_000;
/** How often start-up looks for the first assignment. */
const ASSIGNMENT_POLL_MS = 100;

/**
 * The run's lifecycle as systemd sees it (Type=notify, deploy/himari-l0.service): READY=1 once
 * started and assigned, STATUS= with throughput, lag and health, WATCHDOG=1 while healthy,
 * STOPPING=1 when the stop begins. Outside systemd (no NOTIFY_SOCKET) it does nothing.
 *
 * `started()` after `processor.start()` resolved; `stopping()` first thing in the stop.
 */
export class SystemdLifecycle {
  private readonly notifier: SystemdNotifier;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private lastConsumed = 0;
  private lastStatusAt = 0;

  constructor(private readonly app: Processor, private readonly log: Logger, env: NodeJS.ProcessEnv = process.env) {
    this.notifier = new SystemdNotifier({ log, env });
    if (!this.notifier.enabled) return;
    // While `systemctl status` says "activating": what start-up still waits for.
    this.notifier.status('starting');
    const starting = setInterval(() => {
      const waitingFor = this.app.status().notReadyReasons.filter((r) => r !== 'starting');
      this.notifier.status(waitingFor.length === 0 ? 'starting' : `starting: ${waitingFor.join('; ')}`);
    }, STARTING_STATUS_MS);
    starting.unref();
    this.timers.push(starting);
  }

  /**
   * After `app.start()` resolved: READY=1 once the consumer has its first partitions ("assigned
   * and warmed": start-up already warmed the workers), so that `systemctl start` returns when
   * events flow, and units ordered after this one start then. An instance that gets no
   * partition within twice the session timeout (at least 10 s) is ready too: the group has none
   * for it (more instances than partitions: a standby, which takes over on a rebalance). It is
   * healthy, and holding READY back would have systemd kill it at TimeoutStartSec and restart it
   * for nothing; its STATUS says so. (A join may first answer with no partitions while another
   * member revokes, so an empty answer alone does not mean standby.)
   */
  started(): void {
    if (!this.notifier.enabled || this.stopped) return;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.notifier.status('started: waiting for the consumer group to assign partitions');
    const startedAt = Date.now();
    const boundMs = Math.max(10_000, 2 * this.app.config.kafka.sessionTimeoutMs);
    const poll = setInterval(() => {
      if (this.app.status().assigned === 0 && Date.now() - startedAt < boundMs) return;
      clearInterval(poll);
      this.ready();
    }, ASSIGNMENT_POLL_MS);
    poll.unref();
    this.timers.push(poll);
  }

  private ready(): void {
    const { assigned, consumed } = this.app.status();
    this.lastConsumed = consumed;
    this.lastStatusAt = Date.now();
    this.notifier.ready(assigned > 0
      ? `ready: ${assigned} partitions assigned, start-up ${Math.round(this.app.startupMs)} ms`
      : 'ready: no partitions assigned to this instance (the group has none for it: standby)');
    this.log.info({ partitions: assigned, watchdogMs: this.notifier.watchdogMs }, 'systemd notified: READY=1');
    this.notifier.startWatchdog(() => this.unhealthy());
    const status = setInterval(() => this.notifier.status(this.statusLine()), STATUS_INTERVAL_MS);
    status.unref();
    this.timers.push(status);
  }

  /** STOPPING=1 with the reason; the watchdog stops (systemd watches the stop by TimeoutStopSec). */
  stopping(why: string): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.stopped = true;
    this.notifier.stopping(`stopping (${why}): draining and committing, within shutdown.deadlineMs ${this.app.config.shutdown.deadlineMs} ms`);
  }

  /**
   * Why the watchdog must not be pinged (null: healthy). A sink outage counts only beyond
   * `systemd.watchdogSinkOutageMs` (see its reason in the schema): a short Redis or PostgreSQL
   * blip pauses consumption and loses nothing, and a restart would only replay. Not counted,
   * as a restart cures none of them: no partitions (a standby), a partition stopped on a refused
   * dead letter (it would stop again; /readyz and STATUS say it), a broker out of reach
   * (librdkafka reconnects by itself), and so an outage of the dead-letter sink, whose only
   * server is that broker: only the event sinks are looked at here.
   */
  private unhealthy(): string | null {
    const boundMs = this.app.config.systemd.watchdogSinkOutageMs;
    const status = this.app.status();
    if (status.stalled !== null) return status.stalled;
    for (const sink of status.sinks) {
      if (sink.outageMs > boundMs) return `${sink.statusText} (beyond systemd.watchdogSinkOutageMs ${boundMs} ms)`;
    }
    return null;
  }

  /** e.g. `8 partitions, 10234 events/s, lag 120; ok` or `...; not ready: redis: failing for 12 s: ...`. */
  private statusLine(): string {
    const p = this.app.status();
    const now = Date.now();
    const consumed = p.consumed;
    const rate = now > this.lastStatusAt ? Math.round(((consumed - this.lastConsumed) * 1000) / (now - this.lastStatusAt)) : 0;
    this.lastConsumed = consumed;
    this.lastStatusAt = now;
    // The lag himari_consumer_lag_messages and the alerts use: what the sinks do not hold yet.
    const lags = p.lags;
    const unread = p.assigned - lags.length;
    const lag = `${lags.reduce((n, l) => n + l.lag, 0)}${unread === 0 ? '' : ` (${unread} partition${unread === 1 ? '' : 's'} not read yet)`}`;
    const reasons = p.notReadyReasons;
    const withheld = this.notifier.withheldReason;
    return `${p.assigned} partitions, ${rate} events/s, lag ${lag}; `
      + (withheld !== null ? `watchdog withheld: ${withheld}; ` : '')
      + (reasons.length === 0 ? 'ok' : `not ready: ${reasons.join('; ')}`);
  }
}
