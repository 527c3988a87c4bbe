import { randomHex } from './ids.ts';

/** W3C Trace Context: the gateway is one span of the client's trace, or the start of a new one. */
export interface TraceContext {
  readonly traceId: string;
  /** This gateway's span, sent upstream as the parent id. */
  readonly spanId: string;
  readonly traceparent: string;
  /** Whether the client's trace was continued (then tracestate is forwarded as it came). */
  readonly continued: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

export function continueOrStartTrace(header: string | undefined): TraceContext {
  const spanId = randomHex(8);
  const m = header === undefined ? null : TRACEPARENT.exec(header);
  // Version ff is invalid; version 00 must have exactly four fields; later versions may add more.
  if (
    m &&
    m[1] !== 'ff' &&
    !(m[1] === '00' && m[5] !== undefined) &&
    m[2] !== ZERO_TRACE &&
    m[3] !== ZERO_SPAN
  ) {
    return { traceId: m[2], spanId, traceparent: `00-${m[2]}-${spanId}-${m[4]}`, continued: true };
  }
  const traceId = randomHex(16);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01`, continued: false };
}
