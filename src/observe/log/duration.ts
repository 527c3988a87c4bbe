/**
 * A duration as every log line writes it: milliseconds to two decimals, as the access line
 * has always written them (a probe's 0.8030820000021777 ms claims a precision nobody measured).
 */
export function logMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}
