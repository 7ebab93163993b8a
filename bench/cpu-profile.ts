import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Summarises V8 `.cpuprofile` files (`node --cpu-prof`, one per thread) by self time per
 * function, for scripts/profile.sh. Usage: `node dist/bench/cpu-profile.js [--top N] FILE...`
 * prints a markdown section per file.
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

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  let top = 15;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--top') top = Number(args[++i]);
    else files.push(args[i]!);
  }
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    process.stdout.write(formatSummary(basename(file), summarizeCpuProfile(profile), top) + '\n');
  }
}
