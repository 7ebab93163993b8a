import type { Level, MarketEvent, MarketType } from '../codec/event.js';

/**
 * What became of one venue message: it gave events; it was ignored on purpose (a heartbeat, a
 * subscription answer, candles), counted under a bounded channel name; or it was not understood,
 * with the reason, so that the caller reports it with the raw message. Nothing is dropped
 * without one of the three.
 */
export type Disposition =
  | { readonly kind: 'events' }
  | { readonly kind: 'ignored'; readonly channel: string }
  | { readonly kind: 'unrecognized'; readonly reason: string };

/** The message gave at least one event. */
export const EVENTS: Disposition = Object.freeze({ kind: 'events' });

const IGNORED = new Map<string, Disposition>();

/** Deliberately ignored, counted under `channel` (one object per channel name, made once). */
export function ignored(channel: string): Disposition {
  let d = IGNORED.get(channel);
  if (d === undefined) {
    d = Object.freeze({ kind: 'ignored', channel });
    IGNORED.set(channel, d);
  }
  return d;
}

/** Not understood: an error the caller reports with the raw message. */
export function unrecognized(reason: string): Disposition {
  return { kind: 'unrecognized', reason };
}

/**
 * A venue normalizer turns one raw venue message (already JSON-parsed) into zero or more
 * normalized events. It keeps what state the venue's format needs (Bybit ticker deltas, Kraken
 * channel ids) and is owned by one replay or collector stream.
 */
export interface Normalizer {
  /** Normalized venue id written into every event. */
  readonly venue: string;
  /** Appends the events in `raw` to `out` and says what became of it; `recvTsUs` is the local receive time. */
  normalize(raw: unknown, recvTsUs: number, out: MarketEvent[]): Disposition;
  /**
   * The connection the following messages come from (its URL), where the URL says what the
   * messages do not: Bybit v5's category (`/v5/public/spot` and `/v5/public/linear` send the same
   * `BTCUSDT`).
   */
  connected?(url: string): void;
}

/** A message that is not a JSON object where the venue sends objects. */
export const NOT_AN_OBJECT = 'not a JSON object';

/** Parses a venue decimal (string or number); NaN when it is not one. */
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.length > 0) return Number(v);
  return NaN;
}

/**
 * A venue scalar (name, id) as text: what String() gives for a primitive, '' for an object or an
 * array. String() of a parsed object throws when the object has a `toString` key that is not
 * a function (`{"toString":1}`), and of deeply nested arrays it overflows the stack (join
 * recurses); no venue sends either where a name or an id belongs.
 */
export function text(v: unknown): string {
  return typeof v === 'object' && v !== null ? '' : String(v);
}

export function msToUs(ms: unknown): number {
  return Math.round(num(ms) * 1000);
}

/** ISO-8601 UTC time with up to 9 fractional digits → µs since the epoch (Date keeps only ms). */
export function isoToUs(iso: string): number {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(iso);
  if (m === null) return Math.round(Date.parse(iso) * 1000);
  const whole = Date.parse(m[1] + 'Z');
  const frac = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return whole * 1000 + Number(frac);
}

/** Seconds as a decimal string (Kraken) → µs. */
export function secondsToUs(s: unknown): number {
  return Math.round(num(s) * 1e6);
}

export function levels(raw: unknown): Level[] {
  const out: Level[] = [];
  if (!Array.isArray(raw)) return out;
  for (const l of raw) if (Array.isArray(l)) out.push([num(l[0]), num(l[1])]);
  return out;
}

const QUOTES = ['FDUSD', 'USDT', 'USDC', 'BUSD', 'TUSD', 'USD', 'EUR', 'GBP', 'TRY', 'BRL', 'BTC', 'ETH', 'BNB', 'DAI'];

/** `NKNUSDT` → `NKN-USDT` (Binance and Bybit concatenate base and quote). */
export function splitConcatenated(symbol: string): string {
  const s = symbol.toUpperCase();
  for (const q of QUOTES) {
    if (s.length > q.length && s.endsWith(q)) return `${s.slice(0, -q.length)}-${q}`;
  }
  return s;
}

const KRAKEN_ASSETS: Record<string, string> = { XBT: 'BTC', XDG: 'DOGE' };

/** `XMR/USD` → `XMR-USD`, `XBT/CHF` → `BTC-CHF`. */
export function krakenPair(pair: string): string {
  return pair.split('/').map((a) => KRAKEN_ASSETS[a] ?? a).join('-');
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An instrument as the events carry it: the normalized symbol, its market type, its contract size. */
export interface Instrument {
  symbol: string;
  market: MarketType;
  contractSize?: number;
}

/** A venue's instruments by the venue's symbol, each parsed once (per connection: `clear`). */
export class Instruments {
  private readonly bySymbol = new Map<string, Instrument>();

  constructor(private readonly parse: (venueSymbol: string) => Instrument) {}

  get(raw: unknown): Instrument {
    const key = text(raw);
    let i = this.bySymbol.get(key);
    if (i === undefined) {
      i = this.parse(key);
      this.bySymbol.set(key, i);
    }
    return i;
  }

  clear(): void {
    this.bySymbol.clear();
  }
}

/** The instrument's fields of an event (`contractSize` only where it has one). */
export function instrumentFields(i: Instrument): { market: MarketType; contractSize?: number } {
  return i.contractSize === undefined ? { market: i.market } : { market: i.market, contractSize: i.contractSize };
}
