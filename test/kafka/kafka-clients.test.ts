import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Kafka from 'node-rdkafka';
import { ErrorCode, HimariError } from '../../src/errors.js';
import { KafkaClientError, KafkaCode } from '../../src/kafka/kafka-clients.js';
import { fromWireError, toWireError } from '../../src/kafka/port-protocol.js';

const DIST_SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** The modules `file` imports statically (not `import type`, not `import()`), recursively, that name `target`. */
function staticImportChains(file: string, target: string): string[] {
  const seen = new Set<string>();
  const chains: string[] = [];
  const walk = (f: string, chain: string[]) => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const m of readFileSync(f, 'utf8').matchAll(/^import\s+(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (spec === target) chains.push([...chain, f].map((x) => x.slice(DIST_SRC.length + 1)).join(' -> '));
      else if (spec.startsWith('.')) walk(resolve(dirname(f), spec), [...chain, f]);
    }
  };
  walk(file, []);
  return chains;
}

describe('Kafka clients boundary', () => {
  it('knows librdkafka\'s error codes as node-rdkafka names them', () => {
    const E = Kafka.CODES.ERRORS;
    assert.deepEqual(KafkaCode, {
      MSG_SIZE_TOO_LARGE: E.ERR_MSG_SIZE_TOO_LARGE, MSG_TIMED_OUT: E.ERR__MSG_TIMED_OUT, TRANSPORT: E.ERR__TRANSPORT,
      ALL_BROKERS_DOWN: E.ERR__ALL_BROKERS_DOWN, QUEUE_FULL: E.ERR__QUEUE_FULL,
    });
  });

  it('keeps node-rdkafka out of the pipeline\'s static imports: it loads only through LocalKafkaClients', () => {
    // A pipeline off the main thread must not load it (it runs its callbacks on the main loop).
    for (const entry of ['app.js', 'pipeline.js', 'kafka/port-clients.js']) {
      assert.deepEqual(staticImportChains(resolve(DIST_SRC, entry), 'node-rdkafka'), [], entry);
    }
    // The guard sees an import where there is one.
    assert.notDeepEqual(staticImportChains(resolve(DIST_SRC, 'kafka/local-clients.js'), 'node-rdkafka'), []);
  });

  it('carries an error across the port typed as it was thrown', () => {
    const typed = fromWireError(structuredClone(toWireError(new HimariError(ErrorCode.CONFIG_INVALID, 'topics missing', { retriable: false, context: { missing: ['a'] } }))));
    assert.ok(typed instanceof HimariError);
    assert.equal((typed as HimariError).code, ErrorCode.CONFIG_INVALID);
    assert.equal((typed as HimariError).retriable, false);
    assert.deepEqual((typed as HimariError).context, { missing: ['a'] });
    assert.equal(typed.message, 'topics missing');
    const native = fromWireError(structuredClone(toWireError(Object.assign(new Error('Local: Message timed out'), { code: KafkaCode.MSG_TIMED_OUT }))));
    assert.equal((native as { code?: unknown }).code, KafkaCode.MSG_TIMED_OUT);
    assert.equal(native.message, 'Local: Message timed out');
    assert.ok(native instanceof KafkaClientError);
    const other = fromWireError(toWireError('a string'));
    assert.equal(other.message, 'a string');
    assert.equal((other as HimariError).code, ErrorCode.KAFKA_ERROR);
  });
});
