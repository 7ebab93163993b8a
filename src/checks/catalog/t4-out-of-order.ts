import { everyEvent, type Check } from '../check.js';
import { typeIndex } from '../state.js';

export const outOfOrder: Check = {
  id: 'T4', bit: 8, group: 'time', severity: 'flag', keeps: 'last exchange time per event type',
  description: 'out of order: exchange time earlier than the previous event of the same type and symbol',
  thresholds: {},
  evaluate: everyEvent((e, s) => {
    const last = s.lastTsByType[typeIndex(e.type)]!;
    if (last < 0 || e.ts >= last) return false;
    s.lastValue = (e.ts - last) / 1000; s.lastThreshold = 0;
    return true;
  }),
};
