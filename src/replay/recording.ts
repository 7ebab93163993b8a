import { readFileSync } from 'node:fs';
import type { MarketEvent } from '../codec/event.js';
import { BinanceNormalizer, createNormalizer, venueOfRecording } from '../normalize/index.js';

/** One line of a cryptofeed "raw" recording that carries exchange data. */
export interface RecordedMessage {
  /** Local receive time, µs. */
  recvTsUs: number;
  /** The exchange payload, parsed. */
  payload: unknown;
  /** For REST responses: the URL requested. */
  url?: string;
}

/**
 * Parses a cryptofeed raw recording: `<ts>: <json>` is a received message, `<url> <-> <ts>` a
 * connection, `<url> <- <ts>: <json>` a sent request (both skipped), and in `*.http.*` files
 * `<url> -> <ts>: <json>` a REST response.
 */
export function readRecording(path: string): RecordedMessage[] {
  const out: RecordedMessage[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.length === 0) continue;
    const sep = line.indexOf(': ');
    if (sep < 0) continue; // connection lines
    const left = line.slice(0, sep);
    const json = line.slice(sep + 2);
    if (/^\d+(\.\d+)?$/.test(left)) {
      out.push({ recvTsUs: Math.round(Number(left) * 1e6), payload: JSON.parse(json) });
    } else {
      const rest = / -> (\d+(?:\.\d+)?)$/.exec(left);
      if (rest !== null) out.push({ recvTsUs: Math.round(Number(rest[1]) * 1e6), payload: JSON.parse(json), url: left.slice(0, rest.index) });
    }
  }
  return out;
}

/** Normalized events of one recording file, in recorded order, each with its receive time. */
export function normalizeRecording(path: string): MarketEvent[] {
  const venue = venueOfRecording(path);
  if (venue === null) throw new Error(`${path}: unknown venue (expected a cryptofeed file name such as BINANCE.ws.1.0)`);
  const normalizer = createNormalizer(venue);
  const out: MarketEvent[] = [];
  for (const m of readRecording(path)) {
    if (m.url !== undefined) {
      const symbol = /[?&]symbol=([A-Za-z0-9]+)/.exec(m.url)?.[1];
      if (symbol !== undefined && normalizer instanceof BinanceNormalizer) normalizer.snapshot(symbol, m.payload, m.recvTsUs, out);
      continue;
    }
    normalizer.normalize(m.payload, m.recvTsUs, out);
  }
  return out;
}
