/**
 * A reader of the Prometheus text exposition format (0.0.4), enough for prom-client's output and
 * any other exporter's: `# TYPE` lines, samples `name{label="value",...} value [timestamp]`, label
 * values with the escapes \\ \" \n, and the values NaN, +Inf, -Inf (in any case).
 */

export interface Sample {
  labels: Readonly<Record<string, string>>;
  value: number;
}

/** Samples by sample name (`himari_end_to_end_seconds_bucket`), with the time they were read. */
export interface Scrape {
  /** When the scrape was taken (ms, a monotonic or wall clock: only differences are used). */
  at: number;
  samples: ReadonlyMap<string, readonly Sample[]>;
  /** `# TYPE` of each metric family (counter, gauge, histogram, summary, untyped). */
  types: ReadonlyMap<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/** Parses one exposition; a malformed line is skipped (an exporter's bug must not blind the view). */
export function parsePromText(text: string, at: number): Scrape {
  const samples = new Map<string, Sample[]>();
  const types = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (m !== null) types.set(m[1]!, m[2]!);
      continue;
    }
    const sample = parseSampleLine(line);
    if (sample === null) continue;
    let list = samples.get(sample.name);
    if (list === undefined) samples.set(sample.name, list = []);
    list.push({ labels: sample.labels, value: sample.value });
  }
  return { at, samples, types };
}

function parseSampleLine(line: string): { name: string; labels: Record<string, string>; value: number } | null {
  const m = NAME.exec(line);
  if (m === null) return null;
  const name = m[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') { i++; break; }
      const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (key === null) return null;
      i += key[0].length;
      while (line[i] === ' ') i++;
      if (line[i] !== '=' || line[i + 1] !== '"') return null;
      i += 2;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) return null;
        if (c === '"') { i++; break; }
        if (c === '\\') {
          const next = line[i + 1];
          value += next === 'n' ? '\n' : next ?? '';
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      labels[key[0]] = value;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  const value = parseValue(rest[0] ?? '');
  return value === null ? null : { name, labels, value };
}

/** As Prometheus (Go's ParseFloat): Inf and NaN in any case (prom-client writes `Nan`). */
function parseValue(s: string): number | null {
  const lower = s.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  if (s === '') return null;
  const n = Number(s);
  return Number.isNaN(n) ? null : n;
}

/** The samples of `name` whose labels include every pair of `match`. */
export function samplesOf(scrape: Scrape, name: string, match: Readonly<Record<string, string>> = {}): Sample[] {
  const list = scrape.samples.get(name) ?? [];
  const keys = Object.keys(match);
  return keys.length === 0 ? [...list] : list.filter((s) => keys.every((k) => s.labels[k] === match[k]));
}

/** Sum of the samples of `name` matching `match`; undefined when there is none (not exported). */
export function sumOf(scrape: Scrape, name: string, match: Readonly<Record<string, string>> = {}): number | undefined {
  const list = samplesOf(scrape, name, match);
  if (list.length === 0) return undefined;
  let sum = 0;
  for (const s of list) sum += s.value;
  return sum;
}

/** Sums of `name` by the value of one label, the others summed over. */
export function sumBy(scrape: Scrape, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of scrape.samples.get(name) ?? []) {
    const key = s.labels[label] ?? '';
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}
