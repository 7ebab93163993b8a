import { parsePromText, type Scrape } from '../../ops/prom-text.js';
import { computeTopView, type TopView } from '../../ops/top.js';
import { renderTop } from '../../ops/top-render.js';
import type { TopArgs } from '../commands.js';
import { usageFail } from '../common.js';

/** Alternate screen and hidden cursor while drawing; restored on exit. */
const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';
/** Cursor home; each line clears its rest, and what is below the frame is cleared: no flicker. */
const HOME = '\x1b[H';
const CLEAR_EOL = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';

/**
 * `himari-l0 top`: on a terminal it redraws in place; otherwise (a pipe, a file) it prints one
 * snapshot block per interval, or with --once a single one (two scrapes an interval apart) and
 * exits: 0, or 1 when the endpoint cannot be read.
 */
export async function cmdTop({ values }: TopArgs): Promise<void> {
  const base = (values.url ?? 'http://127.0.0.1:9464').replace(/\/+$/, '').replace(/\/metrics$/, '');
  const intervalS = Number(values.interval ?? '2');
  if (!(intervalS >= 0.2)) usageFail('top', `--interval must be a number of seconds, at least 0.2; got ${JSON.stringify(values.interval)}`);
  const tty = process.stdout.isTTY === true && values.once !== true;
  const info = { url: base, intervalS };
  const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

  if (values.once === true) {
    const first = await scrape(base, intervalS);
    if (typeof first === 'string') return unreachable(first);
    await sleep(intervalS);
    const second = await scrape(base, intervalS);
    if (typeof second === 'string') return unreachable(second);
    process.stdout.write(renderTop(await withReady(base, computeTopView(first, second), intervalS), { ...info, time: new Date() }).join('\n') + '\n');
    return;
  }

  if (tty) {
    process.stdout.write(ENTER);
    const restore = () => { process.stdout.write(LEAVE); };
    process.on('exit', restore);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => process.exit(0));
  }
  let prev: Scrape | null = null;
  for (;;) {
    const started = Date.now();
    const cur = await scrape(base, intervalS);
    if (typeof cur === 'string') {
      // After an outage the first rate would average over it: start again from one scrape.
      prev = null;
      const message = `cannot read ${base}/metrics: ${cur}; retrying every ${intervalS} s (is the processor running, with metrics.port and metrics.host as in --url?)`;
      if (tty) process.stdout.write(HOME + message + CLEAR_EOL + '\n' + CLEAR_BELOW);
      else process.stderr.write(`himari-l0 top: ${message}\n`);
    } else {
      // On a terminal the first frame comes at once (gauges, totals); a pipe gets rates only.
      if (tty || prev !== null) {
        const lines = renderTop(await withReady(base, computeTopView(prev, cur), intervalS), { ...info, time: new Date() });
        // Cut at the terminal's width: a wrapped line would push the frame down and scroll it.
        const width = process.stdout.columns || 200;
        if (tty) process.stdout.write(HOME + lines.map((l) => l.slice(0, width)).join(CLEAR_EOL + '\n') + CLEAR_EOL + '\n' + CLEAR_BELOW);
        else process.stdout.write(lines.join('\n') + '\n\n');
      }
      prev = cur;
    }
    await sleep(Math.max(0, intervalS - (Date.now() - started) / 1000));
  }
}

function unreachable(why: string): never {
  process.stderr.write(`himari-l0 top: cannot read the metrics: ${why} (is the processor running, with metrics.port and metrics.host as in --url?)\n`);
  process.exit(1);
}

/** One scrape, or why it failed. */
async function scrape(base: string, intervalS: number): Promise<Scrape | string> {
  try {
    const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(Math.max(1_000, Math.min(5_000, intervalS * 1000))) });
    if (!res.ok) return `HTTP ${res.status} from ${base}/metrics`;
    const text = await res.text();
    return parsePromText(text, Date.now());
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return e.cause?.code ?? e.cause?.message ?? e.message;
  }
}

/** Processors that do not export himari_ready yet: ask /readyz, which says the same. */
async function withReady(base: string, view: TopView, intervalS: number): Promise<TopView> {
  if (view.ready !== null) return view;
  try {
    const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return { ...view, ready: res.status === 200 };
  } catch {
    return view;
  }
}
