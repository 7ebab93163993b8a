import type { Rate, TopView } from './top.js';

export interface FrameInfo {
  url: string;
  intervalS: number;
  /** Wall time of the newer scrape. */
  time: Date;
}

const NOT_EXPORTED = 'not exported by this processor';

/** One snapshot of the view as plain text lines (no escape codes: the TTY loop adds its own). */
export function renderTop(view: TopView, info: FrameInfo): string[] {
  const lines: string[] = [];
  const ready = view.ready === null ? '' : view.ready ? '  READY' : '  NOT READY';
  const flags = [view.paused ? 'PAUSED (sink backpressure)' : '', view.partitionsStopped ? `${view.partitionsStopped} PARTITIONS STOPPED` : ''].filter(Boolean).join('  ');
  lines.push(`himari-l0 top  ${info.url}  ${info.time.toISOString().slice(11, 19)} UTC  every ${info.intervalS} s${ready}${flags === '' ? '' : `  ${flags}`}`);
  if (view.intervalS === null) lines.push('(first scrape: rates after the next one)');
  lines.push(row('consumed', `${perS(view.consumed)}  (total ${count(view.consumed.total)})`));
  lines.push(row('events/s', view.verdicts.length === 0 ? '-' : view.verdicts.map((v) => `${v.verdict} ${perSBare(v)}`).join('  ')));
  lines.push(row('lag', view.lag === null ? `- (${NOT_EXPORTED})` : `${count(view.lag.sum)} messages over ${view.lag.partitions} partitions${view.lag.worst !== null && view.lag.worst.lag > 0 ? `; worst ${view.lag.worst.topic}[${view.lag.worst.partition}] ${count(view.lag.worst.lag)}` : ''}`));
  const w = view.workers;
  lines.push(row('workers', [
    w.utilization === null ? (w.threads === null ? `utilization - (${NOT_EXPORTED})` : 'utilization -') : `${(w.utilization * 100).toFixed(0)} % busy`,
    w.threads === null ? '' : `${w.threads} threads`,
    w.queueDepth === null ? '' : `queue ${count(w.queueDepth)} tasks`,
  ].filter(Boolean).join(', ')));
  lines.push(row('sinks', 'written/s      p50 ms      p99 ms'));
  if (view.sinks.length === 0) lines.push('  (none yet)');
  for (const s of view.sinks) {
    const latency = `${quantileMs(s.p50Ms, s.topBoundMs).padStart(10)}  ${quantileMs(s.p99Ms, s.topBoundMs).padStart(10)}`;
    const note = [s.window === 'total' ? 'since start (nothing new)' : '', s.outage ? 'OUTAGE' : ''].filter(Boolean).join('  ');
    lines.push(`  ${s.sink.padEnd(12)} ${perSBare(s.written).padStart(9)}  ${latency}${note === '' ? '' : `  ${note}`}`);
  }
  lines.push(row('check fails', view.checkFailures.length === 0 ? 'none' : view.checkFailures.map((c) => `${c.check} ${perSBare(c)} (${count(c.total)})`).join('  ')));
  lines.push(row('dead letters', view.deadLetters.length === 0 ? 'none' : view.deadLetters.map((d) => `${d.code} ${perSBare(d)} (${count(d.total)})`).join('  ')));
  lines.push(row('freshness', view.freshness.length === 0 ? `- (${NOT_EXPORTED} or no event yet)` : view.freshness.map((f) => `${f.venue} ${age(f.ageS)}`).join('  ')));
  return lines;
}

function row(label: string, text: string): string {
  return `${label.padEnd(13)} ${text}`;
}

function perS(r: Rate): string {
  return r.perS === null ? '-/s' : `${rateNumber(r.perS)}/s`;
}

function perSBare(r: Rate): string {
  return r.perS === null ? '-' : rateNumber(r.perS);
}

function rateNumber(n: number): string {
  return n >= 100 ? count(Math.round(n)) : n >= 10 ? n.toFixed(0) : n.toFixed(1);
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function ms(v: number | null): string {
  return v === null ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function quantileMs(v: number | null, topBoundMs: number | null): string {
  return v === Infinity ? `>${topBoundMs === null ? '?' : ms(topBoundMs)}` : ms(v);
}

function age(s: number): string {
  return s >= 120 ? `${(s / 60).toFixed(0)} min` : `${s.toFixed(1)} s`;
}
