import { ErrorCode, HimariError } from '../errors.js';
import type { CommitPoint } from '../source/offset-tracker.js';
import type { TopicPartition } from '../source/source.js';
import { KafkaClientError, type DeadLetterScanRequest, type SinkProducerKind } from './kafka-clients.js';

/**
 * The messages between `PortKafkaClients` (the pipeline's end) and `serveKafkaClients` (the end
 * node-rdkafka lives at), src/kafka/port-clients.ts and src/kafka/serve-clients.ts. Plain data:
 * what a structured clone keeps. Consumed batches travel as their moved buffer.
 */

/** A call that the thread answers with a `Reply` of the same id. */
export type Call =
  | { op: 'call'; id: number; method: 'verifyAccess'; timeoutMs: number | undefined }
  | { op: 'call'; id: number; method: 'ensureTopics' | 'requireTopics'; topics: string[] }
  | { op: 'call'; id: number; method: 'scanDeadLetters'; req: DeadLetterScanRequest }
  | { op: 'call'; id: number; method: 'source.connect' | 'source.stop' }
  | { op: 'call'; id: number; method: 'source.commitAndWait'; points: CommitPoint[]; timeoutMs: number }
  | { op: 'call'; id: number; method: 'source.brokerAnswers'; timeoutMs: number }
  | { op: 'call'; id: number; method: 'source.disconnect'; leaveGroup: boolean }
  | { op: 'call'; id: number; method: 'producer.connect'; producer: number }
  | { op: 'call'; id: number; method: 'producer.partitionCount'; producer: number; topic: string; timeoutMs: number }
  | { op: 'call'; id: number; method: 'producer.produce'; producer: number; records: PackedRecord[]; values: ArrayBuffer }
  | { op: 'call'; id: number; method: 'producer.close'; producer: number; flushMs: number; graceful: boolean };

/**
 * A record to produce without its value: the values of a call travel in one buffer, back to back
 * (a Buffer view sent on its own would be cloned with its whole backing store).
 */
export interface PackedRecord {
  topic: string;
  partition: number;
  key: Uint8Array | string | null;
  headers: Array<Record<string, string>>;
  valueBytes: number;
}

/** What the pipeline's end says without waiting for an answer. */
export type Command =
  | { op: 'source.create'; bindings: Record<string, unknown> }
  | { op: 'source.start' | 'source.pause' | 'source.resume' }
  /** The pipeline took a consumed batch off the port: the loop may consume another. */
  | { op: 'source.taken' }
  | { op: 'source.stopPartition'; topic: string; partition: number; why: string }
  | { op: 'source.commit'; points: CommitPoint[] }
  | { op: 'source.revokeDone'; id: number }
  /** A sink producer of `kind`, known by `producer` (an id the pipeline's thread gives) from then on. */
  | { op: 'producer.create'; producer: number; kind: SinkProducerKind; bindings: Record<string, unknown> }
  /** The pipeline is done with the clients (closed by then): the port closes. */
  | { op: 'close' };

/** What the clients' end tells the pipeline's end. */
export type Event =
  | { op: 'reply'; id: number; ok: true; value: unknown }
  | { op: 'reply'; id: number; ok: false; error: WireError }
  | { op: 'batch'; buffer: ArrayBuffer; topics: string[] }
  | { op: 'assigned'; partitions: TopicPartition[] }
  | { op: 'revoked'; id: number; partitions: TopicPartition[] }
  | { op: 'commitConfirmed' | 'commitFailed'; points: CommitPoint[] }
  | { op: 'watermarks'; highs: Array<[string, number, number]> };

/** An error as data: a structured clone keeps only an Error's message and stack. */
export interface WireError {
  name: string;
  message: string;
  stack: string | undefined;
  /** A HimariError's code (a string) or librdkafka's (a number). */
  code: string | number | undefined;
  retriable: boolean | undefined;
  context: Record<string, unknown> | undefined;
}

export function toWireError(err: unknown): WireError {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as Partial<HimariError> & { code?: unknown; stack?: string };
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    message: typeof e.message === 'string' ? e.message : String(err),
    stack: e.stack,
    code: typeof e.code === 'string' || typeof e.code === 'number' ? e.code : undefined,
    retriable: typeof e.retriable === 'boolean' ? e.retriable : undefined,
    context: e.context,
  };
}

const CODES = new Set<string>(Object.values(ErrorCode));

/**
 * The error again, typed: a HimariError keeps its code, retriable flag and context; librdkafka's
 * (a numeric code) is a KafkaClientError; anything else a KAFKA_ERROR with its message.
 */
export function fromWireError(w: WireError): Error {
  let err: Error;
  if (typeof w.code === 'string' && CODES.has(w.code)) {
    err = new HimariError(w.code as ErrorCode, w.message, { ...(w.retriable === undefined ? {} : { retriable: w.retriable }), ...(w.context === undefined ? {} : { context: w.context }) });
  } else if (typeof w.code === 'number') {
    err = new KafkaClientError(w.code, w.message, w.retriable);
  } else {
    err = new HimariError(ErrorCode.KAFKA_ERROR, w.message, { ...(w.retriable === undefined ? {} : { retriable: w.retriable }), ...(w.context === undefined ? {} : { context: w.context }) });
  }
  if (w.stack !== undefined) err.stack = w.stack;
  return err;
}
