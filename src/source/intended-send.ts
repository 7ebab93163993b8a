/**
 * Header carrying a message's intended send time: Unix nanoseconds as decimal ASCII. A load
 * generator stamps where its open-loop schedule put the message, not when it got to send it, so
 * latency measured from it includes the generator's own stalls (no coordinated omission).
 */
export const INTENDED_SEND_HEADER = 'x-intended-ns';

const ZERO = 48;

/**
 * The intended send time of a consumed message in Unix ms (fractional), or -1 without the header.
 * Hot path: no allocation; the value is read as whole milliseconds (exact in a double) plus the
 * nanosecond remainder, rather than 19 digits at once (a double keeps only ~16).
 */
export function intendedSendMs(headers: ReadonlyArray<{ [key: string]: string | Buffer }> | undefined): number {
  if (headers === undefined) return -1;
  for (let h = 0; h < headers.length; h++) {
    const v = headers[h]![INTENDED_SEND_HEADER];
    if (v === undefined) continue;
    const len = v.length;
    if (len < 7 || len > 21) return -1;
    let ms = 0;
    let ns = 0;
    for (let i = 0; i < len; i++) {
      const d = (typeof v === 'string' ? v.charCodeAt(i) : v[i]!) - ZERO;
      if (d < 0 || d > 9) return -1;
      if (i < len - 6) ms = ms * 10 + d;
      else ns = ns * 10 + d;
    }
    return ms + ns / 1e6;
  }
  return -1;
}

/** Formats Unix ms (fractional) as the header value. */
export function intendedSendValue(ms: number): string {
  const whole = Math.floor(ms);
  const ns = Math.round((ms - whole) * 1e6);
  return ns >= 1e6 ? `${whole + 1}000000` : `${whole}${String(ns).padStart(6, '0')}`;
}
