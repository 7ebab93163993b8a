import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { MarketEvent } from '../codec/event.js';
import type { Disposition } from '../normalize/common.js';
import { BinanceNormalizer, createNormalizer, venueOfRecording, type Venue } from '../normalize/index.js';
import { ErrorCode, HimariError } from '../errors.js';

/** One line of a cryptofeed "raw" recording that carries exchange data. */
export interface RecordedMessage {
  /** Local receive time, µs. */
  recvTsUs: number;
  /** The exchange payload, parsed. */
  payload: unknown;
  /** For REST responses: the URL requested. */
  url?: string;
  /** 1-based line number in the file. */
  line: number;
  /** The payload as recorded (for error reports). */
  text: string;
  /** Set on a connection line instead of a message: the URL the following messages come from. */
  connect?: string;
}

/** A line or message the reader or the normalizer could not use, with the raw text. */
export interface RecordingProblem {
  line: number;
  reason: string;
  /** The recorded line (cut to RAW_CHARS). */
  raw: string;
}

/** Where every message of a recording went: messages = withEvents + ignored + errors. */
export interface RecordingReport {
  file: string;
  venue: Venue | null;
  /** Received messages and REST responses (connection lines and sent requests are not messages). */
  messages: number;
  /** Messages that gave at least one event. */
  withEvents: number;
  events: number;
  /** Messages deliberately ignored, by channel (heartbeats, subscription answers, candles). */
  ignored: Record<string, number>;
  /** Messages and lines that could not be used; `problems` holds the first PROBLEMS_KEPT. */
  errors: number;
  problems: RecordingProblem[];
  /** Why the file as a whole cannot be read (unknown venue, unknown format), or null. */
  unreadable: string | null;
}

const PROBLEMS_KEPT = 20;
const RAW_CHARS = 300;

/**
 * Parses a cryptofeed raw recording: `<ts>: <json>` is a received message, `<url> <-> <ts>` a
 * connection (an entry with `connect`, not a message), `<url> <- <ts>: <json>` a sent request
 * (skipped), in
 * `*.http.*` files `<url> -> <ts>: <json>` a REST response, and `configuration: {...}` a header.
 * Any other line, and a message that is not JSON, is a problem, reported with the line.
 */
export function readRecording(path: string): { messages: RecordedMessage[]; problems: RecordingProblem[]; recognizedLines: number } {
  const messages: RecordedMessage[] = [];
  const problems: RecordingProblem[] = [];
  let recognizedLines = 0;
  const lines = readFileSync(path, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length === 0) continue;
    const problem = (reason: string) => problems.push({ line: i + 1, reason, raw: line.slice(0, RAW_CHARS) });
    const connection = / <-> (\d+(?:\.\d+)?)$/.exec(line);
    if (connection !== null) {
      recognizedLines++;
      messages.push({ recvTsUs: Math.round(Number(connection[1]) * 1e6), payload: undefined, line: i + 1, text: '', connect: line.slice(0, connection.index) });
      continue;
    }
    if (line.startsWith('configuration: ')) { recognizedLines++; continue; }
    const sep = line.indexOf(': ');
    if (sep < 0) { problem('not a line of a cryptofeed raw recording'); continue; }
    const left = line.slice(0, sep);
    const json = line.slice(sep + 2);
    let recvTsUs: number;
    let url: string | undefined;
    if (/^\d+(\.\d+)?$/.test(left)) {
      recvTsUs = Math.round(Number(left) * 1e6);
    } else if (/ <- \d+(\.\d+)?$/.test(left)) {
      recognizedLines++;
      continue; // a request the recorder sent
    } else {
      const rest = / -> (\d+(?:\.\d+)?)$/.exec(left);
      if (rest === null) { problem('not a line of a cryptofeed raw recording'); continue; }
      recvTsUs = Math.round(Number(rest[1]) * 1e6);
      url = left.slice(0, rest.index);
    }
    recognizedLines++;
    let payload: unknown;
    try {
      payload = JSON.parse(json);
    } catch (err) {
      problem(`message is not JSON: ${(err as Error).message}`);
      continue;
    }
    messages.push({ recvTsUs, payload, ...(url === undefined ? {} : { url }), line: i + 1, text: json });
  }
  return { messages, problems, recognizedLines };
}

/**
 * Normalized events of one recording file, in recorded order, each with its receive time, and
 * the report of where every message went. Never throws for what is in the file. `onProgress`
 * hears every 1024th message (how many so far, of how many).
 */
export function readRecordingEvents(path: string, onProgress?: (done: number, total: number) => void): { events: MarketEvent[]; report: RecordingReport } {
  const venue = venueOfRecording(path);
  const report: RecordingReport = { file: path, venue, messages: 0, withEvents: 0, events: 0, ignored: {}, errors: 0, problems: [], unreadable: null };
  const events: MarketEvent[] = [];
  const name = basename(path);
  if (/\.(zst|gz|xz|bz2)$/.test(name)) {
    report.unreadable = `compressed (${name.slice(name.lastIndexOf('.'))}): decompress it first (zstd -d, gunzip)`;
    return { events, report };
  }
  if (venue === null) {
    report.unreadable = 'unknown venue: expected a cryptofeed file name such as BINANCE.ws.1.0 or BINANCE_FUTURES.http.0.0';
    return { events, report };
  }
  const { messages, problems, recognizedLines } = readRecording(path);
  const problem = (p: RecordingProblem) => {
    report.errors++;
    if (report.problems.length < PROBLEMS_KEPT) report.problems.push(p);
  };
  for (const p of problems) problem(p);
  if (recognizedLines === 0) {
    report.unreadable = 'unknown format: no line is a cryptofeed raw recording line (`<unix_ts>: <json>`, `<url> <-> <ts>`, ...)';
    return { events, report };
  }
  const normalizer = createNormalizer(venue);
  let seen = 0;
  for (const m of messages) {
    if (onProgress !== undefined && (++seen & 1023) === 0) onProgress(seen, messages.length);
    if (m.connect !== undefined) {
      normalizer.connected?.(m.connect);
      continue;
    }
    report.messages++;
    const before = events.length;
    let d: Disposition;
    if (m.url !== undefined) {
      const symbol = /[?&]symbol=([^&]+)/.exec(m.url)?.[1];
      if (symbol === undefined || !(normalizer instanceof BinanceNormalizer)) d = { kind: 'unrecognized', reason: `REST response from ${m.url} (only Binance depth snapshots are read)` };
      else d = normalizer.snapshot(decodeURIComponent(symbol), m.payload, m.recvTsUs, events);
    } else {
      d = normalizer.normalize(m.payload, m.recvTsUs, events);
    }
    if (d.kind === 'events') {
      report.withEvents++;
      report.events += events.length - before;
    } else if (d.kind === 'ignored') {
      report.ignored[d.channel] = (report.ignored[d.channel] ?? 0) + 1;
    } else {
      problem({ line: m.line, reason: d.reason, raw: m.text.slice(0, RAW_CHARS) });
    }
  }
  report.messages += problems.length;
  return { events, report };
}

/** Normalized events of one recording file (see `readRecordingEvents` for the accounting). */
export function normalizeRecording(path: string): MarketEvent[] {
  const { events, report } = readRecordingEvents(path);
  if (report.unreadable !== null) throw new HimariError(ErrorCode.INVALID_INPUT, `${path}: ${report.unreadable}`);
  return events;
}

/** What makes a replay of this file fail: no events, an unreadable file, or messages not understood. */
export function recordingFailure(report: RecordingReport): string | null {
  if (report.unreadable !== null) return report.unreadable;
  if (report.errors > 0) return `${report.errors} message${report.errors === 1 ? '' : 's'} not understood`;
  if (report.events === 0) return 'no events';
  return null;
}
