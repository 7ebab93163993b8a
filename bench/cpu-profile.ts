import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Summarises V8 `.cpuprofile` files (`node --cpu-prof`, one per thread) by self time per
 * function, and finds the stretches in which the thread's event loop never went idle (stalls),
 * for scripts/profile.sh. Usage: `node dist/bench/cpu-profile.js [--top N] [--stalls MS] FILE...`
 * prints a markdown section per file (with --stalls, also its stalls of at least MS ms).
 */

/** The parts of the DevTools CPU profile format that are read here. */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  /** Node id of each sample. */
  samples: number[];
  /** µs since the previous sample (the first: since startTime). */
  timeDeltas: number[];
}

export interface FrameTime {
  /** `function (file:line)`; V8's pseudo frames keep their names: (idle), (program), (garbage collector). */
  frame: string;
  selfUs: number;
  /** Share of the profile's sampled time, 0..1. */
  share: number;
}

export interface ProfileSummary {
  totalUs: number;
  /** Sampled time outside (idle): what the thread spent running. */
  busyUs: number;
  frames: FrameTime[];
}

/** Shortens a script URL to what identifies it: the path from `node_modules/<pkg>` or from dist/. */
export function shortUrl(url: string): string {
  if (url === '') return '';
  const path = url.startsWith('file://') ? url.slice('file://'.length) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + '/node_modules/'.length);
  const dist = path.lastIndexOf('/dist/');
  if (dist >= 0) return path.slice(dist + '/dist/'.length);
  return path;
}

function frameName(f: CpuProfile['nodes'][number]['callFrame']): string {
  const name = f.functionName === '' ? '(anonymous)' : f.functionName;
  if (f.url === '') return name;
  return `${name} (${shortUrl(f.url)}:${f.lineNumber + 1})`;
}

/**
 * Self time per function: each sample's time delta is charged to the node it hit, and nodes
 * of the same function (same name, script and line) are added up.
 */
export function summarizeCpuProfile(profile: CpuProfile): ProfileSummary {
  const byNode = new Map<number, string>();
  for (const n of profile.nodes) byNode.set(n.id, frameName(n.callFrame));
  const self = new Map<string, number>();
  let total = 0;
  const n = Math.min(profile.samples.length, profile.timeDeltas.length);
  for (let i = 0; i < n; i++) {
    // V8 records the delta before a sample; charge it to that sample's node.
    const dt = Math.max(0, profile.timeDeltas[i]!);
    const frame = byNode.get(profile.samples[i]!) ?? '(unknown)';
    self.set(frame, (self.get(frame) ?? 0) + dt);
    total += dt;
  }
  const frames = [...self].map(([frame, selfUs]) => ({ frame, selfUs, share: total > 0 ? selfUs / total : 0 }))
    .sort((a, b) => b.selfUs - a.selfUs || a.frame.localeCompare(b.frame));
  return { totalUs: total, busyUs: total - (self.get('(idle)') ?? 0), frames };
}

/** A markdown table of the `top` frames by self time, with shares of all and of busy time. */
export function formatSummary(title: string, s: ProfileSummary, top = 15): string {
  const lines = [`### ${title}`, '', `sampled ${(s.totalUs / 1e6).toFixed(1)} s, busy (not idle) ${(s.busyUs / 1e6).toFixed(1)} s`, '',
    '| self ms | % of all | % of busy | frame |', '|---|---|---|---|'];
  for (const f of s.frames.slice(0, top)) {
    const busy = f.frame === '(idle)' || s.busyUs === 0 ? '' : `${((100 * f.selfUs) / s.busyUs).toFixed(1)}`;
    lines.push(`| ${(f.selfUs / 1000).toFixed(0)} | ${(100 * f.share).toFixed(1)} | ${busy} | \`${f.frame}\` |`);
  }
  return lines.join('\n') + '\n';
}

/** One stretch of consecutive non-idle samples: the thread's event loop did not get back to its poll. */
export interface Stall {
  /** From the profile's start, ms. */
  startMs: number;
  durationMs: number;
  /**
   * Of the duration, the time the thread was not running: V8 samples by signalling the thread
   * every interval, and a thread without a core handles the signal only when it gets one back,
   * so a sample later than `lateFactor` intervals counts its delay beyond one interval as waiting
   * (for a core, or in the kernel).
   */
  waitingMs: number;
  /** Sampled in the garbage collector, ms. */
  gcMs: number;
  /** Frames by self time in the stall, the `top` longest. */
  frames: FrameTime[];
  /**
   * Where each sample entered from, by time: the outermost frame of the application or a package
   * (Node's own internals skipped), i.e. which callback the loop was running; V8's pseudo frames
   * (program, garbage collector) stand for themselves.
   */
  entries: FrameTime[];
}

export interface StallOptions {
  /** Shortest stall reported, ms. */
  minMs: number;
  /** A sample this many times the profile's median interval apart is late. */
  lateFactor?: number;
  /** Frames and entries kept per stall. */
  top?: number;
}

/** Node's own scripts: `node:...` URLs, and pseudo frames without a script. */
function isNodeInternal(url: string): boolean {
  return url === '' || url.startsWith('node:');
}

/**
 * Stalls of at least `minMs`: runs of samples none of which is `(idle)` (the thread waiting in its
 * event loop's poll), their length the sum of the runs' sample deltas, in time order.
 */
export function findStalls(profile: CpuProfile, options: StallOptions): Stall[] {
  const lateFactor = options.lateFactor ?? 3;
  const top = options.top ?? 3;
  const byId = new Map<number, CpuProfile['nodes'][number]>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const entryOf = new Map<number, string>();
  const entry = (id: number): string => {
    let known = entryOf.get(id);
    if (known !== undefined) return known;
    // The outermost non-internal frame on the path from the root; else the sample's own frame.
    let outer: string | null = null;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      if (!isNodeInternal(f.url)) outer = frameName(f);
    }
    known = outer ?? frameName(byId.get(id)!.callFrame);
    entryOf.set(id, known);
    return known;
  };

  const n = Math.min(profile.samples.length, profile.timeDeltas.length);
  const deltas = profile.timeDeltas.slice(0, n).filter((d) => d > 0).sort((a, b) => a - b);
  const interval = deltas.length > 0 ? deltas[deltas.length >> 1]! : 1000;
  const stalls: Stall[] = [];
  let t = 0;
  let run: { start: number; end: number; waiting: number; gc: number; self: Map<string, number>; entries: Map<string, number> } | null = null;
  const close = (): void => {
    if (run !== null && (run.end - run.start) / 1000 >= options.minMs) {
      const ranked = (m: Map<string, number>): FrameTime[] => [...m]
        .map(([frame, us]) => ({ frame, selfUs: us, share: us / (run!.end - run!.start) }))
        .sort((a, b) => b.selfUs - a.selfUs || a.frame.localeCompare(b.frame)).slice(0, top);
      stalls.push({
        startMs: run.start / 1000, durationMs: (run.end - run.start) / 1000, waitingMs: run.waiting / 1000, gcMs: run.gc / 1000,
        frames: ranked(run.self), entries: ranked(run.entries),
      });
    }
    run = null;
  };
  for (let i = 0; i < n; i++) {
    const dt = Math.max(0, profile.timeDeltas[i]!);
    t += dt;
    const node = byId.get(profile.samples[i]!);
    const name = node === undefined ? '(unknown)' : frameName(node.callFrame);
    if (name === '(idle)') {
      close();
      continue;
    }
    run ??= { start: t - dt, end: t, waiting: 0, gc: 0, self: new Map(), entries: new Map() };
    run.end = t;
    if (dt > lateFactor * interval) run.waiting += dt - interval;
    if (name === '(garbage collector)') run.gc += dt;
    run.self.set(name, (run.self.get(name) ?? 0) + dt);
    const e = node === undefined ? name : entry(node.id);
    run.entries.set(e, (run.entries.get(e) ?? 0) + dt);
  }
  close();
  return stalls;
}

/**
 * A markdown table of a thread's stalls: how many, how long in all and how much of it waiting,
 * then the `longest` of them in time order.
 */
export function formatStalls(stalls: readonly Stall[], minMs: number, longest = 15): string {
  const total = stalls.reduce((a, s) => a + s.durationMs, 0);
  const waiting = stalls.reduce((a, s) => a + s.waitingMs, 0);
  const lines = [`Stalls of ${minMs} ms or more (the event loop not back in its poll): ${stalls.length}, ${total.toFixed(0)} ms in all, ` +
    `${waiting.toFixed(0)} ms of it waiting (late samples: no core).`];
  if (stalls.length === 0) return lines.join('\n') + '\n';
  const shown = [...stalls].sort((a, b) => b.durationMs - a.durationMs).slice(0, longest).sort((a, b) => a.startMs - b.startMs);
  lines.push('', `| at s | ms | waiting ms | GC ms | entered from | top frames (self ms) |`, '|---|---|---|---|---|---|');
  const list = (fs: FrameTime[]): string => fs.map((f) => `\`${f.frame}\` ${(f.selfUs / 1000).toFixed(0)}`).join(', ');
  for (const s of shown) {
    lines.push(`| ${(s.startMs / 1000).toFixed(2)} | ${s.durationMs.toFixed(1)} | ${s.waitingMs.toFixed(1)} | ${s.gcMs.toFixed(1)} | ${list(s.entries)} | ${list(s.frames)} |`);
  }
  return lines.join('\n') + '\n';
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  let top = 15;
  let stallMs = 0;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--top') top = Number(args[++i]);
    else if (args[i] === '--stalls') stallMs = Number(args[++i]);
    else files.push(args[i]!);
  }
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    process.stdout.write(formatSummary(basename(file), summarizeCpuProfile(profile), top) + '\n');
    if (stallMs > 0) process.stdout.write(formatStalls(findStalls(profile, { minMs: stallMs }), stallMs) + '\n');
  }
}
