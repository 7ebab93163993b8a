import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeDescribeGroups } from '../../src/kafka/group-state.js';
import { WireWriter } from '../../src/kafka/wire.js';

describe('DescribeGroups v1 response', () => {
  it('reads the state and each member\'s client id and host', () => {
    const body = new WireWriter()
      .int32(0) // throttle
      .int32(1) // groups
      .int16(0).str('himari-l0').str('Stable').str('consumer').str('range')
      .int32(2)
      .str('m-1').str('himari-l0').str('/10.0.0.5').bytes(Buffer.from([1, 2])).bytes(Buffer.alloc(0))
      .str('m-2').str('himari-l0-b').str('/10.0.0.6').bytes(Buffer.alloc(0)).bytes(Buffer.from([3]))
      .done();
    assert.deepEqual(decodeDescribeGroups(body), {
      state: 'Stable',
      members: [{ clientId: 'himari-l0', host: '10.0.0.5' }, { clientId: 'himari-l0-b', host: '10.0.0.6' }],
    });
  });

  it('throws on a group error and on a response cut short', () => {
    const failed = new WireWriter().int32(0).int32(1).int16(16).str('g').str('').str('').str('').int32(0).done();
    assert.throws(() => decodeDescribeGroups(failed), /broker error 16/);
    const cut = new WireWriter().int32(0).int32(1).int16(0).str('g').done();
    assert.throws(() => decodeDescribeGroups(cut), /cut short/);
  });
});
