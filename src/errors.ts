/**
 * One error type for the whole processor. Classify by `code`, never by `instanceof`:
 * errors that cross the worker boundary lose their class (structured clone keeps only
 * message and stack), so workers report failures as plain `{ code, message }` data.
 */
export const ErrorCode = {
  /** Configuration failed validation; the message names every bad key. */
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** Message bytes are neither valid msgpack nor valid JSON. */
  DECODE_FAILED: 'DECODE_FAILED',
  /** Decoded, but not a known schema version / event type, or fields are missing or malformed. */
  SCHEMA_INVALID: 'SCHEMA_INVALID',
  /** Message is larger than the configured cap; never decoded. */
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  /** A sink could not write a batch; `retriable` says whether the retry loop may try again. */
  SINK_WRITE_FAILED: 'SINK_WRITE_FAILED',
  /** A sink rejected one event for good (e.g. a value PostgreSQL refuses). */
  SINK_REJECTED: 'SINK_REJECTED',
  /**
   * A dead letter the broker refused for good (`kafka.deadLetterMaxAttempts` times): its source
   * partition stops, since its offset cannot be committed without losing the message.
   */
  DEAD_LETTER_FAILED: 'DEAD_LETTER_FAILED',
  /** A worker thread died or a task failed; the batch is retried on a fresh worker. */
  WORKER_FAILED: 'WORKER_FAILED',
  /** Kafka client error (connection, metadata, commit). */
  KAFKA_ERROR: 'KAFKA_ERROR',
  /** A required local service (Kafka, Redis, PostgreSQL) is not reachable at start. */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** The processor is closing; work submitted now is refused. */
  CLOSED: 'CLOSED',
  /** Something did not happen within its bound (a scan, an assignment, a drain). */
  TIMEOUT: 'TIMEOUT',
  /** Messages produced (replay, a load test's backlog) were not all acknowledged by the broker. */
  DELIVERY_FAILED: 'DELIVERY_FAILED',
  /** A file or an encoded value given to a command cannot be used (a recording, a histogram). */
  INVALID_INPUT: 'INVALID_INPUT',
  /** An invariant of the processor broke: a bug, reported with what was found. */
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface HimariErrorOptions {
  cause?: unknown;
  retriable?: boolean;
  context?: Record<string, unknown>;
}

export class HimariError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly context: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: HimariErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HimariError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.context = options.context;
  }
}

/**
 * Whether trying again may help: a typed error says for itself (`retriable`); any other error is
 * left to `classify` (a sink driver knows its client's errors), and is not retriable without one.
 */
export function isRetriable(err: unknown, classify?: (err: unknown) => boolean): boolean {
  const typed = typeof err === 'object' && err !== null ? (err as { retriable?: unknown }).retriable : undefined;
  if (typeof typed === 'boolean') return typed;
  return classify?.(err) ?? false;
}

/**
 * The wait before retry `attempt` (0-based): exponential from `initialMs`, capped at `maxMs`,
 * with full jitter (uniform in [0, cap)), so that many writers failing together do not retry
 * together (AWS's "Exponential Backoff and Jitter").
 */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  return random() * Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
