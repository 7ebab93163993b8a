import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLI } from '../../helpers/processor.js';
import type { TcpProxy } from '../../helpers/tcp-proxy.js';
import { within } from './time.js';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** VmHWM (peak resident set) of a live process, bytes; 0 when it is gone. */
export function peakRssBytes(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

const RSS_SAMPLE_MS = 250;
/** Said on stderr whatever the log level (src/cli/cmd/run.ts). */
const READY_LINE = 'himari-l0: ready in';

/**
 * One `himari-l0 run` child of a scenario, configured by env. Samples its peak RSS (VmHWM of
 * /proc/PID/status) while it lives, since a kill -9 leaves nothing to read afterwards; collects
 * its pino log lines and lets a scenario react to one as it is written (a kill at a named point).
 */
export class Instance {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  stdout = '';
  stderr = '';
  peakRss = 0;
  readonly startedAt = Date.now();
  /** When it reported ready (0 until then). */
  readyAt = 0;
  private readonly sampler: NodeJS.Timeout;
  private readonly watchers: Array<{ text: string; fire: () => void }> = [];
  private pending = '';

  constructor(readonly name: string, env: Record<string, string>, readonly proxies: { pg: TcpProxy; redis: TcpProxy }) {
    this.child = spawn(process.execPath, [CLI, 'run'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => this.onStdout(d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      if (this.readyAt === 0 && this.stderr.includes(READY_LINE)) this.readyAt = Date.now();
    });
    this.sampler = setInterval(() => this.sampleRss(), RSS_SAMPLE_MS);
    this.sampler.unref();
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => {
      clearInterval(this.sampler);
      resolve({ code, signal });
    }));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private sampleRss(): void {
    if (this.child.pid === undefined) return;
    this.peakRss = Math.max(this.peakRss, peakRssBytes(this.child.pid));
  }

  private onStdout(text: string): void {
    this.stdout += text;
    if (this.watchers.length === 0) return;
    // Whole lines only: a watched phrase split over two reads is still seen.
    this.pending += text;
    const end = this.pending.lastIndexOf('\n');
    if (end < 0) return;
    const lines = this.pending.slice(0, end);
    this.pending = this.pending.slice(end + 1);
    for (let i = this.watchers.length - 1; i >= 0; i--) {
      const w = this.watchers[i]!;
      if (lines.includes(w.text)) {
        this.watchers.splice(i, 1);
        w.fire();
      }
    }
  }

  /**
   * Runs `action` in the same turn as the log line containing `text` arrives (synchronously in
   * the stdout handler: no polling delay between the line and, say, a kill -9).
   */
  onLog(text: string, action: () => void): void {
    this.watchers.push({ text, fire: action });
  }

  /** Log lines (pino JSON) whose msg is `msg`. */
  logLines(msg: string): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const line of this.stdout.split('\n')) {
      if (!line.includes(msg)) continue;
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        if (o.msg === msg) out.push(o);
      } catch { /* a line cut by a kill */ }
    }
    return out;
  }

  /** Partitions named by every `partitions assigned` line, in order. */
  assignments(): number[][] {
    return this.logLines('partitions assigned').map((o) => (o.partitions as string[]).map((p) => Number(/\[(\d+)\]$/.exec(p)![1])));
  }

  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.readyAt === 0) {
      if (!this.alive) throw new Error(`${this.name} exited before it was ready: ${this.stderr}\n${this.stdout.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name} not ready after ${timeoutMs} ms: ${this.stdout.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** kill -9, after a last RSS sample (the process leaves nothing to read once it is gone). */
  async kill9(): Promise<void> {
    this.sampleRss();
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM; resolves with the exit and how long the stop took, or null when it outlives `boundMs`. */
  async terminate(boundMs: number): Promise<{ exit: ExitStatus; stopMs: number } | null> {
    this.sampleRss();
    const t0 = Date.now();
    this.child.kill('SIGTERM');
    const exit = await within(this.exited, boundMs);
    return exit === null ? null : { exit, stopMs: Date.now() - t0 };
  }

  /** For cleanup: no child outlives its scenario. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** The tail of its output, for an assertion message. */
  tail(chars = 4000): string {
    return `--- ${this.name} stderr ---\n${this.stderr.slice(-chars)}\n--- ${this.name} stdout ---\n${this.stdout.slice(-chars)}`;
  }
}
