import { Piscina } from 'piscina';
import { decodeEvent } from '../src/codec/decode.js';
import { Verdict, type MarketEvent } from '../src/codec/event.js';
import { PackedBatch, packValues } from '../src/batch/pack.js';
import { encodeEvent } from '../src/codec/encode.js';
import { DEFAULT_VENUES, SyntheticMarket, symbolNames } from '../src/codec/synthetic.js';
import { checkMask, hasCheckBit } from '../src/checks/check.js';
import { ALL_CHECKS } from '../src/checks/registry.js';
import { CheckEngine, type CheckOutcome } from '../src/checks/engine.js';
import { DEFAULT_CHECK_CONFIG, DEFAULT_KNOWN_VENUES, type CheckConfig } from '../src/checks/thresholds.js';
import { SharedReference } from '../src/checks/reference.js';
import { osThreadId } from '../src/obs/os-thread.js';
import { ByteWriter } from '../src/sinks/byte-writer.js';
import { writeBinaryRow } from '../src/sinks/pg-row.js';
import { writeRedisRecord } from '../src/sinks/redis-record.js';
import type { CheckResult, CheckTask, CheckWorkerData, DeadLetterReport } from '../src/pool/task.js';

/**
 * Piscina worker: decodes a packed batch, runs the checks and returns ready-to-write sink
 * payloads. Every partition is pinned to one worker, so the per-symbol state of the checks
 * lives here and sees each symbol's events in order.
 */
// The pool passes the validated `checks` config section as workerData; tests and benchmarks
// that call checkBatch in-process get the defaults (or call configureChecks).
// The cross-venue reference is one SharedArrayBuffer the pool hands every worker (structured
// clone shares it, never copies).
const workerData = Piscina.workerData as CheckWorkerData | undefined;
const sharedReference = workerData?.reference === undefined ? undefined : new SharedReference(workerData.reference);
let checkConfig = workerData?.checks ?? DEFAULT_CHECK_CONFIG;
let engine = new CheckEngine(ALL_CHECKS, checkConfig, sharedReference);
// One Set per configuration: a lookup per message, no allocation.
let knownVenues: ReadonlySet<string> = new Set(checkConfig.knownVenues ?? DEFAULT_KNOWN_VENUES);
const idleUs = (workerData?.symbolIdleMs ?? 3_600_000) * 1000;
if (Piscina.isWorkerThread) setInterval(() => engine.evictIdle(Date.now() * 1000, idleUs), 60_000).unref();

export function configureChecks(config: CheckConfig, reference?: SharedReference): void {
  checkConfig = config;
  engine = new CheckEngine(ALL_CHECKS, config, reference);
  knownVenues = new Set(config.knownVenues ?? DEFAULT_KNOWN_VENUES);
}

// Events the cascade stream carries: any reject, and any cascade indicator.
const cascade = checkMask(ALL_CHECKS, (c) => c.group === 'cascade');

/**
 * What the cascade stream says about an event: every check it failed with the value measured
 * and the limit. Built only for rejects and cascade indicators (rare), so it may allocate.
 */
function cascadeDetails(o: CheckOutcome): string {
  let out = '[';
  for (const c of ALL_CHECKS) {
    if (!hasCheckBit(o.failedLo, o.failedHi, c.bit)) continue;
    if (out.length > 1) out += ',';
    out += '{"id":"' + c.id + '","severity":"' + c.severity + '","value":' + jsonNumber(o.values[c.bit]!) + ',"threshold":' + jsonNumber(o.limits[c.bit]!) + '}';
  }
  return out + ']';
}

function jsonNumber(v: number): string {
  return Number.isFinite(v) ? String(v) : 'null';
}
const copyWriter = new ByteWriter(256 * 1024);
const redisWriter = new ByteWriter(256 * 1024);

/**
 * The per-message tables of the batch being checked, reused from task to task (grown when a batch
 * is larger): the result gets them copied into its one buffer (`resultBuffer`).
 */
let verdictTable = new Uint8Array(1024);
let copyEndTable = new Uint32Array(1024);
let redisEndTable = new Uint32Array(1024);
const failureTable = new Uint32Array(64);

/**
 * One buffer holds all of a result's arrays (views: copyEnds, redisEnds, checkFailures, verdicts,
 * then the COPY rows and the Redis records), so a result moves two buffers (it and the task's
 * batch) instead of seven, and the worker allocates one per batch instead of six. Every buffer
 * moved is adopted by the receiving thread's heap and swept by its GC, whose mark-compacts were
 * the pipeline thread's longest stalls at 10,000 events/s (measured together with that thread's
 * young-generation cap, `src/pipeline-thread.ts`; draining, the two check workers' CPU per event
 * was 7.0-8.8 µs against 7.3-8.0 before, three rounds each: no difference beyond the runs' spread).
 */
function resultBuffer(n: number): Pick<CheckResult, 'verdicts' | 'copyEnds' | 'redisEnds' | 'checkFailures' | 'copyRows' | 'redisRecords'> {
  const copyBytes = copyWriter.length;
  const redisBytes = redisWriter.length;
  const failuresAt = 8 * n;
  const verdictsAt = failuresAt + 4 * failureTable.length;
  const copyAt = verdictsAt + n;
  const redisAt = copyAt + copyBytes;
  const buffer = new ArrayBuffer(redisAt + redisBytes);
  const copyEnds = new Uint32Array(buffer, 0, n);
  copyEnds.set(copyEndTable.subarray(0, n));
  const redisEnds = new Uint32Array(buffer, 4 * n, n);
  redisEnds.set(redisEndTable.subarray(0, n));
  const checkFailures = new Uint32Array(buffer, failuresAt, failureTable.length);
  checkFailures.set(failureTable);
  const verdicts = new Uint8Array(buffer, verdictsAt, n);
  verdicts.set(verdictTable.subarray(0, n));
  const copyRows = new Uint8Array(buffer, copyAt, copyBytes);
  copyWriter.moveInto(copyRows);
  const redisRecords = new Uint8Array(buffer, redisAt, redisBytes);
  redisWriter.moveInto(redisRecords);
  return { verdicts, copyEnds, redisEnds, checkFailures, copyRows, redisRecords };
}

/** Transferable wrapper: Piscina moves every listed buffer instead of copying it. */
class MovedResult {
  constructor(private readonly result: CheckResult) {}
  get [Piscina.transferableSymbol](): ArrayBufferLike[] {
    const r = this.result;
    // Every array of the result but the batch is a view of one buffer (`resultBuffer`).
    return [r.batch, r.verdicts.buffer];
  }
  get [Piscina.valueSymbol](): CheckResult {
    return this.result;
  }
}

/** Decodes and checks one packed batch (exported on its own for tests and benchmarks). */
export function checkBatch(task: CheckTask): CheckResult {
  const started = performance.now();
  const result = checkBatchWith(engine, task.batch, Date.now() * 1000, knownVenues);
  result.busyMs = performance.now() - started;
  result.osThreadId = OS_THREAD_ID;
  return result;
}

/** This worker's id in /proc: the load test tells its CPU apart from the other threads'. */
const OS_THREAD_ID = osThreadId();

/** `venues`: the venues accepted (undefined: any). */
function checkBatchWith(engine: CheckEngine, packed: ArrayBuffer, nowUs: number, venues: ReadonlySet<string> | undefined): CheckResult {
  const batch = new PackedBatch(packed);
  const n = batch.count;
  if (verdictTable.length < n) {
    let size = verdictTable.length * 2;
    while (size < n) size *= 2;
    verdictTable = new Uint8Array(size);
    copyEndTable = new Uint32Array(size);
    redisEndTable = new Uint32Array(size);
  }
  const verdicts = verdictTable;
  const copyEnds = copyEndTable;
  const redisEnds = redisEndTable;
  const checkFailures = failureTable;
  checkFailures.fill(0);
  // A batch that threw midway (its retry runs here again, split) left its bytes behind.
  copyWriter.reset();
  redisWriter.reset();
  const symbols: string[] = new Array<string>(n);
  const deadLetters: DeadLetterReport[] = [];

  for (let i = 0; i < n; i++) {
    const decoded = decodeEvent(batch.bytes, batch.messageStart(i), batch.messageEnd(i), venues);
    if (!decoded.ok) {
      verdicts[i] = Verdict.DEAD_LETTER;
      symbols[i] = '';
      deadLetters.push({ index: i, code: decoded.failure.code, message: decoded.failure.message });
    } else {
      const e = decoded.event;
      const o = engine.evaluate(e, nowUs);
      verdicts[i] = o.verdict;
      if (o.failedLo !== 0 || o.failedHi !== 0) countBits(checkFailures, o.failedLo, o.failedHi);
      symbols[i] = e.symbol;
      const details = o.verdict === Verdict.REJECTED || (o.failedLo & cascade.lo) !== 0 || (o.failedHi & cascade.hi) !== 0 ? cascadeDetails(o) : '';
      writeBinaryRow(copyWriter, e, o, batch.partition(i), batch.offset(i));
      writeRedisRecord(redisWriter, batch.offset(i), e, o, details);
    }
    copyEnds[i] = copyWriter.length;
    redisEnds[i] = redisWriter.length;
  }

  const result: CheckResult = {
    batch: packed, count: n, symbols,
    ...resultBuffer(n), deadLetters, busyMs: 0, osThreadId: 0,
  };
  return result;
}

function countBits(counts: Uint32Array, lo: number, hi: number): void {
  for (let b = 0; b < 32; b++) {
    if ((lo >>> b) & 1) counts[b]!++;
    if ((hi >>> b) & 1) counts[32 + b]!++;
  }
}

/** Simulated time between warm-up events: 30,000 of them span the 10 minutes C5 needs. */
const WARMUP_STEP_US = 25_000;
const WARMUP_BATCH = 1000;

/**
 * Runs `count` synthetic trades, quotes and liquidations through the whole per-batch path
 * (decode, every check, COPY row, Redis record) so that V8 has compiled it before the first real
 * event. The events span minutes of simulated time, so the checks that need history run all of
 * their code. They go to an engine and a cross-venue reference of their own, thrown away after:
 * no real per-symbol state or shared price sees them.
 */
export function warmUp(count: number): void {
  const warmEngine = new CheckEngine(ALL_CHECKS, checkConfig, SharedReference.create(64));
  const market = new SyntheticMarket(DEFAULT_VENUES, symbolNames(8), 7);
  let nowUs = Date.now() * 1000 - count * WARMUP_STEP_US;
  for (let done = 0; done < count; done += WARMUP_BATCH) {
    const values: Uint8Array[] = [];
    const n = Math.min(WARMUP_BATCH, count - done);
    for (let i = 0; i < n; i++) {
      values.push(encodeEvent(market.next(nowUs)));
      nowUs += WARMUP_STEP_US;
    }
    // Every synthetic venue is let through, configured or not: the warm-up is there to run the checks.
    checkBatchWith(warmEngine, packValues(values, done), nowUs, undefined);
  }
}

/** The Piscina entry point: the result's buffers are moved to the main thread, not copied. */
export default function runCheckTask(task: CheckTask): CheckResult {
  if (task.warmupEvents !== undefined && task.warmupEvents > 0) warmUp(task.warmupEvents);
  return Piscina.move(new MovedResult(checkBatch(task)) as never) as unknown as CheckResult;
}
