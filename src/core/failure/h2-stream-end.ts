/**
 * How an HTTP/2 stream to an upstream that ended without a whole response is classified (RFC 9113
 * §8.7's rules on what was never processed), and the names of HTTP/2's error codes: apart from
 * classify.ts, whose connection-level shapes it uses.
 */
import { bundledBefore } from '../bundled-versions.ts';
import { codeOf, describeDrop, ms, tlsAlertFailure } from './classify.ts';
import { Failure } from './failure.ts';

/**
 * Whether this Node's nghttp2 answers a stream's own breach of HTTP/2 with a reset of that
 * stream, as RFC 9113 asks (RST_STREAM: PROTOCOL_ERROR for DATA past its content-length, §8.1.1,
 * the code it sends for an END_STREAM short of it too; FLOW_CONTROL_ERROR for a WINDOW_UPDATE
 * past 2^31 - 1, §6.9.1): nghttp2 before 1.67 (Node 22's) does, and says nothing else; from 1.67
 * (Node 24's) it closes the connection for them, a session error of its own. Where true, such a
 * reset may be nghttp2's or the peer's, and a PROTOCOL_ERROR with fewer bytes taken than
 * announced either breach: the details say so. Read once.
 */
export const NGHTTP2_RESETS_STREAM_ERRORS = bundledBefore('nghttp2', 1, 67);

/** HTTP/2 error codes (RFC 9113 §7), by number, for failure details. */
const H2_ERROR_NAMES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

/** An HTTP/2 error code's name (RFC 9113 §7), or its number when it has none. */
export function h2ErrorName(code: number): string {
  return H2_ERROR_NAMES[code] ?? `error code ${code}`;
}

/**
 * A GOAWAY as the details name it: its code, its last stream id, and its debug data when it
 * carried some (RFC 9113 §6.8; grpc-go's `too_many_pings`, already quoted by the session).
 */
function goawayWords(goaway: NonNullable<H2StreamEnd['goaway']>): string {
  const words = `${h2ErrorName(goaway.code)}, last stream ${goaway.lastStreamId}`;
  return goaway.debug === undefined ? words : `${words}, debug data ${goaway.debug}`;
}

/** What is known when an HTTP/2 stream to an upstream ended without a whole response. */
export interface H2StreamEnd {
  readonly headReceived: boolean;
  /** The stream's RST_STREAM code (the upstream's, or Node's when the session went down). */
  readonly rstCode: number | undefined;
  /** Undefined when the stream never got an id (the session ended before it went out). */
  readonly streamId: number | undefined;
  /** The upstream's GOAWAY on this session, if one came. */
  readonly goaway:
    | { readonly code: number; readonly lastStreamId: number; readonly debug?: string }
    | undefined;
  /** The stream's or the session's error, if any. */
  readonly error: unknown;
  /** The request could be sent again as it was (no streamed body was taken from the client). */
  readonly replayable: boolean;
  readonly elapsed: number;
  /** The response body's bytes received, and the length its head announced (undefined: none). */
  readonly body?: { readonly received: number; readonly announced: number | undefined };
  /**
   * The session was still up when the stream closed: a NO_ERROR or CANCEL reset was the
   * upstream's own (Node cancels the streams of a session that went down with CANCEL too).
   */
  readonly sessionUp?: boolean;
  /**
   * Before a head: the request head's size as HTTP/2 counts a header list, the most the
   * upstream's SETTINGS_MAX_HEADER_LIST_SIZE said it takes (Infinity: it said none), and its
   * count of fields, pseudo-fields included.
   */
  readonly requestHead?: { readonly size: number; readonly limit: number; readonly fields: number };
}

/**
 * The most fields (pseudo-fields counted) a node:http2 server takes in a request head by
 * default (its `maxHeaderListPairs`): past it, it resets the stream ENHANCE_YOUR_CALM. HTTP/2
 * has no setting to announce such a count, so only the reset tells the gateway.
 */
const NODE_H2_DEFAULT_FIELDS = 128;

/**
 * node:http2 closes a session whose peer sent more invalid frames than it takes (1,000 by default,
 * `maxSessionInvalidFrames`: empty DATA frames without END_STREAM, frames on a closed stream), the
 * flood of CVE-2019-9518, and resets its streams INTERNAL_ERROR: a code of its own, not the
 * upstream's. The upstream broke HTTP/2 (garbage), as with a PING or SETTINGS flood nghttp2 refuses.
 */
const INVALID_FRAMES = 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES';

function invalidFramesFlood(stage: 'sent' | 'body_streaming', { after, cause }: Reset): Failure {
  const what = stage === 'sent' ? "the upstream's answer" : 'response body';
  const flood = 'too many invalid HTTP/2 frames (empty DATA frames, frames on a closed stream)';
  return new Failure(
    'http_protocol_error',
    `${what} is not valid HTTP/2: ${flood}, a flood node:http2 refuses by closing the connection ${after}`,
    { stage, cause },
  );
}

/** What node:http2 still resets a stream ENHANCE_YOUR_CALM for, past the gateway's own bounds. */
const NODE_H2_BOUNDS = "past the gateway's bounds (the header list size it announced, the session's memory)";

/**
 * A stream reset ENHANCE_YOUR_CALM after its head: node:http2 resets one with that code, no
 * other sign, for a trailer section past the gateway's bounds (its SETTINGS' header list size
 * once acknowledged, the session's memory), as it does for a head; which side reset it cannot be
 * known, so both are named (a gRPC server's large trailers, `grpc-status-details-bin`, get here).
 * Not its count of fields: node:http2's bound on that lies past any section within the size, and
 * a section of more than 256 fields is H2Call's own 502 (http_response_header_section_size).
 */
const CALM_AFTER_HEAD = `stream reset (ENHANCE_YOUR_CALM): the upstream's reset, or node:http2 refusing a trailer section ${NODE_H2_BOUNDS}`;

/**
 * An HTTP/2 stream that ended without a whole response, classified once. RFC 9113 §8.7: a
 * stream refused with REFUSED_STREAM, or above the last stream id of a GOAWAY, was never
 * processed, so it may go again whatever its method (when its body can be replayed: else it
 * counts as sent). After the head, any end is a cut body; before it, a protocol error is
 * garbage and anything else a terminated exchange.
 */
export function classifyH2StreamEnd(end: H2StreamEnd): Failure {
  const reset = readReset(end);
  if (end.headReceived) return afterHead(end, reset);
  // A TLS alert first: Node resets the streams of the session it ended (INTERNAL_ERROR) too.
  // A stream given an id went out on a session whose application may have read it (classify.ts).
  const alert = tlsAlertFailure(end.error, reset.after, end.streamId === undefined ? 'not_sent' : 'sent');
  if (alert !== undefined) return alert;
  return unprocessed(end, reset) ?? beforeHead(end, reset);
}

/** What a stream's end says once Node's own resets are told apart from the upstream's. */
interface Reset {
  /** "after 12 ms", for every detail. */
  readonly after: string;
  readonly cause: unknown;
  /** The error's code, '' for none. */
  readonly code: string;
  /** A GOAWAY with an error code closed the session: the streams' resets were Node's. */
  readonly goawayClosed: boolean;
  /** The stream's RST_STREAM code, undefined when a GOAWAY's close made it. */
  readonly rstCode: number | undefined;
  /** The name of the reset the upstream sent, undefined when it sent none. */
  readonly rst: string | undefined;
  /** "GOAWAY <code>, last stream <id>", '' without a GOAWAY. */
  readonly closedBy: string;
}

function readReset(end: H2StreamEnd): Reset {
  const code = codeOf(end.error);
  const { goaway } = end;
  // A GOAWAY with an error code closes the session at once (ERR_HTTP2_SESSION_ERROR), and Node
  // resets its streams with that same code: no RST_STREAM of the upstream's, whatever the code
  // says (ENHANCE_YOUR_CALM is not a head past the gateway's bound, PROTOCOL_ERROR no bad answer).
  const goawayClosed = goaway !== undefined && code === 'ERR_HTTP2_SESSION_ERROR';
  const rstCode = goawayClosed ? undefined : end.rstCode;
  // Node resets the streams of a session that an error took down (a TCP reset, EPIPE, bytes that
  // are no TLS record) with INTERNAL_ERROR: its own code, not an RST_STREAM of the upstream's
  // (whose stream error is ERR_HTTP2_STREAM_ERROR), so the socket's error is what happened, told
  // as on HTTP/1.1.
  const socketFailed =
    rstCode === 2 && end.sessionUp !== true && code !== '' && !code.startsWith('ERR_HTTP2_');
  const own =
    rstCode === undefined || rstCode === 0 || rstCode === 8 || socketFailed || code === INVALID_FRAMES;
  return {
    after: `after ${ms(end.elapsed)}`,
    cause: end.error ?? undefined,
    code,
    goawayClosed,
    rstCode,
    rst: rstCode === undefined || (own && end.sessionUp !== true) ? undefined : h2ErrorName(rstCode),
    closedBy: goaway === undefined ? '' : `GOAWAY ${goawayWords(goaway)}`,
  };
}

/** A stream that ended after its head: a body cut short, or one that is not valid HTTP/2. */
function afterHead(end: H2StreamEnd, reset: Reset): Failure {
  const { after, cause, code, goawayClosed, rstCode, rst, closedBy } = reset;
  const { goaway } = end;
  // nghttp2 itself refused what came: Node resets the stream with INTERNAL_ERROR, but the
  // upstream reset nothing; it broke HTTP/2, which is garbage, as on HTTP/1.1. nghttp2 says
  // only "Protocol error"; after a head with a content-length, the one breach it refuses so is
  // DATA past it (RFC 9113 §8.1.1: an end short of it is a reset, below; a bodyless answer is
  // whole at its head and its DATA never read). Without one, the breach is not known.
  const body = end.body;
  if (code === INVALID_FRAMES) return invalidFramesFlood('body_streaming', reset);
  if (code === 'ERR_HTTP2_ERROR') {
    const breach =
      body?.announced !== undefined
        ? `DATA past the ${body.announced} bytes its content-length announced, ${body.received} of them taken`
        : 'a frame nghttp2 refused on the stream';
    return new Failure(
      'http_protocol_error',
      `response body is not valid HTTP/2 (${(end.error as Error).message}: ${breach}) ${after}`,
      { stage: 'body_streaming', cause },
    );
  }
  // nghttp2 resets (PROTOCOL_ERROR) a stream whose END_STREAM came short of its content-length:
  // the upstream ended the body, nobody reset it.
  const short =
    rstCode === 1 && body?.announced !== undefined && body.received < body.announced
      ? NGHTTP2_RESETS_STREAM_ERRORS
        ? `nghttp2 reset it PROTOCOL_ERROR after ${body.received} of the ${body.announced} bytes its content-length announced: the upstream ended it short of them, or sent DATA past them (this Node's nghttp2 resets the stream for either, and says not which)`
        : `the upstream ended it after ${body.received} of the ${body.announced} bytes its content-length announced`
      : undefined;
  // Otherwise nghttp2 resets a stream PROTOCOL_ERROR, with no event of its own, for what the
  // upstream sent after its head that HTTP/2 forbids (a trailer section with a pseudo-field or a
  // connection-specific field, one whose HEADERS lacks END_STREAM (RFC 9113 §8.1), or one
  // with a content-length, which nghttp2 holds the DATA to as one
  // in the head: a head without one gives no short count above): garbage, as before the head.
  // A server has no cause to reset a gateway's well-formed request with that code.
  if (rstCode === 1 && short === undefined)
    return new Failure(
      'http_protocol_error',
      `response is not valid HTTP/2 after its head: the stream was reset PROTOCOL_ERROR (a trailer section HTTP/2 forbids, with a pseudo-field, a connection-specific field or a content-length the DATA did not match, or without END_STREAM, or the upstream's own reset with that code) ${after}`,
      { stage: 'body_streaming', cause },
    );
  // A GOAWAY whose last stream id is below this stream, after its head came (the upstream
  // says it never processed what it answered): nghttp2 closes the stream REFUSED_STREAM, a
  // reset the upstream never sent.
  const below =
    !goawayClosed && goaway !== undefined && end.streamId !== undefined && end.streamId > goaway.lastStreamId
      ? `the upstream sent GOAWAY (${goawayWords(goaway)}) below this stream (${end.streamId}), after its head, and Node closed it`
      : undefined;
  const how =
    short !== undefined
      ? short
      : below !== undefined
        ? below
        : rst === 'ENHANCE_YOUR_CALM'
          ? CALM_AFTER_HEAD
          : rst !== undefined
            ? `stream reset by the upstream (${rst})`
            : goawayClosed
              ? `the upstream closed the HTTP/2 connection (${closedBy})`
              : describeDrop(end.error === undefined ? undefined : end.error);
  return new Failure('http_response_incomplete', `response body cut short: ${how} ${after}`, {
    stage: 'body_streaming',
    cause,
  });
}

/**
 * A stream the upstream never processed (RFC 9113 §8.7): above a GOAWAY's last stream, never
 * given an id, or refused; undefined for any other end.
 */
function unprocessed(end: H2StreamEnd, { after, cause, rstCode }: Reset): Failure | undefined {
  const { goaway } = end;
  // Not processed either way; a streamed body taken from the client for it counts it as sent
  // (it cannot go again as it was, whatever its method: the body, not the method, is why).
  const never = end.replayable
    ? { stage: 'not_sent' as const, cause, unprocessed: true }
    : { stage: 'sent' as const, cause, unprocessed: true };
  // The GOAWAY first: Node closes the streams above its last stream id as REFUSED_STREAM too,
  // and the GOAWAY is what the upstream said.
  if (goaway !== undefined && (end.streamId === undefined || end.streamId > goaway.lastStreamId)) {
    // NO_ERROR after streams it served: the session's ordinary end raced this request (Failure's sessionEnded).
    const sessionEnded = goaway.code === 0 && goaway.lastStreamId > 0;
    return new Failure(
      'connection_terminated',
      `the upstream sent GOAWAY (${goawayWords(goaway)}) before processing this request ${after}`,
      sessionEnded ? { ...never, sessionEnded } : never,
    );
  }
  // A stream with no id never went out: node:http2 hands one back, closed INTERNAL_ERROR (its
  // own code, not the upstream's), for a session that went away between the pool's pick and the
  // request (a socket closed with no GOAWAY, the gateway's own close on a reload or idle).
  if (end.streamId === undefined) {
    return new Failure(
      'connection_terminated',
      `the HTTP/2 connection closed before the request went out ${after}`,
      never,
    );
  }
  if (rstCode === 7) {
    return new Failure(
      'connection_terminated',
      `the upstream refused the stream (REFUSED_STREAM): it did not process the request ${after}`,
      never,
    );
  }
  return undefined;
}

/** A stream that ended before its head, and was (or may have been) processed. */
function beforeHead(end: H2StreamEnd, reset: Reset): Failure {
  const { after, cause, code, rstCode, rst, closedBy } = reset;
  const { goaway } = end;
  if (rstCode === 13) {
    return new Failure(
      'http_protocol_error',
      `the upstream asks for HTTP/1.1 (HTTP_1_1_REQUIRED): set the upstream's protocol to http1 ${after}`,
      { stage: 'sent', cause },
    );
  }
  if (rstCode === 11) return enhanceYourCalm(end, reset);
  if (code === INVALID_FRAMES) return invalidFramesFlood('sent', reset);
  // nghttp2 refused what came on the connection (a frame HTTP/2 forbids, a flood): the upstream broke HTTP/2.
  if (code === 'ERR_HTTP2_ERROR') {
    const message = (end.error as Error | undefined)?.message ?? 'PROTOCOL_ERROR';
    return new Failure(
      'http_protocol_error',
      `the upstream's answer is not valid HTTP/2 (${message}) ${after}`,
      {
        stage: 'sent',
        cause,
      },
    );
  }
  // A stream reset PROTOCOL_ERROR, no other sign: node:http2 resets so a head HTTP/2 forbids,
  // and an upstream its own stream for a request it found malformed. Which side it was cannot be
  // known, so both are named (calling the upstream's frames invalid when it sent none would be a
  // statement never made); either is an HTTP/2 protocol error of the exchange. The heads nghttp2
  // refuses so include a content-length in two lines, as a list, or on a 1xx or a 204 (other
  // than 0): named too, or the details listed faults the answer did not have and not its own.
  if (rstCode === 1)
    return new Failure(
      'http_protocol_error',
      `the stream was reset PROTOCOL_ERROR before the response head: the upstream's own reset (it found the request malformed), or node:http2 refusing a head HTTP/2 forbids (a connection-specific field, an upper-case name, no :status, a content-length that is not one number, or one on a 1xx or 204) ${after}`,
      { stage: 'sent', cause },
    );
  if (rst !== undefined) {
    return new Failure(
      'connection_terminated',
      `stream reset by the upstream (${rst}) before the response head ${after}`,
      {
        stage: 'sent',
        cause,
      },
    );
  }
  if (goaway !== undefined) {
    return new Failure(
      'connection_terminated',
      `the upstream closed the HTTP/2 connection (${closedBy}) before the response head ${after}`,
      { stage: 'sent', cause },
    );
  }
  return new Failure(
    'connection_terminated',
    `${describeDrop(end.error)} before the response head ${after}`,
    {
      stage: 'sent',
      cause,
    },
  );
}

/** A stream reset ENHANCE_YOUR_CALM before its head: a request head too large, or excessive load. */
function enhanceYourCalm(end: H2StreamEnd, { after, cause }: Reset): Failure {
  // A request head past the header list size the upstream's SETTINGS announced: node:http2
  // servers (for one) refuse such a head so, unprocessed (RFC 9113 §6.5.2). The client's request
  // is too large for this upstream, a 431 as an HTTP/1.1 upstream would answer it, which judges
  // no target: not the upstream failing.
  const head = end.requestHead;
  if (end.sessionUp === true && head !== undefined && head.size > head.limit)
    return new Failure(
      'http_request_error',
      `the upstream reset the stream (ENHANCE_YOUR_CALM): the request head is ${head.size} bytes as HTTP/2 counts a header list, more than the ${head.limit} of its SETTINGS_MAX_HEADER_LIST_SIZE`,
      { status: 431, cause },
    );
  // The same for a head of more fields than a node:http2 server takes unless told otherwise, a
  // bound it never announces: a client that sent that many would otherwise have the target
  // judged for each such request, and could eject a healthy one at will.
  if (end.sessionUp === true && head !== undefined && head.fields > NODE_H2_DEFAULT_FIELDS)
    return new Failure(
      'http_request_error',
      `the upstream reset the stream (ENHANCE_YOUR_CALM): the request head has ${head.fields} fields (pseudo-fields counted), more than the ${NODE_H2_DEFAULT_FIELDS} a node:http2 server takes by default (its maxHeaderListPairs, which HTTP/2 has no setting to announce)`,
      { status: 431, cause },
    );
  // ENHANCE_YOUR_CALM (RFC 9113 §7): the upstream takes what it is sent for excessive load, a
  // refusal that, unlike REFUSED_STREAM, does not say the request went unprocessed. node:http2
  // resets a stream with the same code, no other sign, for a response head past the bounds
  // this gateway set (its SETTINGS' header list size once acknowledged, the session's memory;
  // not its count of fields, which H2Call bounds itself): which side reset it cannot be known,
  // so the details name both, and the type is what both share, a stream that ended before a
  // head the gateway could take.
  return new Failure(
    'connection_terminated',
    `stream reset (ENHANCE_YOUR_CALM) before the response head: the upstream refusing the request as excessive load (RFC 9113 section 7; it may have processed it), or node:http2 refusing a response head ${NODE_H2_BOUNDS} ${after}`,
    { stage: 'sent', cause },
  );
}
