import type { Check } from '../check.js';
import { CHECKSUM, checksumMatches } from '../book.js';

export const bookChecksum: Check = {
  id: 'Q5', bit: 28, group: 'sequence', severity: 'resync', keeps: 'the order book (snapshot + deltas, depth as the snapshot\'s)',
  description: 'book checksum: the book rebuilt from snapshot and deltas must match the venue\'s CRC32 (Kraken: top 10, printed digits; OKX: top 25, interleaved, signed)',
  thresholds: {},
  evaluate: {
    book(e, s) {
      if (e.checksum === undefined || s.book === undefined) return false;
      if (e.action === 'delta' && !s.bookSynced) return false;
      // The checksum functions leave their result in CHECKSUM[0] (a uint32 returned as a number
      // would be boxed on every book event).
      if (checksumMatches(s.book, e)) return false;
      s.lastValue = CHECKSUM[0]!; s.lastThreshold = e.checksum;
      return true;
    },
  },
};
