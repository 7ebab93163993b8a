/**
 * The retry delays of the sink core's delivery loop (every sink's, the dead-letter topic's),
 * which an abort at the shutdown deadline must end at once instead of sleeping out a backoff of
 * up to seconds.
 */
export class RetryDelays {
  private readonly waiting = new Set<() => void>();

  /** Resolves after `ms`, or at once on `wakeAll`. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => { clearTimeout(timer); this.waiting.delete(wake); resolve(); };
      const timer = setTimeout(wake, ms);
      this.waiting.add(wake);
    });
  }

  /** Ends every delay in progress. */
  wakeAll(): void {
    for (const wake of [...this.waiting]) wake();
  }
}
