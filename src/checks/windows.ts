/**
 * The per-symbol windows the checks keep (rings, sorted windows, recent values, monotonic
 * extremes): generic, allocation-free after construction, used by `SymbolState`.
 */

/*
 * Boxing traps these classes avoid (V8 boxes a double it cannot keep in a register or a
 * number field: 16 bytes per occurrence):
 * - a double passed to, or returned from, a call V8 does not inline: numbers cross calls
 *   through fields (`staged`, `probe`, results such as `median`);
 * - `c ? NaN : x` (or `Infinity`) where the NaN branch never ran before V8 optimized the code:
 *   `NaN` is then a generic global load, the merged value is tagged, and `x` is boxed; such
 *   results are stored from separate branches instead.
 */

/** A fixed-capacity ring of numbers; O(1) push, no allocation after construction. */
export class NumberRing {
  readonly values: Float64Array;
  head = 0;
  size = 0;
  /** Median as of the last `computeMedian`. */
  median = NaN;
  /** 90th percentile (nearest rank) as of the last `computeMedian`. */
  p90 = NaN;
  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity);
  }
  /** Sets `median` and `p90` (insertion sort into `scratch`: rings here are at most 64 long; callers amortize it). */
  computeMedian(scratch: Float64Array): void {
    const n = this.size;
    if (n === 0) { this.median = NaN; this.p90 = NaN; return; }
    for (let i = 0; i < n; i++) {
      const v = this.values[i]!;
      let j = i - 1;
      while (j >= 0 && scratch[j]! > v) { scratch[j + 1] = scratch[j]!; j--; }
      scratch[j + 1] = v;
    }
    if (n % 2 === 1) this.median = scratch[(n - 1) >> 1]!;
    else this.median = (scratch[n / 2 - 1]! + scratch[n / 2]!) / 2;
    this.p90 = scratch[Math.min(n - 1, Math.ceil(0.9 * n) - 1)]!;
  }
  /** Tests and cold paths; the hot paths push `staged`. */
  push(v: number): void {
    this.staged = v;
    this.pushStaged();
  }
  /** Pushes `staged`: callers on the hot path set the field and call this, so no number is boxed. */
  staged = 0;
  pushStaged(): void {
    this.values[this.head] = this.staged;
    this.head = (this.head + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }
  clear(): void {
    this.head = 0;
    this.size = 0;
    this.median = NaN;
    this.p90 = NaN;
  }
}

/**
 * The last `capacity` values in arrival order (a ring) and the same values kept sorted, so the
 * median is O(1) and the median absolute deviation O(n/2) (a two-pointer walk out from the
 * median) instead of sorting on every event. Push is two binary searches and two memmoves.
 */
export class SortedWindow {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private head = 0;
  size = 0;
  /** Median and median absolute deviation, as of the last `computeMad()`. */
  median = NaN;
  mad = NaN;

  constructor(readonly capacity: number) {
    this.ring = new Float64Array(capacity);
    this.sorted = new Float64Array(capacity);
  }

  /** The value `push` inserts and `lowerBound` looks for (fields, not arguments: no boxing). */
  staged = 0;
  private probe = 0;

  /** Tests and cold paths; the hot paths push `staged`. */
  push(v: number): void {
    this.staged = v;
    this.pushStaged();
  }

  pushStaged(): void {
    const v = this.staged;
    const cap = this.capacity;
    if (this.size === cap) {
      this.probe = this.ring[this.head]!;
      const at = this.lowerBound();
      this.sorted.copyWithin(at, at + 1, this.size);
      this.size--;
    }
    this.probe = v;
    const at = this.lowerBound();
    this.sorted.copyWithin(at + 1, at, this.size);
    this.sorted[at] = v;
    this.size++;
    this.ring[this.head] = v;
    this.head = (this.head + 1) % cap;
  }

  private lowerBound(): number {
    const v = this.probe;
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Sets `median` to the median of the values (NaN when empty). */
  computeMedian(): void {
    const n = this.size;
    const a = this.sorted;
    if (n === 0) this.median = NaN;
    else if (n % 2 === 1) this.median = a[(n - 1) >> 1]!;
    else this.median = (a[n / 2 - 1]! + a[n / 2]!) / 2;
  }

  /**
   * Median absolute deviation from the median (which it leaves in `median`). The deviations
   * below and above the median are each sorted already (walking outwards), so the k-th smallest
   * is a merge of the two walks.
   */
  computeMad(): void {
    const n = this.size;
    this.computeMedian();
    const m = this.median;
    this.mad = NaN;
    if (n === 0) return;
    const a = this.sorted;
    this.probe = m;
    let right = this.lowerBound();
    let left = right - 1;
    const k = (n - 1) >> 1;
    let prev = 0;
    let cur = 0;
    for (let step = 0; step <= k + 1 && step < n; step++) {
      prev = cur;
      // The nearer of the next value below and the next above (one side may be used up).
      if (left >= 0 && (right >= n || m - a[left]! <= a[right]! - m)) { cur = m - a[left]!; left--; }
      else { cur = a[right]! - m; right++; }
      if (step === k && n % 2 === 1) { this.mad = cur; return; }
      if (step === k + 1) { this.mad = (prev + cur) / 2; return; }
    }
    this.mad = cur;
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
  }
}

/**
 * The last `capacity` numbers seen, with O(1) membership: a ring for the order and an
 * open-addressing hash table (linear probing, backward-shift deletion) in typed arrays, so
 * remembering an id allocates nothing. Numbers must be non-negative safe integers.
 */
export class RecentNumbers {
  private readonly ring: Float64Array;
  private head = 0;
  private size = 0;
  private readonly keys: Float64Array;
  private readonly mask: number;
  /** The number being hashed, looked up or removed (a field: a double passed to a call is boxed). */
  private probe = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Float64Array(capacity);
    let slots = 1;
    while (slots < capacity * 2) slots <<= 1;
    this.keys = new Float64Array(slots).fill(-1);
    this.mask = slots - 1;
  }

  /** Adds `src.tradeIdNum`; false when it was already among the last `capacity`. */
  addFrom(src: { readonly tradeIdNum: number }): boolean {
    const v = src.tradeIdNum;
    this.probe = v;
    if (this.slotOfProbe() >= 0) return false;
    if (this.size === this.capacity) {
      this.probe = this.ring[this.head]!;
      this.removeProbe();
      this.probe = v;
    } else {
      this.size++;
    }
    this.ring[this.head] = v;
    this.head = (this.head + 1) % this.capacity;
    let i = this.hashProbe();
    while (this.keys[i] !== -1) i = (i + 1) & this.mask;
    this.keys[i] = v;
    return true;
  }

  clear(): void {
    this.keys.fill(-1);
    this.head = 0;
    this.size = 0;
  }

  private hashProbe(): number {
    // Mix the low and high 32 bits (ids exceed 2^32 on busy venues).
    const v = this.probe;
    const lo = v % 4294967296;
    const hi = (v - lo) / 4294967296;
    return (Math.imul(lo | 0, 0x9e3779b1) ^ Math.imul(hi | 0, 0x85ebca6b)) & this.mask;
  }

  private slotOfProbe(): number {
    const v = this.probe;
    let i = this.hashProbe();
    for (;;) {
      const k = this.keys[i]!;
      if (k === v) return i;
      if (k === -1) return -1;
      i = (i + 1) & this.mask;
    }
  }

  private removeProbe(): void {
    let i = this.slotOfProbe();
    if (i < 0) return;
    // Backward-shift deletion: move later entries of the probe run into the hole.
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      const k = this.keys[j]!;
      if (k === -1) break;
      this.probe = k;
      const home = this.hashProbe();
      // Move k into the hole at i unless its home lies cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        this.keys[i] = k;
        i = j;
      }
    }
    this.keys[i] = -1;
  }
}

/**
 * The last `capacity` strings seen, with O(1) membership: the trade ids that are not numbers
 * (UUIDs, composite keys). The same design as `RecentNumbers`, with the strings and their home
 * slots in fixed arrays: a Set that churns allocates, since deleted entries stay in its table
 * until it rehashes into a new one.
 */
export class RecentStrings {
  private readonly ring: (string | undefined)[];
  private head = 0;
  private size = 0;
  /** `undefined` marks a free slot. */
  private readonly keys: (string | undefined)[];
  /** Home slot of each key (its hash, masked), so deletion never rehashes a string. */
  private readonly homes: Int32Array;
  private readonly mask: number;

  constructor(private readonly capacity: number) {
    this.ring = new Array<string | undefined>(capacity).fill(undefined);
    let slots = 1;
    while (slots < capacity * 2) slots <<= 1;
    this.keys = new Array<string | undefined>(slots).fill(undefined);
    this.homes = new Int32Array(slots);
    this.mask = slots - 1;
  }

  /** Adds `id`; false when it was already among the last `capacity`. */
  add(id: string): boolean {
    const home = hashString(id) & this.mask;
    if (this.slotOf(id, home) >= 0) return false;
    if (this.size === this.capacity) this.remove(this.ring[this.head]!);
    else this.size++;
    this.ring[this.head] = id;
    this.head = (this.head + 1) % this.capacity;
    let i = home;
    while (this.keys[i] !== undefined) i = (i + 1) & this.mask;
    this.keys[i] = id;
    this.homes[i] = home;
    return true;
  }

  private slotOf(id: string, home: number): number {
    for (let i = home; ; i = (i + 1) & this.mask) {
      const k = this.keys[i];
      if (k === undefined) return -1;
      if (k === id) return i;
    }
  }

  private remove(id: string): void {
    let i = this.slotOf(id, hashString(id) & this.mask);
    if (i < 0) return;
    // Backward-shift deletion, as in RecentNumbers.
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      const k = this.keys[j];
      if (k === undefined) break;
      const home = this.homes[j]!;
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        this.keys[i] = k;
        this.homes[i] = home;
        i = j;
      }
    }
    this.keys[i] = undefined;
  }
}

/** FNV-1a over the UTF-16 code units. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

/**
 * Extreme (max or min) of the values of a sliding time window: a monotonic deque in fixed
 * arrays, amortized O(1) per push and query. Holds at most `capacity` entries (the oldest
 * fall out first).
 */
export class MonotonicWindow {
  private readonly times: Float64Array;
  private readonly values: Float64Array;
  private head = 0;
  private count = 0;
  constructor(private readonly capacity: number, private readonly keepMax: boolean) {
    this.times = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
  }
  /** Adds `at.eventTs` / `at.eventPrice` (read from the state: numbers passed as arguments are boxed). */
  pushFrom(src: { readonly eventTs: number; readonly eventPrice: number }): void {
    const ts = src.eventTs;
    const v = src.eventPrice;
    const cap = this.capacity;
    while (this.count > 0) {
      const tail = (this.head + this.count - 1) % cap;
      const t = this.values[tail]!;
      if (this.keepMax ? t > v : t < v) break;
      this.count--;
    }
    if (this.count === cap) { this.head = (this.head + 1) % cap; this.count--; }
    const at = (this.head + this.count) % cap;
    this.times[at] = ts;
    this.values[at] = v;
    this.count++;
  }
  /** Extreme of the window's values after `trim` (NaN when none). */
  value = NaN;

  /** Drops values older than `windowMs` before `at.eventTs` and sets `value` to the extreme of the rest. */
  trim(at: { readonly eventTs: number }, windowMs: number): void {
    const fromTs = at.eventTs - windowMs * 1000;
    while (this.count > 0 && this.times[this.head]! < fromTs) {
      this.head = (this.head + 1) % this.capacity;
      this.count--;
    }
    this.value = this.count > 0 ? this.values[this.head]! : NaN;
  }
  clear(): void {
    this.head = 0;
    this.count = 0;
  }
}
