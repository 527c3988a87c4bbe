/**
 * `grpc-timeout` (gRPC over HTTP/2, PROTOCOL-HTTP2.md): at most 8 digits and one unit, H M S
 * for hours, minutes, seconds, m u n for milli-, micro- and nanoseconds. A value that does
 * not follow the grammar is no deadline of the gateway's (the route's own holds) and goes on as
 * it came: the upstream's gRPC server judges it (grpc-go refuses the call, INTERNAL "malformed
 * grpc-timeout"). A zero follows it as gRPC's libraries read it: a deadline already past.
 */

/** Each unit as milliseconds times, or divided by, a count (divided: 3n is 0.000003 ms, not 0.0000029999…). */
const UNITS: Record<string, readonly [times: number, per: number]> = {
  H: [3_600_000, 1],
  M: [60_000, 1],
  S: [1_000, 1],
  m: [1, 1],
  u: [1, 1_000],
  n: [1, 1_000_000],
};

/**
 * The deadline in milliseconds, exact (a fraction below one: `1500u` is 1.5, `1n` 0.000001, never
 * rounded up, which would hold the call and tell its upstream longer than the client gave), or
 * undefined when absent or invalid. Only a zero is a deadline already past when the call arrives;
 * one of a few microseconds has passed by the time an attempt could start.
 *
 * @example parseGrpcTimeout('250m') // 250
 * @example parseGrpcTimeout('1S') // 1000
 * @example parseGrpcTimeout('1500u') // 1.5
 * @example parseGrpcTimeout('1.5S') // undefined
 */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined || value.length < 2 || value.length > 9) return undefined;
  const unit = UNITS[value[value.length - 1]];
  if (unit === undefined) return undefined;
  const digits = value.slice(0, -1);
  if (!/^[0-9]{1,8}$/.test(digits)) return undefined;
  return (Number(digits) * unit[0]) / unit[1];
}

/**
 * The deadline of a request's grpc-timeout as its head's field map holds it (repeats joined with
 * ", "): the shortest of the values in the grammar. gRPC sends one; two (an intermediary that
 * added its own) are held to the shorter, the most any sender asked for, and the upstream is told
 * one (withGrpcTimeout): as sent, grpc-go reads the last, so the longer held the upstream on.
 *
 * @example parseGrpcTimeouts('20S, 100m') // 100
 */
export function parseGrpcTimeouts(value: string | undefined): number | undefined {
  if (value === undefined || !value.includes(',')) return parseGrpcTimeout(value);
  let shortest: number | undefined;
  for (const one of value.split(',')) {
    const ms = parseGrpcTimeout(one.trim());
    if (ms !== undefined && (shortest === undefined || ms < shortest)) shortest = ms;
  }
  return shortest;
}

/** The units a deadline is written in, finest first, with their size in milliseconds. */
const WRITTEN_UNITS: ReadonlyArray<readonly [string, number]> = [
  ['u', 0.001],
  ['m', 1],
  ['S', 1_000],
  ['M', 60_000],
  ['H', 3_600_000],
];

/** The largest number grpc-timeout may carry: 8 digits. */
const MAX_DIGITS_VALUE = 99_999_999;

/**
 * A deadline of `ms` milliseconds as grpc-timeout writes it: the finest unit its count fits in
 * 8 digits with (microseconds up to about 100 s), rounded down, so that the one told never has
 * more time than is left; none left is `0u` (a gRPC server reads it as already past).
 *
 * @example formatGrpcTimeout(1234.5678) // '1234567u'
 * @example formatGrpcTimeout(3_600_000) // '3600000m'
 */
export function formatGrpcTimeout(ms: number): string {
  if (!(ms > 0)) return '0u';
  for (const [unit, size] of WRITTEN_UNITS) {
    const count = Math.floor(ms / size);
    if (count <= MAX_DIGITS_VALUE) return `${count}${unit}`;
  }
  return `${MAX_DIGITS_VALUE}H`;
}
