import { newTraceparent, randomHex } from './ids.ts';

/** W3C Trace Context: the gateway is one span of the client's trace, or the start of a new one. */
export interface TraceContext {
  readonly traceId: string;
  /** This gateway's span, sent upstream as the parent id. */
  readonly spanId: string;
  readonly traceparent: string;
  /** Whether the client's trace was continued (then tracestate is forwarded as it came). */
  readonly continued: boolean;
  /** The client's span id: the parent of this gateway's span (absent when the trace starts here). */
  readonly parentId: string | undefined;
  /** The sampled flag, as the client sent it (a new trace is sampled). */
  readonly sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The fields of a valid traceparent (version, trace id, parent id, flags), or null. */
function parseTraceparent(header: string | undefined): RegExpExecArray | null {
  const m = header === undefined ? null : TRACEPARENT.exec(header);
  // Version ff is invalid; version 00 must have exactly four fields; later versions may add more.
  return m &&
    m[1] !== 'ff' &&
    !(m[1] === '00' && m[5] !== undefined) &&
    m[2] !== ZERO_TRACE &&
    m[3] !== ZERO_SPAN
    ? m
    : null;
}

/** Whether a traceparent header may be continued (and so passed on). */
export function isValidTraceparent(header: string): boolean {
  return parseTraceparent(header) !== null;
}

export function continueOrStartTrace(header: string | undefined): TraceContext {
  const m = parseTraceparent(header);
  if (m) {
    const spanId = randomHex(8);
    return {
      traceId: m[2],
      spanId,
      traceparent: `00-${m[2]}-${spanId}-${m[4]}`,
      continued: true,
      parentId: m[3],
      // Bit 0 of the flags (W3C Trace Context §3.2.2.6); the two hex digits are checked above.
      sampled: (Number.parseInt(m[4], 16) & 1) === 1,
    };
  }
  return new StartedTrace(newTraceparent());
}

/**
 * A trace that starts here: one string (`00-` trace id `-` span id `-01`), its ids read off it;
 * the span id only when asked for (tracing reads it; the log line and the upstream's
 * `traceparent` do not): one string less a request.
 */
class StartedTrace implements TraceContext {
  readonly traceId: string;
  readonly traceparent: string;
  readonly continued = false;
  readonly parentId = undefined;
  readonly sampled = true;

  constructor(traceparent: string) {
    this.traceparent = traceparent;
    this.traceId = traceparent.slice(3, 35);
  }

  get spanId(): string {
    return this.traceparent.slice(36, 52);
  }
}
