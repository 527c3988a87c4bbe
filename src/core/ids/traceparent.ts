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

/**
 * A later version's fields after the flags are its own, but never hold a comma: a comma is two
 * traceparent lines joined as one list (fieldMap), and the parent is not to be guessed between them.
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^,]*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** The two trace flags defined (W3C Trace Context Level 1's sampled, Level 2's random trace id). */
const FLAG_SAMPLED = 0x01;
const FLAG_RANDOM = 0x02;

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
      traceparent: `00-${m[2]}-${spanId}-${versionZeroFlags(m[4])}`,
      continued: true,
      parentId: m[3],
      // Bit 0 of the flags (W3C Trace Context §3.2.2.6); the two hex digits are checked above.
      sampled: (Number.parseInt(m[4], 16) & FLAG_SAMPLED) === FLAG_SAMPLED,
    };
  }
  return new StartedTrace(newTraceparent());
}

/**
 * The same trace, not recorded: its sampled flag off, the other flags kept. For a trace whose
 * server span the tracer's sampler dropped (`tracing.sample_ratio`): a hop told it was sampled
 * would record its own spans under a parent no collector gets.
 */
export function notSampled(trace: TraceContext): TraceContext {
  const { traceId, spanId, traceparent, continued, parentId } = trace;
  const flags = Number.parseInt(traceparent.slice(53, 55), 16) & ~FLAG_SAMPLED;
  return {
    traceId,
    spanId,
    traceparent: `${traceparent.slice(0, 53)}${flags.toString(16).padStart(2, '0')}`,
    continued,
    parentId,
    sampled: false,
  };
}

/** The trace's Level 2 random flag, as the traceparent this hop sends carries it: FLAG_RANDOM or 0. */
export function randomFlag(trace: TraceContext): number {
  return Number.parseInt(trace.traceparent.slice(53, 55), 16) & FLAG_RANDOM;
}

/**
 * The flags this hop sends on: the sampled flag and Level 2's random flag as the client sent
 * them, every other bit zero. W3C Trace Context §3.2.2.5: the other flags are reserved and
 * "vendors MUST set those to zero" (a later version's header, continued as version 00, may
 * carry bits version 00 does not define). Forwarded as they came, a client could set bits a
 * tracer behind the gateway reads with a future meaning.
 */
function versionZeroFlags(flags: string): string {
  const kept = Number.parseInt(flags, 16) & (FLAG_SAMPLED | FLAG_RANDOM);
  return kept === 0 ? '00' : `0${kept.toString(16)}`;
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
