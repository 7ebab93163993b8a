import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Summarises `perf script -F comm,pid,tid,ip,sym` output of one processor run (recorded with
 * call graphs, `node --perf-basic-prof` for JavaScript names) by thread: what each kind of thread
 * costs per event and where. V8's CPU profiles show the main thread's native work, node-rdkafka
 * building message objects among it, only as "(program)"; perf sees those frames.
 * Usage: `perf script ... | node dist/bench/perf-summary.js --events N --freq HZ [--top N]`.
 */

export interface Sample {
  comm: string;
  pid: number;
  tid: number;
  /** Leaf first. */
  frames: string[];
}

/** Parses perf script's text: one block per sample, a header line (comm pid/tid) then a frame per line. */
export function parsePerfScript(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    const header = lines[0];
    if (header === undefined) continue;
    const m = /^\s*(.+?)\s+(\d+)\/(\d+)\s*$/.exec(header);
    if (m === null) continue;
    const frames = lines.slice(1).map((l) => l.trim().replace(/^[0-9a-f]+\s+/, '').replace(/\s+\([^)]*\)$/, ''));
    samples.push({ comm: m[1]!, pid: Number(m[2]), tid: Number(m[3]), frames });
  }
  return samples;
}

export type ThreadClass = 'main' | 'pipeline' | 'check worker' | 'librdkafka' | 'V8 helpers' | 'other';

/**
 * What a thread is: the process's first thread is the main thread, librdkafka names its threads
 * `rdk:*`, a check worker runs the worker's JavaScript, the pipeline thread
 * (`workers.pipelineThread`) runs the dispatcher's, and V8's platform threads (parallel
 * scavenges, concurrent marking, compilation) run no JavaScript at all.
 */
export function classifyThreads(samples: readonly Sample[]): Map<number, ThreadClass> {
  const byTid = new Map<number, Sample[]>();
  for (const s of samples) {
    const list = byTid.get(s.tid);
    if (list === undefined) byTid.set(s.tid, [s]); else list.push(s);
  }
  const classes = new Map<number, ThreadClass>();
  for (const [tid, list] of byTid) {
    const first = list[0]!;
    let cls: ThreadClass;
    if (tid === first.pid) cls = 'main';
    else if (first.comm.startsWith('rdk:')) cls = 'librdkafka';
    else if (list.some((s) => s.frames.some((f) => f.includes('check-worker')))) cls = 'check worker';
    else if (list.some((s) => s.frames.some((f) => f.includes('/pool/dispatcher.js') || f.includes('pipeline-thread-main')))) cls = 'pipeline';
    else if (list.some((s) => s.frames.some((f) => f.startsWith('JS:')))) cls = 'other';
    else if (list.filter((s) => s.frames.some((f) => f.startsWith('v8::internal::'))).length * 2 >= list.length) cls = 'V8 helpers';
    else cls = 'other';
    classes.set(tid, cls);
  }
  return classes;
}

/** What the main thread's time goes to, by the first category any frame of a sample matches. */
export const MAIN_THREAD_CATEGORIES: ReadonlyArray<[string, RegExp]> = [
  ['node-rdkafka: building message objects', /NodeKafka::Conversion::Message/],
  ['node-rdkafka: the rest of a consume callback', /NodeKafka::|rd_kafka/],
  ['garbage collection', /Scavenger|MarkCompact|Heap::CollectGarbage|Heap::PerformGarbageCollection|ArrayBufferSweeper/],
  ['socket writes (Redis, PostgreSQL)', /uv__write|\bwritev\b|__writev|StreamBase::Write|LibuvStreamWrap::DoTryWrite/],
  ['message ports (tasks and results)', /MessagePort|ValueSerializer|ValueDeserializer/],
  ['start-up (compiling modules, TLS roots)', /CompileSourceTextModule|BuiltinLoader|CompileFunctionForCJSLoader|NewRootCertStore|UseExtraCaCerts/],
];

export interface ThreadSummary {
  cls: ThreadClass;
  threads: number;
  samples: number;
  /** Leaf symbol -> samples, most first. */
  leaves: Array<[string, number]>;
  /** Main thread only: category -> samples (inclusive), in MAIN_THREAD_CATEGORIES order, then JavaScript and other. */
  categories: Array<[string, number]>;
}

export function summarise(samples: readonly Sample[]): ThreadSummary[] {
  const classes = classifyThreads(samples);
  const order: ThreadClass[] = ['main', 'pipeline', 'check worker', 'librdkafka', 'V8 helpers', 'other'];
  const out: ThreadSummary[] = [];
  for (const cls of order) {
    const mine = samples.filter((s) => classes.get(s.tid) === cls);
    if (mine.length === 0) continue;
    const leaves = new Map<string, number>();
    for (const s of mine) {
      const leaf = s.frames[0] ?? '[unknown]';
      leaves.set(leaf, (leaves.get(leaf) ?? 0) + 1);
    }
    const categories: Array<[string, number]> = [];
    if (cls === 'main') {
      const counts = new Map<string, number>();
      for (const s of mine) {
        const hit = MAIN_THREAD_CATEGORIES.find(([, re]) => s.frames.some((f) => re.test(f)));
        const name = hit !== undefined ? hit[0] : s.frames[0]?.startsWith('JS:') === true ? 'JavaScript (self)' : 'other native';
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      for (const name of [...MAIN_THREAD_CATEGORIES.map(([n]) => n), 'JavaScript (self)', 'other native']) categories.push([name, counts.get(name) ?? 0]);
    }
    out.push({
      cls, threads: new Set(mine.map((s) => s.tid)).size, samples: mine.length,
      leaves: [...leaves].sort((a, b) => b[1] - a[1]), categories,
    });
  }
  return out;
}

function pct(n: number, of: number): string {
  return of === 0 ? '-' : `${(100 * n / of).toFixed(1)} %`;
}

export function renderSummary(threads: readonly ThreadSummary[], events: number, freqHz: number, top: number): string {
  const all = threads.reduce((n, t) => n + t.samples, 0);
  const usPerEvent = (samples: number): string => (events > 0 ? `${(samples / freqHz * 1e6 / events).toFixed(2)}` : '-');
  const lines = [
    `# perf: CPU by thread, ${events} events, ${freqHz} Hz sampling`,
    '',
    '| threads | count | samples | share | µs per event |',
    '|---|---|---|---|---|',
    ...threads.map((t) => `| ${t.cls} | ${t.threads} | ${t.samples} | ${pct(t.samples, all)} | ${usPerEvent(t.samples)} |`),
    `| all | | ${all} | 100 % | ${usPerEvent(all)} |`,
  ];
  for (const t of threads) {
    lines.push('', `## ${t.cls}`, '');
    if (t.categories.length > 0) {
      lines.push('| where (inclusive) | samples | share | µs per event |', '|---|---|---|---|');
      for (const [name, n] of t.categories) lines.push(`| ${name} | ${n} | ${pct(n, t.samples)} | ${usPerEvent(n)} |`);
      lines.push('');
    }
    lines.push('| leaf frame | samples | share |', '|---|---|---|');
    for (const [leaf, n] of t.leaves.slice(0, top)) lines.push(`| \`${leaf.replaceAll('|', '\\|')}\` | ${n} | ${pct(n, t.samples)} |`);
  }
  return lines.join('\n') + '\n';
}

function main(argv: string[]): void {
  let events = 0;
  let freq = 499;
  let top = 15;
  for (let i = 0; i < argv.length; i += 2) {
    const v = Number(argv[i + 1]);
    if (argv[i] === '--events') events = v;
    else if (argv[i] === '--freq') freq = v;
    else if (argv[i] === '--top') top = v;
    else throw new Error(`unknown argument ${argv[i]} (--events N --freq HZ --top N)`);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${argv[i]} needs a number, got ${argv[i + 1]}`);
  }
  process.stdout.write(renderSummary(summarise(parsePerfScript(readFileSync(0, 'utf8'))), events, freq, top));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));
