import type { MarketEvent } from '../codec/event.js';
import type { Check } from './check.js';

/** V1: price > 0 for trades and liquidations; both sides of a quote. */
export const positivePrice: Check = {
  id: 'V1', bit: 0, severity: 'reject', description: 'price > 0',
  evaluate(e: MarketEvent): boolean {
    switch (e.type) {
      case 'trade':
      case 'liquidation':
        return !(e.price > 0);
      case 'quote':
        return !(e.bid > 0) || !(e.ask > 0);
      default:
        return false;
    }
  },
};

/** V2: size > 0 for trades and liquidations (a book size of 0 means delete). */
export const positiveSize: Check = {
  id: 'V2', bit: 1, severity: 'reject', description: 'size > 0 for trades and liquidations',
  evaluate(e: MarketEvent): boolean {
    return (e.type === 'trade' || e.type === 'liquidation') && !(e.size > 0);
  },
};

/** M1: crossed quote (bid above ask). A locked quote (bid == ask) is allowed. */
export const crossedQuote: Check = {
  id: 'M1', bit: 2, severity: 'reject', description: 'crossed quote: bid > ask (locked is allowed)',
  evaluate(e: MarketEvent): boolean {
    return e.type === 'quote' && e.bid > e.ask;
  },
};

/** T2: exchange time after local receive time by more than the allowed skew. */
export const CLOCK_SKEW_US = 250_000;
export const clockSkew: Check = {
  id: 'T2', bit: 3, severity: 'flag', description: `clock skew: exchange time > receive time + ${CLOCK_SKEW_US / 1000} ms`,
  evaluate(e: MarketEvent): boolean {
    return e.ts - e.recvTs > CLOCK_SKEW_US;
  },
};

export const BASIC_CHECKS: readonly Check[] = [positivePrice, positiveSize, crossedQuote, clockSkew];
