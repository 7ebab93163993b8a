import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OffsetTracker } from '../../src/source/offset-tracker.js';

describe('offset tracking', () => {
  it('commits only the contiguous prefix when batches complete out of order', () => {
    const tracker = new OffsetTracker();
    const p = tracker.partition('t', 0);
    const a = p.track(0, 9, 2);
    const b = p.track(10, 19, 2);
    const c = p.track(20, 29, 2);
    // Batch c completes first (another worker / a faster sink): nothing may be committed.
    c.ack(); c.ack();
    assert.deepEqual(tracker.takeCommits(), []);
    b.ack(); b.ack();
    assert.deepEqual(tracker.takeCommits(), []);
    a.ack();
    assert.deepEqual(tracker.takeCommits(), [], 'one sink of two is not enough');
    a.ack();
    assert.deepEqual(tracker.takeCommits(), [{ topic: 't', partition: 0, offset: 30 }]);
    assert.equal(tracker.inFlight(), 0);
  });

  it('a refused commit is taken again until it lands, unless a later one was sent or the partition was revoked', () => {
    const tracker = new OffsetTracker();
    tracker.partition('t', 0).track(0, 9, 1).ack();
    assert.deepEqual(tracker.takeCommits(), [{ topic: 't', partition: 0, offset: 10 }]);
    assert.deepEqual(tracker.takeCommits(), [], 'an idle partition has nothing new');
    tracker.commitFailed('t', 0, 10);
    assert.deepEqual(tracker.takeCommits(), [{ topic: 't', partition: 0, offset: 10 }], 'retried with no new message');
    tracker.commitFailed('t', 0, 10);
    tracker.commitFailed('t', 0, 10);
    assert.deepEqual(tracker.takeCommits(), [{ topic: 't', partition: 0, offset: 10 }], 'once per refusal round');
    // A later commit was sent before the earlier one's refusal arrived: the later one stands.
    tracker.partition('t', 0).track(10, 19, 1).ack();
    assert.deepEqual(tracker.takeCommits(), [{ topic: 't', partition: 0, offset: 20 }]);
    tracker.commitFailed('t', 0, 10);
    assert.deepEqual(tracker.takeCommits(), []);
    // Revoked: its next owner commits it.
    tracker.commitFailed('t', 0, 20);
    tracker.forget('t', 0);
    assert.deepEqual(tracker.takeCommits(), []);
  });

  it('tracks partitions independently and reports only changes', () => {
    const tracker = new OffsetTracker();
    const p0 = tracker.partition('t', 0).track(100, 100, 1);
    const p1 = tracker.partition('t', 1).track(5, 7, 1);
    p1.ack();
    assert.deepEqual(tracker.takeCommits(), [{ topic: 't', partition: 1, offset: 8 }]);
    assert.deepEqual(tracker.takeCommits(), []);
    p0.ack();
    assert.deepEqual(tracker.takeCommits(), [{ topic: 't', partition: 0, offset: 101 }]);
    assert.deepEqual(tracker.unconfirmedCommits().sort((x, y) => x.partition - y.partition), [
      { topic: 't', partition: 0, offset: 101 }, { topic: 't', partition: 1, offset: 8 },
    ]);
  });

  it('leaves out of the final commit what the broker confirmed (re-sending it during a rebalance is refused)', () => {
    const tracker = new OffsetTracker();
    tracker.partition('t', 0).track(0, 9, 1).ack();
    tracker.partition('t', 1).track(0, 4, 1).ack();
    assert.equal(tracker.takeCommits().length, 2);
    tracker.commitConfirmed('t', 0, 10);
    tracker.commitConfirmed('t', 1, 3); // an older point: partition 1 is still to be committed
    assert.deepEqual(tracker.unconfirmedCommits(), [{ topic: 't', partition: 1, offset: 5 }]);
    tracker.commitConfirmed('t', 1, 5);
    assert.deepEqual(tracker.unconfirmedCommits(), []);
    tracker.partition('t', 0).track(10, 19, 1).ack();
    assert.deepEqual(tracker.unconfirmedCommits(), [{ topic: 't', partition: 0, offset: 20 }]);
  });

  it('counts acknowledgements added after the ticket opened (sinks known after the worker)', () => {
    const tracker = new OffsetTracker();
    const t = tracker.partition('t', 0).track(0, 4, 1);
    t.expect(3); // two sinks and one dead letter
    t.ack(); t.ack(); t.ack();
    assert.deepEqual(tracker.takeCommits(), []);
    let released = false;
    t.onDone = () => { released = true; };
    t.ack();
    assert.equal(released, true);
    assert.deepEqual(tracker.takeCommits(), [{ topic: 't', partition: 0, offset: 5 }]);
    assert.throws(() => t.ack(), /acknowledged too often/);
  });

  it('skips offset gaps (compacted or transactional) without waiting for them', () => {
    const tracker = new OffsetTracker();
    const p = tracker.partition('t', 0);
    const a = p.track(0, 3, 1);
    const b = p.track(8, 9, 1); // 4..7 never delivered to the consumer
    b.ack(); a.ack();
    assert.deepEqual(tracker.takeCommits(), [{ topic: 't', partition: 0, offset: 10 }]);
  });

  it('refuses overlapping batches and resolves whenIdle when all are done', async () => {
    const tracker = new OffsetTracker();
    const p = tracker.partition('t', 0);
    const a = p.track(0, 9, 1);
    assert.throws(() => p.track(5, 12, 1), /overlaps/);
    let idle = false;
    const waiting = tracker.whenIdle().then(() => { idle = true; });
    await Promise.resolve();
    assert.equal(idle, false);
    a.ack();
    await waiting;
    assert.equal(idle, true);
  });

  it('keeps memory bounded over many batches', () => {
    const tracker = new OffsetTracker();
    const p = tracker.partition('t', 0);
    for (let i = 0; i < 10_000; i++) p.track(i, i, 1).ack();
    assert.equal(p.inFlight, 0);
    assert.equal(p.committable, 10_000);
    assert.ok((p as unknown as { queue: unknown[] }).queue.length < 200);
  });
});
