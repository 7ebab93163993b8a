import type { Check, Thresholds } from './check.js';
import { DEFAULT_VENUES } from '../codec/synthetic.js';
import { VENUES } from '../normalize/index.js';

/**
 * Venues whose events are accepted unless `checks.knownVenues` says otherwise: every venue a
 * normalizer writes, and those the synthetic generator uses (today all among the former).
 */
export const DEFAULT_KNOWN_VENUES: readonly string[] = Object.freeze([...new Set<string>([...VENUES, ...DEFAULT_VENUES])]);

/** The `checks` config section (see docs/config.md and docs/checks.md). */
export interface CheckConfig {
  /** Check ids that do not run. */
  disabled: readonly string[];
  /** Global overrides: `{ "T2": { "maxSkewMs": 500 } }`. */
  thresholds: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Per venue: `{ "kraken": { "T3": { "maxLatencyMs": 5000 } } }`. */
  venues: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, number>>>>>>;
  /** Per venue and symbol, keyed `venue:symbol`: `{ "binance:BTC-USDT": { "M3": { "factor": 20 } } }`. */
  symbols: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, number>>>>>>;
  /** Venues whose events are accepted; the decoder refuses any other. Absent: `DEFAULT_KNOWN_VENUES`. */
  knownVenues?: readonly string[];
}

export const DEFAULT_CHECK_CONFIG: CheckConfig = { disabled: [], thresholds: {}, venues: {}, symbols: {} };

/** Every problem in a check config (unknown check or threshold, value out of range), each naming its key. */
export function checkConfigProblems(config: CheckConfig, checks: readonly Check[]): string[] {
  const byId = new Map(checks.map((c) => [c.id, c]));
  const problems: string[] = [];
  for (const id of config.disabled) if (!byId.has(id)) problems.push(`checks.disabled: unknown check '${id}' (see 'himari-l0 checks')`);
  const scan = (path: string, overrides: Readonly<Record<string, Readonly<Record<string, number>>>>) => {
    for (const [id, values] of Object.entries(overrides)) {
      const check = byId.get(id);
      if (check === undefined) { problems.push(`${path}.${id}: unknown check (see 'himari-l0 checks')`); continue; }
      for (const [name, value] of Object.entries(values)) {
        const spec = check.thresholds[name];
        if (spec === undefined) {
          const known = Object.keys(check.thresholds);
          problems.push(`${path}.${id}.${name}: unknown threshold of ${id} (${known.length === 0 ? 'it has none' : `known: ${known.join(', ')}`})`);
        } else if (typeof value !== 'number' || !Number.isFinite(value) || value < spec.min || value > spec.max) {
          problems.push(`${path}.${id}.${name}: ${JSON.stringify(value)} is outside [${spec.min}, ${spec.max}]`);
        }
      }
    }
  };
  scan('checks.thresholds', config.thresholds);
  for (const [venue, o] of Object.entries(config.venues)) scan(`checks.venues.${venue}`, o);
  for (const [key, o] of Object.entries(config.symbols)) {
    if (!/^[^:]+:.+$/.test(key)) problems.push(`checks.symbols.${key}: key must be 'venue:symbol'`);
    scan(`checks.symbols.${key}`, o);
  }
  return problems;
}

/** Thresholds of one check for one venue and symbol: defaults < venue default < global < venue < symbol. */
export function resolveThresholds(check: Check, venue: string, symbol: string, config: CheckConfig): Thresholds {
  const out: Record<string, number> = {};
  for (const [name, spec] of Object.entries(check.thresholds)) out[name] = spec.venues?.[venue] ?? spec.default;
  Object.assign(out, config.thresholds[check.id] ?? {}, config.venues[venue]?.[check.id] ?? {}, config.symbols[`${venue}:${symbol}`]?.[check.id] ?? {});
  return Object.freeze(out);
}
