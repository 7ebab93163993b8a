import type { BookEvent, Level, MarketEvent } from '../codec/event.js';
import type { ByteWriter } from './byte-writer.js';

/** The verdict fields the stored JSON ends with. */
export interface JsonVerdict {
  verdict: number;
  failedLo: number;
  failedHi: number;
  score: number;
}

const enc = new TextEncoder();
const lit = (s: string): Uint8Array => enc.encode(s);
const V = lit('{"v":');
const TYPE = lit(',"type":');
const VENUE = lit(',"venue":');
const SYMBOL = lit(',"symbol":');
const TS = lit(',"ts":');
const RECV_TS = lit(',"recvTs":');
const MARKET = lit(',"market":');
const CONTRACT_SIZE = lit(',"contractSize":');
const ID = lit(',"id":');
const PRICE = lit(',"price":');
const SIZE = lit(',"size":');
const SIDE = lit(',"side":');
const OFF_BOOK = lit(',"offBook":');
const BID = lit(',"bid":');
const BID_SIZE = lit(',"bidSize":');
const ASK = lit(',"ask":');
const ASK_SIZE = lit(',"askSize":');
const UPDATE_ID = lit(',"updateId":');
const POS_SIDE = lit(',"posSide":');
const ACTION = lit(',"action":');
const SEQ = lit(',"seq":');
const PREV_SEQ = lit(',"prevSeq":');
const FIRST_SEQ = lit(',"firstSeq":');
const CHECKSUM = lit(',"checksum":');
const PRICE_DP = lit(',"priceDp":');
const SIZE_DP = lit(',"sizeDp":');
const BIDS = lit(',"bids":');
const ASKS = lit(',"asks":');
const VERDICT = lit(',"verdict":');
const FAILED = lit(',"failed":');
const SCORE = lit(',"score":');
const TRUE = lit('true');
const FALSE = lit('false');
const OPEN = 0x5b;
const CLOSE = 0x5d;
const COMMA = 0x2c;
const BRACE_CLOSE = 0x7d;

/**
 * Writes the event as the JSON Redis stores (the `latest` view, the recent set, the quarantine
 * stream) and the output topic carries: byte for byte what
 * `JSON.stringify(event)` followed by `"verdict"`, `"failed"` and `"score"` gives, for the
 * canonical event `decodeEvent` returns (its fields in `canonicalEvent`'s order, absent optional
 * fields left out). Written straight into the worker's buffer: `JSON.stringify` and encoding its
 * string took a fifth of a worker's time draining a backlog (`npm run profile`), and this does
 * the same in about half the time (`npm run bench`, "event JSON for Redis"; README "Latest").
 * `test/sinks/event-json.test.ts` holds it to `JSON.stringify` over the recordings and fuzzed events.
 * Returns the bytes written.
 */
export function writeEventJson(w: ByteWriter, e: MarketEvent, o: JsonVerdict): number {
  const start = w.length;
  w.bytes(V); w.jsonNumber(e.v);
  w.bytes(TYPE); w.jsonString(e.type);
  w.bytes(VENUE); w.jsonString(e.venue);
  w.bytes(SYMBOL); w.jsonString(e.symbol);
  w.bytes(TS); w.jsonNumber(e.ts);
  w.bytes(RECV_TS); w.jsonNumber(e.recvTs);
  if (e.market !== undefined) { w.bytes(MARKET); w.jsonString(e.market); }
  if (e.contractSize !== undefined) { w.bytes(CONTRACT_SIZE); w.jsonNumber(e.contractSize); }
  switch (e.type) {
    case 'trade':
      w.bytes(ID); w.jsonString(e.id);
      w.bytes(PRICE); w.jsonNumber(e.price);
      w.bytes(SIZE); w.jsonNumber(e.size);
      w.bytes(SIDE); w.jsonString(e.side);
      if (e.offBook !== undefined) { w.bytes(OFF_BOOK); w.bytes(e.offBook ? TRUE : FALSE); }
      break;
    case 'quote':
      w.bytes(BID); w.jsonNumber(e.bid);
      w.bytes(BID_SIZE); w.jsonNumber(e.bidSize);
      w.bytes(ASK); w.jsonNumber(e.ask);
      w.bytes(ASK_SIZE); w.jsonNumber(e.askSize);
      if (e.updateId !== undefined) { w.bytes(UPDATE_ID); w.jsonNumber(e.updateId); }
      break;
    case 'liquidation':
      if (e.id !== undefined) { w.bytes(ID); w.jsonString(e.id); }
      w.bytes(POS_SIDE); w.jsonString(e.posSide);
      w.bytes(PRICE); w.jsonNumber(e.price);
      w.bytes(SIZE); w.jsonNumber(e.size);
      break;
    case 'book':
      writeBook(w, e);
      break;
  }
  w.bytes(VERDICT); w.jsonNumber(o.verdict);
  w.bytes(FAILED); w.jsonNumber(o.failedHi * 4294967296 + o.failedLo);
  w.bytes(SCORE); w.jsonNumber(o.score);
  w.u8(BRACE_CLOSE);
  return w.length - start;
}

function writeBook(w: ByteWriter, e: BookEvent): void {
  w.bytes(ACTION); w.jsonString(e.action);
  w.bytes(SEQ); w.jsonNumber(e.seq);
  if (e.prevSeq !== undefined) { w.bytes(PREV_SEQ); w.jsonNumber(e.prevSeq); }
  if (e.firstSeq !== undefined) { w.bytes(FIRST_SEQ); w.jsonNumber(e.firstSeq); }
  if (e.checksum !== undefined) { w.bytes(CHECKSUM); w.jsonNumber(e.checksum); }
  if (e.priceDp !== undefined) { w.bytes(PRICE_DP); w.jsonNumber(e.priceDp); }
  if (e.sizeDp !== undefined) { w.bytes(SIZE_DP); w.jsonNumber(e.sizeDp); }
  w.bytes(BIDS); writeLevels(w, e.bids);
  w.bytes(ASKS); writeLevels(w, e.asks);
}

function writeLevels(w: ByteWriter, levels: readonly Level[]): void {
  w.u8(OPEN);
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (i > 0) w.u8(COMMA);
    w.u8(OPEN); w.jsonNumber(l[0]); w.u8(COMMA); w.jsonNumber(l[1]); w.u8(CLOSE);
  }
  w.u8(CLOSE);
}
