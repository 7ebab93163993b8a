/**
 * One updating status line on a terminal, for the long commands (replay, migrate, loadtest).
 * Only when the stream is a TTY: piped or redirected, a command writes exactly what it wrote
 * before (tests and scripts read it). Redraws are throttled (4 a second by default), the latest
 * text wins, and the line is cleared at the end. After a redraw the cursor goes back to the
 * line's start, so output of someone else (a log line on the same terminal) overwrites the
 * status instead of being appended to it.
 */

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): unknown;
}

export interface ProgressOptions {
  /** Least time between two redraws. */
  intervalMs?: number;
  now?: () => number;
}

const CLEAR = '\r\x1b[K';

/** Progress lines on screen now, cleared before a command exits with a message. */
const drawn = new Set<Progress>();

export class Progress {
  readonly active: boolean;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private lastDrawMs = -Infinity;
  private text: string | null = null;
  private onScreen = false;
  private pending: NodeJS.Timeout | null = null;
  private ticker: NodeJS.Timeout | null = null;

  constructor(private readonly stream: ProgressStream = process.stderr, options: ProgressOptions = {}) {
    this.active = stream.isTTY === true;
    this.intervalMs = options.intervalMs ?? 250;
    this.now = options.now ?? Date.now;
  }

  /** The status now; drawn at once unless the last redraw was within the interval (then later). */
  update(text: string): void {
    if (!this.active) return;
    this.stopTicker();
    this.set(text);
  }

  /**
   * A new step: drawn at once (not held back by the interval), then with the seconds it has taken
   * so far, redrawn once a second until the next update, step or done.
   */
  step(text: string): void {
    if (!this.active) return;
    this.stopTicker();
    const started = this.now();
    this.text = text;
    this.draw();
    this.ticker = setInterval(() => this.set(`${text} ${Math.round((this.now() - started) / 1000)} s`), 1000);
    this.ticker.unref();
  }

  /** A line that stays (what the command wrote before): above the status line, written TTY or not. */
  print(line: string): void {
    if (this.onScreen) this.stream.write(CLEAR);
    this.stream.write(`${line}\n`);
    this.onScreen = false;
    // Back under the line, unless the interval says later (a new step or update may come first).
    if (this.active && this.text !== null) this.set(this.text);
  }

  /** Clears the status line; nothing more is drawn until the next update. */
  done(): void {
    this.stopTicker();
    if (this.pending !== null) clearTimeout(this.pending);
    this.pending = null;
    this.text = null;
    this.clear();
  }

  /** Takes the status line off the screen (a message follows); the next update draws it again. */
  clear(): void {
    if (this.onScreen) this.stream.write(CLEAR);
    this.onScreen = false;
    drawn.delete(this);
  }

  private set(text: string): void {
    this.text = text;
    const wait = this.lastDrawMs + this.intervalMs - this.now();
    if (wait <= 0) {
      this.draw();
    } else if (this.pending === null) {
      this.pending = setTimeout(() => { this.pending = null; if (this.text !== null) this.draw(); }, wait);
      this.pending.unref();
    }
  }

  private draw(): void {
    // A terminal of unknown size (a pty without one says 0 columns) is taken as 80 wide.
    const columns = this.stream.columns !== undefined && this.stream.columns > 10 ? this.stream.columns : 80;
    const width = columns - 1;
    const text = this.text!.length > width ? `${this.text!.slice(0, width - 3)}...` : this.text!;
    this.stream.write(`${CLEAR}${text}\r`);
    this.onScreen = true;
    this.lastDrawMs = this.now();
    drawn.add(this);
  }

  private stopTicker(): void {
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
  }
}

/** Clears every status line on screen: called before an error message and exit. */
export function interruptProgress(): void {
  for (const p of [...drawn]) p.clear();
}
