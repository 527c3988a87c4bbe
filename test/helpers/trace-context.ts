import type { TraceContext } from '../../src/core/ids/traceparent.ts';

/** A request's trace as the gateway starts one (no traceparent came), for records made in tests. */
export const TRACE: TraceContext = {
  traceId: 'a'.repeat(32),
  spanId: 'b'.repeat(16),
  traceparent: 'x',
  continued: false,
  parentId: undefined,
  sampled: true,
};
