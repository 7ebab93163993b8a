import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describePartitionKey, partitionKey } from '../../src/source/partition-key.js';

describe('partitionKey', () => {
  it('tells partitions apart that a plain concatenation would confuse', () => {
    assert.notEqual(partitionKey('a1', 2), partitionKey('a', 12));
    assert.equal(partitionKey('market.events', 3), partitionKey('market.events', 3));
  });

  it('describes a key as topic[partition], topics with dots and digits included', () => {
    assert.equal(describePartitionKey(partitionKey('it.x1.dlq', 11)), 'it.x1.dlq[11]');
  });
});
