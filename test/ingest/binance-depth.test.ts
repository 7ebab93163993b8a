import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { BookEvent, MarketEvent } from '../../src/codec/event.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HimariError } from '../../src/errors.js';
import { BinanceDepthSync, fetchJson } from '../../src/ingest/binance-depth.js';
import { RateWindow } from '../../src/ingest/rate-limit.js';
import { BinanceNormalizer } from '../../src/normalize/binance.js';

/** A spot (U, u) or USD-M (U, u, pu) delta of BTC-USDT. */
function delta(first: number, seq: number, prevSeq?: number): BookEvent {
  return { v: 1, type: 'book', venue: 'binance', symbol: 'BTC-USDT', ts: 1, recvTs: 1, action: 'delta', seq, firstSeq: first, ...(prevSeq === undefined ? {} : { prevSeq }), bids: [[1, 1]], asks: [] };
}

/** The sync with its snapshots answered from `lastUpdateIds` in turn (the pure rule; the REST path is in test/integration/ingest.test.ts). */
function harness(futures: boolean, lastUpdateIds: number[]) {
  const released: MarketEvent[] = [];
  const resyncs: string[] = [];
  const asked: string[] = [];
  let answer: () => void = () => {};
  const sync = new BinanceDepthSync(new BinanceNormalizer(futures ? 'binance-futures' : 'binance'), futures, ['BTCUSDT'], {
    url: 'http://venue/depth',
    fetch: (url) => {
      asked.push(url);
      const id = lastUpdateIds.shift()!;
      return new Promise((resolve) => { answer = () => resolve({ lastUpdateId: id, bids: [['1', '2']], asks: [['3', '4']] }); });
    },
    gate: null,
  }, pino({ level: 'silent' }), (events) => released.push(...events), (_s, why) => resyncs.push(why));
  const settle = async () => { answer(); await new Promise((r) => setTimeout(r, 0)); };
  return { sync, released, resyncs, asked, settle };
}

const seqs = (events: readonly MarketEvent[]) => events.map((e) => (e as BookEvent).action === 'snapshot' ? `S${(e as BookEvent).seq}` : (e as BookEvent).seq);

describe('Binance depth: snapshot, bridge rule, resync', () => {
  it('spot: holds deltas until the snapshot, drops what it covers, releases the bridging one and those after', async () => {
    const h = harness(false, [105]);
    for (const [U, u] of [[100, 102], [103, 104], [105, 107], [108, 110]] as const) assert.equal(h.sync.admit(delta(U, u)), false, 'held before the snapshot');
    assert.deepEqual(h.asked, ['http://venue/depth?symbol=BTCUSDT&limit=1000'], 'one request for the symbol');
    await h.settle();
    assert.deepEqual(seqs(h.released), ['S105', 107, 110], 'u <= 105 dropped; 105-107 bridges (U <= 106 <= u)');
    assert.equal(h.sync.admit(delta(111, 112)), true, 'live: U == previous u + 1');
    assert.deepEqual(h.resyncs, []);
  });

  it('spot: a delta that does not follow sends the symbol back to a new snapshot (a resync)', async () => {
    const h = harness(false, [10, 20]);
    h.sync.admit(delta(11, 12));
    await h.settle();
    assert.equal(h.sync.admit(delta(13, 14)), true);
    assert.equal(h.sync.admit(delta(16, 18)), false, '15 is missing');
    assert.equal(h.resyncs.length, 1);
    assert.match(h.resyncs[0]!, /update 16-18 does not follow 14/);
    assert.equal(h.sync.admit(delta(19, 21)), false, 'held for the new snapshot');
    await new Promise((r) => setTimeout(r, 300)); // requests are spaced
    await h.settle();
    assert.deepEqual(seqs(h.released), ['S10', 12, 'S20', 21], 'released by the sync (13-14 went on at once); 16-18 is covered by the snapshot at 20; 19-21 bridges it');
  });

  it('USD-M: the first delta may end at lastUpdateId, then pu must equal the previous u', async () => {
    const h = harness(true, [50]);
    h.sync.admit(delta(45, 49, 44));
    h.sync.admit(delta(50, 50, 49));
    h.sync.admit(delta(51, 53, 50));
    await h.settle();
    assert.deepEqual(seqs(h.released), ['S50', 50, 53], 'u < 50 dropped; 50-50 bridges (U <= 50 <= u)');
    assert.equal(h.sync.admit(delta(54, 55, 53)), true);
    assert.equal(h.sync.admit(delta(57, 58, 56)), false, 'pu 56 != 55');
    assert.equal(h.resyncs.length, 1);
  });

  it('a snapshot older than what it must bridge is asked for again, and the deltas after the gap wait for it', async () => {
    const h = harness(false, [5, 30]);
    h.sync.admit(delta(20, 22));
    h.sync.admit(delta(23, 25));
    await h.settle();
    assert.deepEqual(h.released, [], 'nothing released: 20-22 cannot bridge a snapshot at 5');
    assert.equal(h.resyncs.length, 1);
    assert.match(h.resyncs[0]!, /does not bridge the snapshot's 5/);
    h.sync.admit(delta(26, 31));
    await new Promise((r) => setTimeout(r, 300));
    await h.settle();
    assert.deepEqual(seqs(h.released), ['S30', 31], 'the newer snapshot; 26-31 bridges it');
  });

  it('a lost connection resynchronizes every symbol that had a book', async () => {
    const h = harness(false, [1]);
    h.sync.admit(delta(2, 3));
    await h.settle();
    h.sync.reset();
    assert.deepEqual(h.resyncs, ['the connection was lost']);
    assert.equal(h.sync.admit(delta(4, 5)), false, 'waits for a new snapshot');
    h.sync.close();
  });

  it('snapshot requests wait for the venue\'s request limit, shared by whoever holds the gate, and none is lost', async () => {
    const gate = new RateWindow({ count: 1, perMs: 40 });
    const asked: string[] = [];
    let waits = 0;
    const released: MarketEvent[] = [];
    const sync = new BinanceDepthSync(new BinanceNormalizer('binance'), false, ['BTCUSDT', 'ETHUSDT', 'BNBUSDT'], {
      url: 'http://venue/depth', gate, onWait: () => waits++,
      fetch: async (url) => { asked.push(url); return { lastUpdateId: 5, bids: [['1', '2']], asks: [['3', '4']] }; },
    }, pino({ level: 'silent' }), (events) => released.push(...events), () => {});
    for (const symbol of ['BTC-USDT', 'ETH-USDT', 'BNB-USDT']) sync.admit({ ...delta(5, 6), symbol });
    assert.equal(asked.length, 1, 'the first at once');
    for (const deadline = Date.now() + 10_000; released.length < 6 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(asked.map((u) => /symbol=(\w+)/.exec(u)![1]), ['BTCUSDT', 'ETHUSDT', 'BNBUSDT'], 'the others after waiting, in order');
    assert.ok(waits >= 2);
    assert.deepEqual(released.map((e) => (e as BookEvent).action), ['snapshot', 'delta', 'snapshot', 'delta', 'snapshot', 'delta'], 'each book from its snapshot on');
    sync.close();
  });

  it('a refused request (429, 418) says how long to stay away: Retry-After is carried in the error', async () => {
    const server = createServer((_req, res) => res.writeHead(429, { 'retry-after': '7' }).end('{"code":-1003,"msg":"Too many requests"}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const err = await fetchJson(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v3/depth?symbol=BTCUSDT`).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof HimariError);
      assert.equal(err.retriable, true);
      assert.deepEqual(err.context, { retryAfterMs: 7000 });
      assert.match(err.message, /HTTP 429 .*Too many requests/);
    } finally {
      server.close();
    }
  });
});
