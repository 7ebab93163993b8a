import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sampleProcess, type ProcSample } from './proc-stats.js';
import { ErrorCode, HimariError } from '../errors.js';

export const CLI_FILE = fileURLToPath(new URL('../cli.js', import.meta.url));

const READY = /himari-l0: ready in (\d+) ms/;

/**
 * `himari-l0 run` as a child process configured by environment, as users run it: the load test
 * measures it from outside (CPU and memory from /proc, latencies from /debug/latency).
 */
export class ProcessorChild {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly spawnedAt = performance.now();
  stderr = '';
  /** Spawn to the ready line, ms (node start, module loading, connections, migration, warm-up). */
  readyAfterMs = 0;
  /** What the processor itself reports: App.start() to ready, ms. */
  reportedStartupMs = 0;
  /** performance.now() when ready. */
  readyAt = 0;
  private stdoutTail = '';

  constructor(env: Record<string, string>, args: string[] = []) {
    this.child = spawn(process.execPath, [CLI_FILE, 'run', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => { this.stdoutTail = (this.stdoutTail + d.toString()).slice(-4000); });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      if (this.readyAt === 0) {
        const m = READY.exec(this.stderr);
        if (m !== null) {
          this.readyAt = performance.now();
          this.readyAfterMs = this.readyAt - this.spawnedAt;
          this.reportedStartupMs = Number(m[1]);
        }
      }
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.readyAt === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `processor exited before it was ready:\n${this.stderr}\n${this.stdoutTail}`);
      if (performance.now() > deadline) throw new HimariError(ErrorCode.TIMEOUT, `processor not ready after ${timeoutMs} ms:\n${this.stderr}\n${this.stdoutTail}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  sample(): ProcSample | null {
    return this.pid > 0 ? sampleProcess(this.pid) : null;
  }

  /** Graceful stop (SIGTERM: drain, flush, commit); SIGKILL after `timeoutMs`. Returns the last sample before exit. */
  async stop(timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; last: ProcSample | null; stderr: string }> {
    let last = this.sample();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setInterval(() => { last = this.sample() ?? last; }, 50);
      const killer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      try {
        const r = await this.exited;
        return { ...r, last, stderr: this.stderr };
      } finally {
        clearInterval(timer);
        clearTimeout(killer);
      }
    }
    return { ...(await this.exited), last, stderr: this.stderr };
  }
}
