import { writeFileSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { CheckEngine } from '../src/checks/engine.js';
import { SharedReference } from '../src/checks/reference.js';
import { ALL_CHECKS } from '../src/checks/registry.js';
import { SyntheticMarket, symbolNames } from '../src/codec/synthetic.js';
import { decodeEvent } from '../src/codec/decode.js';
import { encodeEvent } from '../src/codec/encode.js';
import { EVENT_TYPES, type MarketEvent } from '../src/codec/event.js';
import { normalizeRecording } from '../src/replay/recording.js';
import { recordingFiles } from '../test/helpers/recordings.js';

/**
 * The whole check suite on one thread over a realistic mix: every real recording (all six
 * venues: book updates, quotes, trades) plus synthetic trades, quotes and liquidations, repeated
 * with shifted times and fresh trade ids so the state stays warm and valid. Reports ns per event
 * (tinybench, median) and the bytes allocated per event in the steady state: the heap growth over
 * the rest of a pass (about 250,000 events) with no GC in between. Run: `npm run bench:checks`.
 */
const LOOPS = 8;
const base: MarketEvent[] = recordingFiles().flatMap((f) => normalizeRecording(f));
const market = new SyntheticMarket(['binance', 'okx', 'bybit'], symbolNames(20), 9);
const t0 = base.length > 0 ? base[0]!.recvTs : Date.now() * 1000;
for (let i = 0; i < 20_000; i++) base.push(market.next(t0 + i * 100));
base.sort((a, b) => a.recvTs - b.recvTs);
const span = base[base.length - 1]!.recvTs - base[0]!.recvTs + 1_000_000;

// Pre-built copies: no allocation in the measured loop except what the checks do.
const events: MarketEvent[] = [];
for (let k = 0; k < LOOPS; k++) {
  for (const e of base) {
    const c = { ...e, ts: e.ts + k * span, recvTs: e.recvTs + k * span } as MarketEvent;
    // Fresh ids per pass, numeric where the venue's are (as Q6 and Q7 see them live).
    if (c.type === 'trade') c.id = /^\d{1,12}$/.test(c.id) ? String(Number(c.id) + k * 1e12) : `${c.id}~${k}`;
    // Through the wire form, as the worker's decoder hands events to the checks: one shape per
    // event type, flat strings (an id built here by concatenation would be a rope, which V8
    // flattens, allocating, the first time the checks read its characters).
    const wire = encodeEvent(c);
    const decoded = decodeEvent(wire, 0, wire.length);
    if (!decoded.ok) throw new Error(`bench event does not decode: ${decoded.failure.message}`);
    events.push(decoded.event);
  }
}
const mix: Record<string, number> = {};
for (const e of base) mix[e.type] = (mix[e.type] ?? 0) + 1;

let engine = new CheckEngine(ALL_CHECKS);
let i = 0;
const next = () => {
  if (i === events.length) { i = 0; engine = new CheckEngine(ALL_CHECKS); }
  engine.evaluate(events[i++]!, 0);
};
for (let w = 0; w < events.length; w++) next(); // warm up JIT and state

const bench = new Bench({ time: 2000, warmup: true });
bench.add(`${ALL_CHECKS.length} checks, one event`, next);
await bench.run();
const r = bench.tasks[0]!.result as unknown as { latency?: { p50?: number; mean?: number } };
const nsPerEvent = (r.latency?.p50 ?? r.latency?.mean ?? NaN) * 1e6;

// Steady-state allocation: the npm script runs this with a young generation large enough
// (--max-semi-space-size) that the loop triggers no GC, so the heap growth over the loop is
// exactly what it allocated; the GC count shows that held.
const gc = (globalThis as { gc?: () => void }).gc;
let minor = 0;
let major = 0;
const obs = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
    else major++;
  }
});
// A fresh engine sees the first events of the pass before the measured rest, so that every
// symbol's state exists (creating it allocates, once per symbol) and no engine is rebuilt during
// the measured loop.
const FIRST = Math.min(50_000, events.length);
function warmEngine(): CheckEngine {
  const e = new CheckEngine(ALL_CHECKS);
  for (let j = 0; j < FIRST; j++) e.evaluate(events[j]!, 0);
  return e;
}
/** Heap and time around the rest of the pass; the heap is read right after the loop. */
function measuredRest(e: CheckEngine): { heapBefore: number; heapAfter: number; ms: number; events: number } {
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  for (let j = FIRST; j < events.length; j++) e.evaluate(events[j]!, 0);
  const ms = performance.now() - started;
  const heapAfter = process.memoryUsage().heapUsed;
  return { heapBefore, heapAfter, ms, events: events.length - FIRST };
}
// Once unmeasured: V8 compiles the measuring loop itself during its first run (on-stack
// replacement), and that code is allocated on the heap too.
measuredRest(warmEngine());
const measured = warmEngine();
gc?.();
obs.observe({ entryTypes: ['gc'] });
const { heapBefore, heapAfter, ms: elapsed, events: done } = measuredRest(measured);
await new Promise((res) => setTimeout(res, 50));
obs.disconnect();
gc?.();
const heapAfterGc = process.memoryUsage().heapUsed;

// The cross-venue reference: what one worker pays per price update and per median read with the
// shared table, against the alternative of telling the other workers by message (a
// MessageChannel per peer: structured clone + delivery, measured until the peer has it).
const reference = SharedReference.create(4096);
const venues = ['binance', 'coinbase', 'kraken', 'okx', 'bybit'];
const refSymbols = symbolNames(200);
const entries = refSymbols.flatMap((sym) => venues.map((v) => ({ instrument: reference.instrument(sym), entry: reference.entry(reference.instrument(sym), v, sym) })));
const stream = { refEntry: 0, refPrice: 0, eventTs: 0, silenceUs: 5_000_000, moveBp: NaN, liqWindowNotional: 0, liqLastTs: 0 };
let k = 0;
const refBench = new Bench({ time: 1000, warmup: true });
refBench.add('shared table: publish one price', () => {
  const x = entries[k++ % entries.length]!;
  stream.refEntry = x.entry; stream.refPrice = 100 + (k & 7); stream.eventTs = 1_000_000 + k;
  reference.publish(stream, 0);
});
refBench.add('shared table: median of the other 4 venues', () => {
  const x = entries[k++ % entries.length]!;
  stream.eventTs = 1_000_000 + k;
  reference.median(x.instrument, x.entry, stream, 2000);
});
const { port1, port2 } = new MessageChannel();
let delivered = 0;
port2.on('message', () => { delivered++; });
refBench.add('message per update to one peer (MessageChannel, delivered)', async () => {
  const before = delivered;
  port1.postMessage({ instrument: 'BTC-USDT', venue: 'okx', price: 100 + (k++ & 7), ts: 1_000_000 + k });
  while (delivered === before) await new Promise((res) => setImmediate(res));
});
await refBench.run();
port1.close();
const refRows = refBench.tasks.map((t) => {
  const lat = (t.result as unknown as { latency?: { p50?: number } }).latency?.p50 ?? NaN;
  return `| ${t.name} | ${(lat * 1e6).toFixed(0)} ns |`;
}).join('\n');

const md = `# Check suite benchmark

\`npm run bench:checks\`, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, one thread.
Mix: ${base.length} events per pass (${Object.entries(mix).map(([k, v]) => `${v} ${k}`).join(', ')}) from every
recording in shared/data plus synthetic trades, quotes and liquidations; ${LOOPS} passes with shifted times.

| measure | value |
|---|---|
| checks (those examining the event's type run on it) | ${ALL_CHECKS.length} (${EVENT_TYPES.map((t) => `${t} ${ALL_CHECKS.filter((c) => c.evaluate[t] !== undefined).length}`).join(', ')}) |
| time per event (tinybench median, includes its per-call overhead) | ${nsPerEvent.toFixed(0)} ns |
| time per event, plain loop over ${done} events | ${((elapsed * 1e6) / done).toFixed(0)} ns |
| young-generation GCs during that loop | ${minor} |
| full GCs during that loop | ${major} |
| heap used before / after the loop / after a full GC | ${(heapBefore / 1048576).toFixed(1)} MiB / ${(heapAfter / 1048576).toFixed(1)} MiB / ${(heapAfterGc / 1048576).toFixed(1)} MiB (${heapAfterGc <= heapBefore ? 'nothing retained' : `${((heapAfterGc - heapBefore) / 1024).toFixed(0)} KiB retained`}) |
| allocated per event (heap growth / events${minor + major === 0 ? ', no GC in between' : ', GCs in between: a lower bound'}) | ${((heapAfter - heapBefore) / done).toFixed(2)} bytes (${heapAfter - heapBefore} bytes in all) |

## Cross-venue reference: shared table vs messages

Per operation (tinybench median). With N workers, a message design pays the message once per
peer per update, and a reader sees prices as of its last drained message; the shared table pays a
publish per update and a median per read, nothing per peer.

| operation | p50 |
|---|---|
${refRows}
`;
writeFileSync(fileURLToPath(new URL('../../bench/checks-results.md', import.meta.url)), md);
process.stdout.write(md);
