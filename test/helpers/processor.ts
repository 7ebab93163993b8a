import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../src/config/schema.js';
import { endOffsets, waitGroupCommitted } from './services.js';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** The processor as users run it: `himari-l0 run` in its own process, configured by env. */
export class ProcessorProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  stdout = '';

  constructor(env: Record<string, string>, args: string[] = []) {
    this.child = spawn(process.execPath, [CLI, 'run', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => { this.stdout += d.toString(); });
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves once the processor logged that it is ready. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stderr.includes('himari-l0: ready in')) {
      if (this.child.exitCode !== null) throw new Error(`processor exited early: ${this.stderr}\n${this.stdout.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`processor not ready after ${timeoutMs} ms: ${this.stdout.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** For `after` hooks: make sure no processor outlives its test. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * The end of a run: waits until the group committed every offset the topic holds now, then stops
 * the processor with SIGTERM; it must drain and exit 0. Failures carry the tail of its log.
 */
export async function drainAndStop(p: ProcessorProcess, config: Readonly<Config>, timeoutMs: number): Promise<void> {
  await waitGroupCommitted(config, await endOffsets(config), timeoutMs).catch((err: Error) => {
    throw new Error(`${err.message}\n${p.stdout.slice(-6000)}`);
  });
  p.kill('SIGTERM');
  const exit = await p.exited;
  assert.equal(exit.code, 0, `exited with ${JSON.stringify(exit)}: ${p.stderr}\n${p.stdout.slice(-4000)}`);
}
