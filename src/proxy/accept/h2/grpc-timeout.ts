/**
 * `grpc-timeout` (gRPC over HTTP/2, PROTOCOL-HTTP2.md): at most 8 digits and one unit, H M S
 * for hours, minutes, seconds, m u n for milli-, micro- and nanoseconds. A value that does
 * not follow the grammar is ignored (the route's own deadline holds), as a gRPC server
 * ignores it.
 */

const UNIT_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/**
 * The deadline in milliseconds, rounded up (a sub-millisecond deadline is 1 ms, never 0,
 * which would mean "already past"), or undefined when absent or invalid.
 *
 * @example parseGrpcTimeout('250m') // 250
 * @example parseGrpcTimeout('1S') // 1000
 * @example parseGrpcTimeout('1.5S') // undefined
 */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined || value.length < 2 || value.length > 9) return undefined;
  const unit = UNIT_MS[value[value.length - 1]];
  if (unit === undefined) return undefined;
  const digits = value.slice(0, -1);
  if (!/^[0-9]{1,8}$/.test(digits)) return undefined;
  return Math.ceil(Number(digits) * unit);
}
