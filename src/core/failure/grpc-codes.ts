/**
 * gRPC's status codes (grpc/doc/statuscodes.md): the ones a gateway-made failure can carry, by
 * name, and every code's name, for showing an upstream's own `grpc-status`. The taxonomy
 * (taxonomy.ts) gives each failure its code; grpc-answer.ts writes it.
 */

/**
 * The gRPC status codes a gateway-made failure can carry (the names are gRPC's own).
 * UNAVAILABLE is the one gRPC clients retry transparently; the others are final.
 */
export const GRPC_CODES = {
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcCode = (typeof GRPC_CODES)[keyof typeof GRPC_CODES];

/**
 * Every gRPC status code's name, by number (grpc/doc/statuscodes.md): an upstream's own
 * `grpc-status` passes through whatever it is, so what is shown of one may be any of them.
 */
const GRPC_CODE_NAMES: readonly string[] = [
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
  const name = GRPC_CODE_NAMES[code];
  return name === undefined ? String(code) : `${code} ${name}`;
}

/** "UNAVAILABLE"; a code gRPC does not define is its number. */
export function grpcCodeName(code: number): string {
  return GRPC_CODE_NAMES[code] ?? String(code);
}
