import { ErrorCode } from '../errors.js';

/**
 * The checks the decoder runs (src/codec/decode.ts) before a message becomes an event. A message
 * failing one never reaches the workers' checks or the sinks: it is dead-lettered with the code
 * and the reason. Listed with the workers' checks (`himari-l0 checks`, docs/checks.md) so the
 * catalog a user reads is the whole list.
 */
export interface SchemaCheck {
  readonly id: string;
  readonly description: string;
  /** The dead letter's `x-error-code`. */
  readonly code: string;
}

export const SCHEMA_CHECKS: readonly SchemaCheck[] = Object.freeze([
  { id: 'S1', code: ErrorCode.DECODE_FAILED, description: 'the message decodes as msgpack or JSON (not empty, not truncated, no invalid UTF-8 in JSON, no declared length beyond the message), within kafka.maxMessageBytes (MESSAGE_TOO_LARGE beyond it)' },
  { id: 'S2', code: ErrorCode.SCHEMA_INVALID, description: 'a map with a known schema version (v) and event type (trade, quote, liquidation, book)' },
  { id: 'S3', code: ErrorCode.SCHEMA_INVALID, description: 'required fields present with their types: venue (one of checks.knownVenues), symbol, ts and recvTs as integer µs in 0..2^53-1; text without NUL, invalid UTF-8 or unpaired surrogates, at most 256 characters' },
  { id: 'S4', code: ErrorCode.SCHEMA_INVALID, description: 'numbers finite (no NaN, ±Infinity) and within the columns\' range; enumerations valid (side, posSide, book action, levels as [price, size] pairs)' },
]);
