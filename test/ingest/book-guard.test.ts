import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BookEvent, Level } from '../../src/codec/event.js';
import { BookGuard } from '../../src/ingest/book-guard.js';

function book(action: 'snapshot' | 'delta', seq: number, extra: Partial<BookEvent> = {}, bids: Level[] = [[100, 1]], asks: Level[] = [[101, 1]]): BookEvent {
  return { v: 1, type: 'book', venue: 'bybit', symbol: 'BTC-USDT', ts: 1, recvTs: 1, action, seq, bids, asks, ...extra };
}

describe('BookGuard: the books of venues that send their own snapshots', () => {
  it('Bybit v5: u + 1 per update; a skipped one breaks the book until the next snapshot', () => {
    const broken: string[] = [];
    const g = new BookGuard('plus-one', (symbol, why) => broken.push(`${symbol}: ${why}`));
    assert.equal(g.admit(book('delta', 5)), false, 'an update before any snapshot waits');
    assert.equal(g.admit(book('snapshot', 10)), true);
    assert.equal(g.admit(book('delta', 11)), true);
    assert.equal(g.admit(book('delta', 13)), false, '12 is missing');
    assert.deepEqual(broken, ['BTC-USDT: update 13 does not follow 11']);
    assert.equal(g.admit(book('delta', 14)), false, 'held back until the snapshot');
    assert.equal(g.admit(book('snapshot', 20)), true);
    assert.equal(g.admit(book('delta', 21)), true);
    assert.equal(g.resyncs, 1);
  });

  it('OKX: prevSeqId must be the previous seqId, and the checksum of the rebuilt top 25 must match', () => {
    const broken: string[] = [];
    const g = new BookGuard('prev-seq', (_s, why) => broken.push(why));
    const okx = (action: 'snapshot' | 'delta', seq: number, prevSeq: number, checksum: number, bids: Level[], asks: Level[]) =>
      book(action, seq, { venue: 'okx', prevSeq, checksum }, bids, asks);
    // OKX's checksum of bids [100, 1] and asks [101, 1]: crc32("100:1:101:1") as a signed integer.
    assert.equal(g.admit(okx('snapshot', 1, -1, 1189976625, [[100, 1]], [[101, 1]])), true);
    assert.equal(g.admit(okx('delta', 2, 1, 1189976625, [], [])), true, 'an update that changes nothing keeps the checksum');
    assert.equal(g.admit(okx('delta', 3, 2, 12345, [[100, 2]], [])), false, 'a checksum the rebuilt book does not have');
    assert.match(broken[0]!, /checksum 12345 does not match the book's/);
    assert.equal(g.admit(okx('snapshot', 9, -1, 1189976625, [[100, 1]], [[101, 1]])), true);
    assert.equal(g.admit(okx('delta', 11, 10, 1189976625, [], [])), false, 'prevSeqId 10 after seqId 9');
    assert.match(broken[1]!, /update 11 \(after 10\) does not follow 9/);
  });

  it('a lost connection unsyncs every book: updates wait for the snapshot the resubscription brings', () => {
    const g = new BookGuard('none', () => {});
    g.admit(book('snapshot', 1));
    assert.equal(g.admit(book('delta', 7)), true, "'none': no sequence to check");
    g.reset();
    assert.equal(g.admit(book('delta', 8)), false);
    assert.equal(g.resyncs, 0, 'a reset is not a broken book');
  });
});
