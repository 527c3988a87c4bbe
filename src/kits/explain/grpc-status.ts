/**
 * gRPC status codes by number, with gRPC's own names (grpc/doc/statuscodes.md): all seventeen,
 * since an upstream's own `grpc-status` passes through whatever it is, where the taxonomy's
 * GRPC_CODES holds only those a gateway-made failure carries.
 */
const NAMES: readonly string[] = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** "14 UNAVAILABLE"; a code gRPC does not define keeps its number alone. */
export function grpcStatusText(code: number): string {
  const name = NAMES[code];
  return name === undefined ? String(code) : `${code} ${name}`;
}
