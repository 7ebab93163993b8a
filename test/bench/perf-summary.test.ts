import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyThreads, parsePerfScript, renderSummary, summarise } from '../../bench/perf-summary.js';

// perf script -F comm,pid,tid,ip,sym output: a header per sample, its stack leaf first.
const SCRIPT = `
node   100/100
\t    7f01 v8::Object::Set (/usr/bin/node)
\t    7f02 NodeKafka::Conversion::Message::ToV8Object (/x/node-librdkafka.node)
\t    7f03 uv__async_io (/usr/bin/node)

node   100/100
\t    7f04 JS:*prepareTask file:///app/dist/src/pool/dispatcher.js:121:16 (/tmp/perf-100.map)

node   100/100
\t    7f05 __writev (/lib/libc.so.6)
\t    7f06 uv__write (/usr/bin/node)

node   100/100
\t    7f07 v8::internal::Scavenger::ScavengeObject (/usr/bin/node)

node   101/101
\t    7f08 JS:*evaluate file:///app/dist/src/checks/engine.js:146:13 (/tmp/perf-100.map)
\t    7f09 JS:*checkBatchWith file:///app/dist/workers/check-worker.js:98:24 (/tmp/perf-100.map)

node   100/102
\t    7f0a JS:*evaluate file:///app/dist/src/checks/engine.js:146:13 (/tmp/perf-100.map)
\t    7f0b JS:*checkBatchWith file:///app/dist/workers/check-worker.js:98:24 (/tmp/perf-100.map)

node   100/103
\t    7f0c v8::internal::Scavenger::ScavengeObject (/usr/bin/node)

rdk:broker1   100/104
\t    7f0d rd_kafka_transport_io_serve (/x/node-librdkafka.node)

node   100/105
\t    7f0e JS:*prepareTask file:///app/dist/src/pool/dispatcher.js:121:16 (/tmp/perf-100.map)
`;

describe('perf summary', () => {
  const samples = parsePerfScript(SCRIPT);

  it('reads every sample with its thread and stack, leaf first, without addresses or objects', () => {
    assert.equal(samples.length, 9);
    assert.deepEqual(samples[0], { comm: 'node', pid: 100, tid: 100, frames: ['v8::Object::Set', 'NodeKafka::Conversion::Message::ToV8Object', 'uv__async_io'] });
    assert.equal(samples[1]!.frames[0], 'JS:*prepareTask file:///app/dist/src/pool/dispatcher.js:121:16');
  });

  it('tells the main thread, the pipeline thread, check workers, librdkafka and V8 helpers apart (another process is not the main thread)', () => {
    assert.deepEqual([...classifyThreads(samples)].sort((a, b) => a[0] - b[0]),
      [[100, 'main'], [101, 'main'], [102, 'check worker'], [103, 'V8 helpers'], [104, 'librdkafka'], [105, 'pipeline']]);
  });

  it('splits the main thread by category and renders µs per event from the sampling rate', () => {
    const threads = summarise(samples.filter((s) => s.pid === 100));
    const main = threads.find((t) => t.cls === 'main')!;
    assert.equal(main.samples, 4);
    assert.deepEqual(Object.fromEntries(main.categories.filter(([, n]) => n > 0)), {
      'node-rdkafka: building message objects': 1, 'garbage collection': 1, 'socket writes (Redis, PostgreSQL)': 1, 'JavaScript (self)': 1,
    });
    const text = renderSummary(threads, 1000, 1000, 5);
    // 4 samples at 1000 Hz over 1000 events: 4 µs per event.
    assert.match(text, /\| main \| 1 \| 4 \| 50\.0 % \| 4\.00 \|/);
    assert.match(text, /\| pipeline \| 1 \| 1 \| 12\.5 % \| 1\.00 \|/);
    assert.match(text, /\| all \| \| 8 \| 100 % \| 8\.00 \|/);
  });
});
