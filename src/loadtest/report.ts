import type { LatencySummaryMs, LoadtestResult } from './result.js';
import { machineBudgetText } from './service-cpu.js';

/** One line of a chart: points in data units. */
export interface ChartSeries {
  name: string;
  points: Array<[number, number]>;
  color?: string;
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  logY?: boolean;
  /** Percentile plot: x holds percentiles (0..1), drawn on a log scale of 1/(1−p). */
  percentileX?: boolean;
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(0)}k`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 10 || a === 0) return String(+v.toFixed(0));
  if (a >= 1) return String(+v.toFixed(1));
  return String(+v.toPrecision(2));
}

/** About `n` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

/** An SVG line chart, self-contained (no script, no external resource). */
export function lineChart(o: ChartOptions): string {
  const W = o.width ?? 1300;
  const H = o.height ?? 320;
  const m = { l: 70, r: 170, t: 30, b: 45 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const tx = (x: number) => (o.percentileX ? -Math.log10(Math.max(1e-6, 1 - Math.min(x, 0.999999))) : x);
  const ty = (y: number) => (o.logY ? Math.log10(Math.max(y, 1e-3)) : y);
  const pts = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`];
  parts.push(`<text x="${m.l}" y="18" font-size="14" font-weight="bold">${esc(o.title)}</text>`);
  if (pts.length === 0) {
    parts.push(`<text x="${m.l + 10}" y="${m.t + ph / 2}">no data</text></svg>`);
    return parts.join('');
  }
  let x0 = Math.min(...pts.map((p) => tx(p[0])));
  let x1 = Math.max(...pts.map((p) => tx(p[0])));
  let y0 = o.logY ? Math.min(...pts.map((p) => ty(p[1]))) : Math.min(0, ...pts.map((p) => p[1]));
  let y1 = Math.max(...pts.map((p) => ty(p[1])));
  if (o.logY) { y0 = Math.floor(y0); y1 = Math.ceil(y1 + 1e-9); }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  if (!o.logY) y1 *= 1.05;
  if (o.percentileX) { x0 = 0; x1 = Math.max(x1, 3); }
  const X = (x: number) => m.l + ((tx(x) - x0) / (x1 - x0)) * pw;
  const Y = (y: number) => m.t + ph - ((ty(y) - y0) / (y1 - y0)) * ph;
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="#fff" stroke="#999"/>`);
  // y grid
  const yTicks = o.logY
    ? Array.from({ length: y1 - y0 + 1 }, (_, i) => y0 + i).flatMap((e) => [1, 2, 5].map((k) => k * 10 ** e)).filter((v) => ty(v) >= y0 && ty(v) <= y1)
    : niceTicks(y0, y1);
  for (const v of yTicks) {
    const y = Y(v);
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#eee"/><text x="${m.l - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
  }
  // x grid
  const xTicks = o.percentileX
    ? [0, 0.9, 0.99, 0.999, 0.9999, 0.99999].filter((p) => tx(p) <= x1)
    : niceTicks(x0, x1, 10);
  for (const v of xTicks) {
    const x = X(v);
    const label = o.percentileX ? `${+(v * 100).toPrecision(6)}%` : fmt(v);
    parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#eee"/><text x="${x.toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle">${label}</text>`);
  }
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 6}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}${o.logY ? ' (log)' : ''}</text>`);
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const d = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join('');
    if (d !== '') parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    if (s.points.length <= 40) for (const [x, y] of s.points) parts.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2.5" fill="${color}"/>`);
    const ly = m.t + 12 + i * 18;
    parts.push(`<line x1="${m.l + pw + 12}" x2="${m.l + pw + 36}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/><text x="${m.l + pw + 42}" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function table(head: string[], rows: Array<Array<string | number>>): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${
    rows.map((r) => `<tr>${r.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)} ms`;
const int = (v: number) => Math.round(v).toLocaleString('en-US');
const mb = (bytes: number) => `${Math.round(bytes / 1048576)} MB`;

function latencyCells(s: LatencySummaryMs | undefined): string[] {
  if (s === undefined || s.count === 0) return ['0', '', '', '', '', ''];
  return [int(s.count), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.p999), ms(s.max)];
}

/** The self-contained HTML report of a run: summary table and inline SVG charts. */
export function renderReport(r: LoadtestResult): string {
  const sinks = Object.keys(r.latency).sort();
  const what = r.mode === 'drain'
    ? `drain of a ${int(r.options.count)}-event backlog`
    : r.mode === 'find-max' ? `max-rate search, ${r.options.stepS} s steps`
      : `open loop, ${r.options.steps.map((s) => `${int(s.rate)}/s from ${s.fromS} s`).join(', ')} for ${r.options.durationS} s`
        + (r.warmup === undefined ? '' : ` after ${r.warmup.seconds} s of warm-up`);
  const summaryRows: Array<Array<string | number>> = [
    ['mode', what],
    ['started', r.startedAt],
    ['machine', `${r.machine.cores} cores, Node ${r.machine.node}, load average at start ${r.machine.loadavgAtStart.map((v) => v.toFixed(2)).join(' ')}`],
    ['processor start-up', `${int(r.processor.readyAfterMs)} ms from spawn to ready (it reports ${int(r.processor.reportedStartupMs)} ms for App.start)`],
    ['messages processed', int(r.processor.messages)],
    ['processor CPU', `${int(r.processor.cpuMs)} ms user+system ${r.warmup === undefined ? 'after ready' : 'in the measured window'} = ${r.processor.cpuUsPerMessage} µs per message`],
    ['peak RSS (VmHWM)', mb(r.processor.peakRssBytes)],
    ['generator', `${int(r.generator.produced)} sent, ${int(r.generator.delivered)} delivered, ${r.generator.failed} failed in ${r.generator.durationS.toFixed(1)} s (${int(r.generator.achievedRate)}/s); send lateness p99 ${ms(r.generator.lateness.p99)}, max ${ms(r.generator.lateness.max)}`],
  ];
  if (r.drain !== undefined) {
    const d = r.drain;
    summaryRows.push(
      ['backlog produced', `${int(d.count)} events in ${(d.produceMs / 1000).toFixed(1)} s (${int(d.produceRate)}/s), before the processor started`],
      ['drain', `${(d.drainMs / 1000).toFixed(1)} s from ready to the group's commits reaching the end: ${int(d.eventsPerSec)} events/s, ${d.cpuUsPerEvent} µs CPU per event`],
      ['machine idle', d.machineIdle === null ? 'not measured' : `${(d.machineIdle * 100).toFixed(1)} % of its ${r.machine.cores} cores over the drain (/proc/stat: what a second process could use)`],
      ['machine budget', machineBudgetText(d, r.machine.cores) ?? 'not measured'],
      ['Kafka read ceiling', `bare consume loop: ${int(d.ceiling.messages)} in ${(d.ceiling.totalMs / 1000).toFixed(1)} s incl. joining (${int((d.ceiling.messages * 1000) / d.ceiling.totalMs)}/s), ${int(d.ceiling.eventsPerSec)}/s first to last message; ${d.ceiling.cpuUsPerMessage} µs CPU per message, librdkafka's threads included (the floor under the processor's CPU per event)`],
      ['pipeline / ceiling', `${(d.ratioToCeiling * 100).toFixed(1)} % (both timed from joining the group)`],
    );
  }
  if (r.findMax !== undefined) summaryRows.push(['highest rate with bounded lag', `${int(r.findMax.foundRate)} events/s`]);
  if (r.warmup !== undefined) {
    summaryRows.push(['warm-up', `${int(r.warmup.messages)} events in the ${r.warmup.seconds} s before t = 0 at the first rate: not in the latency totals or the CPU per message (their latencies are in the table below); `
      + 'the totals start at the first whole second after it']);
  }
  if (r.transit !== undefined) {
    const t = r.transit;
    summaryRows.push(['Kafka transit alone', `before the processor started: ${int(t.rate)}/s on ${t.partitions} partitions for ${t.warmupS} s of warm-up and ${t.seconds} s measured, `
      + `read by a bare consumer with the processor's fetch settings: p50 ${ms(t.latency.p50)}, p99 ${ms(t.latency.p99)}, p99.9 ${ms(t.latency.p999)}, max ${ms(t.latency.max)} `
      + `(${int(t.latency.count)} messages; generator lateness p99 ${ms(t.generatorLateness.p99)}): the floor under the processor's latencies on this machine`]);
  }

  const sections: string[] = [];
  sections.push(`<section id="summary"><h2>Summary</h2>${table(['', ''], summaryRows)}
<h3>End-to-end latency: intended send → confirmed write (dispatch: → packed for a worker, before the checks)</h3>${table(['sink or stage', 'count', 'p50', 'p90', 'p99', 'p99.9', 'max'], sinks.map((s) => [s, ...latencyCells(r.latency[s]!.summary)]))}
${r.transit === undefined && r.warmup === undefined ? '' : `<h3>For comparison: Kafka alone, and the warm-up</h3>${table(['what', 'count', 'p50', 'p90', 'p99', 'p99.9', 'max'], [
    ...(r.transit === undefined ? [] : [['Kafka transit, bare consumer (intended send → consumed)', ...latencyCells(r.transit.latency)]]),
    ...Object.entries(r.warmup?.latency ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([s, l]) => [`warm-up: ${s}`, ...latencyCells(l)]),
  ])}`}
<h3>Sink writes (processor's /metrics at the end)</h3>${table(['sink', 'writes', 'mean write', 'mean events per write', 'connections', 'busy share of the run (per connection)', 'flushes by reason'],
    Object.entries(r.sinkWrites ?? {}).map(([s, w]) => [s, int(w.writes), ms(w.meanWriteMs), w.meanRows, int(w.connections), `${(w.busyShare * 100).toFixed(0)} %`, Object.entries(w.flushReasons).map(([k, v]) => `${k} ${int(v)}`).join(', ')]))}
${r.workerTasks === undefined ? '' : `<h3>Worker tasks</h3>${table(['tasks', 'mean messages per task', 'mean round trip'], [[int(r.workerTasks.tasks), r.workerTasks.meanMessages, ms(r.workerTasks.meanRoundTripMs)]])}`}
${r.loopDelays === undefined || Object.keys(r.loopDelays).length === 0 ? '' : `<h3>Event loops (the whole run, start-up included)</h3>${table(['thread', 'seconds', 'longest delay over 20 ms', 'over 50 ms', 'over 100 ms'],
    Object.entries(r.loopDelays).map(([t, d]) => [t, int(d.seconds), int(d.over20ms), int(d.over50ms), int(d.over100ms)]))}`}</section>`);

  const lat = r.latencyOverTime;
  const latCharts = sinks.map((s) => lineChart({
    title: `${s}: latency per second (events confirmed in that second)`, xLabel: 'seconds', yLabel: 'ms', logY: true,
    series: (['p50', 'p90', 'p99', 'p999', 'max'] as const).map((k) => ({ name: k === 'p999' ? 'p99.9' : k, points: lat.filter((row) => row.sinks[s] !== undefined).map((row) => [row.t, row.sinks[s]![k]] as [number, number]) })),
  }));
  const warmupNote = r.warmup === undefined ? '' : `<p>Seconds before 0 are the warm-up (not in the totals).</p>`;
  sections.push(`<section id="latency-over-time"><h2>Latency percentiles over time</h2>${warmupNote}${latCharts.join('\n')}</section>`);

  sections.push(`<section id="latency-distribution"><h2>Latency distribution</h2>${lineChart({
    title: 'percentile plot, whole run', xLabel: 'percentile', yLabel: 'ms', logY: true, percentileX: true,
    series: sinks.map((s) => ({ name: s, points: r.latency[s]!.percentiles.filter((p) => p.p < 1).map((p) => [p.p, p.ms] as [number, number]) })),
  })}</section>`);

  const rows = r.samples;
  const confirmed = sinks.map((s) => ({ name: `${s} confirmed/s`, dashed: true, points: lat.filter((row) => row.sinks[s] !== undefined).map((row) => [row.t, row.sinks[s]!.count] as [number, number]) }));
  sections.push(`<section id="throughput-lag"><h2>Throughput and consumer lag</h2>${lineChart({
    title: 'events per second', xLabel: 'seconds', yLabel: 'events/s',
    series: [{ name: 'sent/s', points: rows.map((x) => [x.t, x.sentPerS]) }, { name: 'committed/s', points: rows.map((x) => [x.t, x.committedPerS]) }, ...confirmed],
  })}\n${lineChart({ title: 'consumer lag (high watermark − committed offset, all partitions)', xLabel: 'seconds', yLabel: 'messages', series: [{ name: 'lag', points: rows.map((x) => [x.t, x.lag]) }] })}</section>`);

  sections.push(`<section id="cpu-rss"><h2>Processor CPU and memory</h2>${lineChart({
    title: 'CPU, all threads (100 % = one core)', xLabel: 'seconds', yLabel: '%', series: [{ name: 'CPU %', points: rows.map((x) => [x.t, x.cpuPct]) }],
  })}\n${lineChart({ title: 'resident set size', xLabel: 'seconds', yLabel: 'MB', series: [{ name: 'RSS MB', points: rows.map((x) => [x.t, x.rssMb]) }] })}</section>`);

  if (r.findMax !== undefined) {
    const f = r.findMax;
    sections.push(`<section id="find-max"><h2>Max-rate search</h2><p>${esc(f.criterion)}</p>${table(
      ['rate', 'sent/s', 'result', 'lag slope /s', 'final lag', 'max lag', 'why', 'redis p99', 'postgres p99', 'CPU µs/msg', 'recovery'],
      f.steps.map((s) => [int(s.rate), int(s.achievedRate), s.passed ? 'bounded' : 'not bounded', int(s.verdict.slopePerS), int(s.verdict.finalLag), int(s.verdict.maxLag), s.verdict.reason,
        s.latency.redis ? ms(s.latency.redis.p99) : '', s.latency.postgres ? ms(s.latency.postgres.p99) : '', s.cpuUsPerMessage, s.recoveryS === null ? '> 90 s' : `${s.recoveryS} s`]),
    )}${lineChart({
      title: 'lag during each step', xLabel: 'seconds into the step', yLabel: 'messages',
      series: f.steps.map((s) => ({ name: `${int(s.rate)}/s ${s.passed ? '✓' : '✗'}`, points: s.lagSamples.map((l) => [l.t, l.lag] as [number, number]) })),
    })}</section>`);
  }

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>himari-l0 load test ${esc(r.startedAt)}</title>
<style>body{font-family:sans-serif;margin:20px;color:#222;max-width:1340px}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}th{background:#f3f3f3}section{margin-bottom:28px}h2{border-bottom:1px solid #ddd}</style>
</head><body>
<h1>himari-l0 load test: ${esc(what)}</h1>
<p>Latency is measured by the processor, from each message's intended send time (the open-loop schedule, header <code>x-intended-ns</code>) to the moment the sink's write returned (Redis EVAL reply, PostgreSQL COMMIT), per wall-clock second. CPU and memory are the processor child's (/proc, all threads), sampled every second; lag is the group's committed offsets against the high watermarks.</p>
${sections.join('\n')}
</body></html>
`;
}
