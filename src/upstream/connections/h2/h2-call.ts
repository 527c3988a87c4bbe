import type { ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { addAbortSignal } from 'node:stream';
import { Failure } from '../../../core/failure/failure.ts';
import { classifyH2StreamEnd } from '../../../core/failure/h2-stream-end.ts';
import { sectionPastBound, tooManyFields } from '../../../core/http1/answer-faults.ts';
import { MAX_FIELDS } from '../../../core/http1/field-lines.ts';
import { InterimHeads } from '../../../core/limits/interim-heads.ts';
import { type BodyPump, pumpRequestBody } from '../body-pump.ts';
import type {
  ConnectionTimeouts,
  ExchangeController,
  ExchangeHandler,
  ExchangeRequest,
  HeadSoFar,
  UpstreamHead,
} from '../exchange-contract.ts';
import { bodyStalled, headTimedOut } from '../exchange-timers.ts';
import type { H2CallSession } from './h2-call-session.ts';
import { bodyKept, bodyWaiting, noHeadReason, sentHeadSize } from './h2-failure-details.ts';
import { h2AnswerHead, h2HeaderListSize, h2Trailers, paddedField } from './h2-headers.ts';
import { resetBeforeEnd } from './h2-reset-before-end.ts';

const END_STREAM_FLAG = 0x1;

/**
 * One request on an HTTP/2 session: writes the request on its stream, reads the response,
 * and tells the exchange what happened through the same ExchangeHandler events an HTTP/1.1
 * connection uses, each failure classified once (classifyH2StreamEnd) with how far it got.
 */
export class H2Call implements ExchangeController {
  private readonly session: H2CallSession;
  private handler: ExchangeHandler | null;
  private readonly request: ExchangeRequest;
  private readonly timeouts: ConnectionTimeouts;
  private readonly onEnded: () => void;
  private stream: ClientHttp2Stream | undefined;
  private head: UpstreamHead | null = null;
  /**
   * The interim (1xx) heads so far, held together to the response head limit as an HTTP/1.1
   * upstream's are: node:http2 bounds each HEADERS block, not how many come.
   */
  private readonly interim: InterimHeads;
  private trailers: string[] | undefined;
  private streamError: NodeJS.ErrnoException | undefined;
  /** The client's body going out, while it streams. */
  private pump: BodyPump | undefined;
  private headTimer: NodeJS.Timeout | undefined;
  private readTimer: NodeJS.Timeout | undefined;
  private bodyPieces = 0;
  private bodyBytes = 0;
  private paused = false;
  private released = false;
  private readonly startedAt = performance.now();
  /** When the request was wholly sent: the head clock runs from there (a client's slow upload is not the upstream's wait). */
  private sentAt = this.startedAt;

  constructor(
    session: H2CallSession,
    handler: ExchangeHandler,
    request: ExchangeRequest,
    timeouts: ConnectionTimeouts,
    onEnded: () => void,
  ) {
    this.session = session;
    this.handler = handler;
    this.request = request;
    this.timeouts = timeouts;
    this.onEnded = onEnded;
    this.interim = new InterimHeads(session.maxHeaderSize);
  }

  get isOver(): boolean {
    return this.handler === null;
  }

  remoteAddress(): string | undefined {
    return this.session.remoteAddress();
  }

  remotePort(): number | undefined {
    return this.session.remotePort();
  }

  /** Body bytes node:http2 still holds for the stream, and what keeps them (h2-failure-details.ts). */
  requestWaiting(): string | undefined {
    return bodyWaiting(this.stream);
  }

  /** Its interim heads; a HEADERS block comes whole, never in part. */
  headSoFar(): HeadSoFar {
    return { interim: this.interim.count, partial: 0 };
  }

  start(stream: ClientHttp2Stream): void {
    this.stream = stream;
    stream.on('headers', this.onInterim);
    stream.on('response', this.onAnswer);
    stream.on('data', this.onData);
    stream.on('trailers', this.onTrailers);
    stream.on('end', this.onEnd);
    stream.on('error', (err: NodeJS.ErrnoException) => {
      this.streamError ??= err;
    });
    stream.on('close', this.onClose);
    // timeouts.response runs from the request sent: for a body streaming from the client, once it is all out.
    if (this.request.body.kind !== 'stream') this.headSent();
    this.sendBody(stream);
  }

  private sendBody(stream: ClientHttp2Stream): void {
    const handler = this.handler as ExchangeHandler;
    const { body } = this.request;
    if (body.kind === 'none') return handler.onRequestSent();
    if (body.kind === 'buffer') {
      handler.onBodyChunk(body.bytes);
      if (this.handler !== handler) return;
      stream.end(body.bytes);
      return handler.onRequestSent();
    }
    this.pump = pumpRequestBody(
      body,
      stream,
      handler,
      () => this.handler,
      (failure) => this.abort(failure),
      () => {
        // A response that came first needs no clock for its head.
        if (this.handler === handler && this.head === null) this.headSent();
      },
      {
        timeout: this.timeouts.send,
        waiting: () => bodyKept(this.stream),
        answered: () => this.head !== null,
      },
    );
  }

  /** The request is all out: the head clock starts. */
  private headSent(): void {
    this.sentAt = performance.now();
    this.headTimer = setTimeout(this.onHeadTimeout, this.timeouts.head).unref();
  }

  // ── the controller ───────────────────────────────────────────────────────────────

  abort(failure: Failure): void {
    const handler = this.handler;
    if (handler === null) return;
    this.finish();
    // RST_STREAM CANCEL (RFC 9113 §7). Not stream.close(CANCEL): it ends the request first
    // (END_STREAM), so a body cut short (its client left, it passed the route's limit) would
    // reach the upstream whole before the reset. node:http2 resets a stream that an AbortSignal
    // destroys with CANCEL, ending nothing.
    if (this.stream !== undefined && !this.stream.closed) addAbortSignal(AbortSignal.abort(), this.stream);
    else if (this.stream === undefined) this.release();
    handler.onResponseError(this, failure);
  }

  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    if (this.handler === null) return;
    this.paused = false;
    this.readTimer?.refresh();
    this.stream?.resume();
  }

  // ── the stream ───────────────────────────────────────────────────────────────────

  private readonly onInterim = (_headers: IncomingHttpHeaders, _flags: number, raw: string[]): void => {
    if (this.handler === null || this.head !== null) return;
    const size = h2HeaderListSize(raw);
    if (this.sectionTooLarge(raw, size, 'header') || this.malformed(raw)) return;
    const flood = this.interim.add(size);
    if (flood !== undefined) return this.abort(new Failure('http_protocol_error', flood));
    const head = h2AnswerHead(raw, this.request.method, false);
    // 100 answers an Expect the gateway handled itself, as on HTTP/1.1; 101 has no HTTP/2 form.
    if (head.status > 100 && head.status < 200) this.handler.onInformational(head);
  };

  private readonly onAnswer = (_headers: IncomingHttpHeaders, flags: number, raw: string[]): void => {
    const handler = this.handler;
    if (handler === null || this.sectionTooLarge(raw, h2HeaderListSize(raw), 'header') || this.malformed(raw))
      return;
    clearTimeout(this.headTimer);
    const head = h2AnswerHead(raw, this.request.method, (flags & END_STREAM_FLAG) !== 0);
    // nghttp2 checks three digits and a final status, not RFC 9110 §15's range: as the HTTP/1.1 parser.
    if (head.status > 599)
      return this.abort(new Failure('http_protocol_error', `status code ${head.status} out of range`));
    this.head = head;
    if (head.hasBody) this.readTimer = setTimeout(this.onReadTimeout, this.timeouts.read).unref();
    handler.onResponseStart(this, head);
    // A response to HEAD, a 204 or a 304 is whole at its head (RFC 9110 §6.4.1), as from an HTTP/1.1
    // upstream: its stream's end is not waited for (an upstream that never sent it held the client's
    // connection to the total timeout), and a DATA frame after it is no part of it (it cut the client).
    if (!head.hasBody && (flags & END_STREAM_FLAG) === 0 && this.handler === handler)
      this.wholeAtHead(handler);
    // A content-length of 0 is all there at its head (onData's rule, for a body no DATA brings).
    else if (head.bodyLength === 0 && (flags & END_STREAM_FLAG) === 0 && this.request.wholeAtLength === true)
      setImmediate(H2Call.endAtLength, this);
  };

  private wholeAtHead(handler: ExchangeHandler): void {
    this.finish();
    // The upstream's side is still open: reset (NO_ERROR), or the stream would hold its slot.
    if (this.stream !== undefined && !this.stream.closed) this.stream.destroy();
    handler.onResponseEnd(this, undefined);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.handler === null || this.head === null) return;
    this.bodyPieces++;
    this.bodyBytes += chunk.length;
    this.readTimer?.refresh();
    this.handler.onResponseData(this, chunk);
    // All of its content-length came: no more DATA may (RFC 9113 §8.1.1), only trailers, which a
    // client of HTTP/1.x does not get after such a body. Whole for it, whether or not the upstream
    // ends its stream: its next request must not wait on that. Looked at after this turn, when an
    // END_STREAM on this DATA frame has ended the call already (onEnd), as it nearly always has.
    if (this.bodyBytes === this.head.bodyLength && this.request.wholeAtLength === true)
      setImmediate(H2Call.endAtLength, this);
  };

  /** A call whose whole content-length came, a turn later (onData): static, no closure per call. */
  private static endAtLength(call: H2Call): void {
    const handler = call.handler;
    if (handler !== null) call.wholeAtHead(handler);
  }

  private readonly onTrailers = (headers: IncomingHttpHeaders, _flags: number, raw?: string[]): void => {
    const fields = raw ?? Object.entries(headers).flatMap(([name, value]) => [name, String(value)]);
    if (
      this.handler === null ||
      this.sectionTooLarge(fields, h2HeaderListSize(fields), 'trailer') ||
      this.malformed(fields)
    )
      return;
    this.trailers = h2Trailers(fields);
  };

  /**
   * A header or trailer section HTTP/2 makes malformed that node:http2 hands over (a value with
   * whitespace at an end: the session turns nghttp2's silent drop of it off) fails the call as
   * garbage (RFC 9113 §8.1.1: an intermediary never forwards it); after the head, the cut.
   */
  private malformed(raw: readonly string[]): boolean {
    const details = paddedField(raw);
    if (details === undefined) return false;
    this.abort(new Failure('http_protocol_error', details));
    return true;
  }

  /**
   * Node enforces the SETTINGS_MAX_HEADER_LIST_SIZE this gateway sends only once the upstream has
   * acknowledged them: a session's first streams would take a head of any size. The bounds are the
   * gateway's, as the HTTP/1.1 parser's are, and so are their failures: the section's size, and its
   * count of fields (MAX_FIELDS, pseudo-fields not counted), which node:http2's own bound
   * (`maxHeaderListPairs`, h2-session.ts) would tell only as a reset no one could tell from the
   * upstream's.
   */
  private sectionTooLarge(raw: readonly string[], size: number, section: 'header' | 'trailer'): boolean {
    const bound = this.session.maxHeaderSize;
    const inTrailers = section === 'trailer';
    const failure =
      size > bound
        ? sectionPastBound(bound, inTrailers)
        : fieldsPast(raw, MAX_FIELDS)
          ? tooManyFields(inTrailers)
          : undefined;
    if (failure === undefined) return false;
    this.abort(failure);
    return true;
  }

  private readonly onEnd = (): void => {
    const handler = this.handler;
    if (handler === null || this.head === null) return;
    const stream = this.stream;
    // Node ends the body of a stream its session took down (the upstream's socket closed, after
    // a GOAWAY or none) too, once it has cancelled it, and a stream reset with NO_ERROR: only an
    // end without a reset is END_STREAM.
    // But a NO_ERROR reset once every byte its content-length announced came ends a complete
    // response (RFC 9113 §8.1: the client must not discard it); Node's own http2 server sends one
    // in place of END_STREAM when its streams wait on flow control.
    const whole = this.head.bodyLength !== undefined && this.bodyBytes === this.head.bodyLength;
    if (stream !== undefined && (stream.rstCode !== 0 || (resetBeforeEnd.has(stream) && !whole)))
      return this.onClose();
    // The response is whole: a request body still going out is not wanted any more (RFC 9113 §8.1).
    this.finish();
    // Only a request still going out needs a reset (NO_ERROR) to stop; a finished one closes by
    // itself. destroy(), not close(): close() ends the request first (END_STREAM), and the
    // upstream would take the part that went as the whole body.
    if (stream !== undefined && !stream.closed && !stream.writableEnded) stream.destroy();
    handler.onResponseEnd(this, this.trailers);
  };

  private readonly onClose = (): void => {
    const handler = this.handler;
    if (handler !== null) {
      this.finish();
      const stream = this.stream as ClientHttp2Stream;
      const { end } = this.session;
      const failure = classifyH2StreamEnd({
        headReceived: this.head !== null,
        rstCode: stream.rstCode,
        streamId: stream.id,
        goaway: end.goaway,
        error: this.streamError ?? end.error,
        // A streamed body already taken from the client cannot go again, processed or not.
        replayable: this.pump?.taken !== true,
        elapsed: performance.now() - this.startedAt,
        body: { received: this.bodyBytes, announced: this.head?.bodyLength },
        sessionUp: this.session.isUp(),
        requestHead: this.head === null ? sentHeadSize(stream, this.session.peerHeaderListSize()) : undefined,
      });
      handler.onResponseError(this, failure);
    }
    this.release();
  };

  // A timer that fires looks again after the poll (setImmediate): see exchange-timers.ts.

  private readonly onHeadTimeout = (): void => {
    setImmediate(() => {
      if (this.handler === null || this.head !== null) return;
      this.session.stalled();
      const why = noHeadReason(this.requestWaiting(), this.session.prefaceCame);
      this.abort(headTimedOut(this.sentAt, this.timeouts, why, this.headSoFar()));
    });
  };

  private readonly onReadTimeout = (): void => {
    const pieces = this.bodyPieces;
    setImmediate(() => {
      if (this.handler === null || this.paused || this.bodyPieces !== pieces) return;
      this.session.stalled();
      // Its whole content-length came and only the stream's end is missing (RFC 9113 §8.1.1: no
      // more DATA may come, but trailers may): the client has every byte; the end never came.
      const announced = this.head?.bodyLength;
      const unended =
        announced !== undefined && this.bodyBytes === announced
          ? `all ${announced} bytes its content-length announced came, but the upstream never ended the stream (no END_STREAM, no trailers)`
          : undefined;
      this.abort(bodyStalled(this.timeouts.read, this.startedAt, unended));
    });
  };

  private finish(): void {
    this.handler = null;
    this.pump?.stop();
    clearTimeout(this.headTimer);
    clearTimeout(this.readTimer);
  }

  /** The stream slot goes back to the session, once. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.onEnded();
  }
}

/**
 * Whether a section has more than `max` fields, its pseudo-fields (`:status`) not counted (what an
 * HTTP/1.1 head's lines are). A list of no more than `max` pairs is not walked: every answer's.
 */
function fieldsPast(raw: readonly string[], max: number): boolean {
  if (raw.length <= 2 * max) return false;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].charCodeAt(0) !== 0x3a) count++;
  return count > max;
}
