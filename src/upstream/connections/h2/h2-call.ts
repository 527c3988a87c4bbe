import { subscribe } from 'node:diagnostics_channel';
import type { ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { addAbortSignal } from 'node:stream';
import { classifyH2StreamEnd } from '../../../core/failure/classify.ts';
import { Failure } from '../../../core/failure/failure.ts';
import { InterimHeads } from '../../../core/limits/interim-heads.ts';
import { type BodyPump, pumpRequestBody } from '../body-pump.ts';
import type {
  ConnectionTimeouts,
  ExchangeController,
  ExchangeHandler,
  ExchangeRequest,
  UpstreamHead,
} from '../exchange-contract.ts';
import { bodyStalled, headTimedOut } from '../exchange-timers.ts';
import { h2HeaderListSize, h2ResponseHead, h2Trailers } from './h2-headers.ts';

const END_STREAM_FLAG = 0x1;

/**
 * Streams the upstream reset with NO_ERROR before their END_STREAM. Node ends the body of such a
 * stream as it ends one at END_STREAM ('end', rstCode 0), and a paused stream (a slow client)
 * shows neither apart at 'end' or 'close'. What tells them is the order: Node marks the readable
 * side ended at END_STREAM, before the stream closes; at a reset it closes the stream first.
 * The channel is published synchronously as the stream closes (Node's closeStream).
 */
const resetBeforeEnd = new WeakSet<ClientHttp2Stream>();
subscribe('http2.client.stream.close', (message) => {
  const stream = (message as { stream: ClientHttp2Stream & { _readableState: { ended: boolean } } }).stream;
  if (stream.rstCode === 0 && !stream._readableState.ended) resetBeforeEnd.add(stream);
});

/** Why a session ended, for the streams it takes down with it (each call classifies its own end with it). */
export interface SessionEnd {
  /** The upstream's GOAWAY: streams above `lastStreamId` were never processed (RFC 9113 §6.8). */
  readonly goaway?: { readonly code: number; readonly lastStreamId: number };
  /** The session's own error (a protocol error, the socket's reset). */
  readonly error?: NodeJS.ErrnoException;
}

/**
 * What a call reads of the session that carries it (H2Session, h2-session.ts): its peer, for
 * the exchange's log fields, and why it ended, when the stream ends with it. An interface here,
 * so that the call does not import the session that creates it.
 */
export interface H2CallSession {
  readonly end: SessionEnd;
  /** The largest response head (or trailer section) taken, as the session's SETTINGS say it. */
  readonly maxHeaderSize: number;
  /** Neither closed nor told to go away: a stream's end now is its own, not the session's. */
  isUp(): boolean;
  /** The upstream's SETTINGS (its preface) came: false, no HTTP/2 server has said a word yet. */
  readonly prefaceCame: boolean;
  /** A stream got no answer in time: the session checks that the connection itself still answers. */
  stalled(): void;
  /** The largest request head the upstream takes, as its SETTINGS_MAX_HEADER_LIST_SIZE says (Infinity: it said none). */
  peerHeaderListSize(): number;
  remoteAddress(): string | undefined;
  remotePort(): number | undefined;
}

const NO_PREFACE =
  'the upstream never sent its HTTP/2 preface (SETTINGS): no HTTP/2 server answered on that connection';

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

  /**
   * Body bytes node:http2 still holds for the stream, and what keeps them: the connection's
   * flow-control window, the socket, or else (node:http2 does not show a stream's own window)
   * the stream's window.
   */
  requestWaiting(): string | undefined {
    const stream = this.stream;
    const left = stream === undefined || stream.destroyed ? 0 : stream.writableLength;
    if (left === 0) return undefined;
    const session = stream?.session;
    const why =
      session?.state.remoteWindowSize === 0
        ? "its connection's HTTP/2 flow-control window stayed shut"
        : (session?.socket?.writableLength ?? 0) > 0
          ? 'the connection to it took no more'
          : 'its HTTP/2 flow-control window stayed shut';
    return `${left} bytes of the request body were still waiting for the upstream to take them (${why})`;
  }

  start(stream: ClientHttp2Stream): void {
    this.stream = stream;
    stream.on('headers', this.onInterim);
    stream.on('response', this.onResponse);
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
      body.source,
      stream,
      handler,
      () => this.handler,
      (failure) => this.abort(failure),
      () => {
        // A response that came first needs no clock for its head.
        if (this.handler === handler && this.head === null) this.headSent();
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
    if (this.headTooLarge(size, 'header')) return;
    const flood = this.interim.add(size);
    if (flood !== undefined) return this.abort(new Failure('http_protocol_error', flood));
    const head = h2ResponseHead(raw, this.request.method, false);
    // 100 answers an Expect the gateway handled itself, as on HTTP/1.1; 101 has no HTTP/2 form.
    if (head.status > 100 && head.status < 200) this.handler.onInformational(head);
  };

  private readonly onResponse = (_headers: IncomingHttpHeaders, flags: number, raw: string[]): void => {
    const handler = this.handler;
    if (handler === null || this.headTooLarge(h2HeaderListSize(raw), 'header')) return;
    clearTimeout(this.headTimer);
    const head = h2ResponseHead(raw, this.request.method, (flags & END_STREAM_FLAG) !== 0);
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
      setImmediate(this.endAtLength);
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
      setImmediate(this.endAtLength);
  };

  private readonly endAtLength = (): void => {
    const handler = this.handler;
    if (handler !== null) this.wholeAtHead(handler);
  };

  private readonly onTrailers = (headers: IncomingHttpHeaders, _flags: number, raw?: string[]): void => {
    const fields = raw ?? Object.entries(headers).flatMap(([name, value]) => [name, String(value)]);
    if (this.handler === null || this.headTooLarge(h2HeaderListSize(fields), 'trailer')) return;
    this.trailers = h2Trailers(fields);
  };

  /**
   * Node enforces the SETTINGS_MAX_HEADER_LIST_SIZE this gateway sends only once the upstream has
   * acknowledged them: a session's first streams would take a head of any size. The bound is the
   * gateway's, as the HTTP/1.1 parser's is, and so is its failure.
   */
  private headTooLarge(size: number, section: 'header' | 'trailer'): boolean {
    const bound = this.session.maxHeaderSize;
    if (size <= bound) return false;
    this.abort(
      new Failure(
        'http_response_header_section_size',
        `response ${section} section larger than ${bound} bytes`,
      ),
    );
    return true;
  }

  private readonly onEnd = (): void => {
    const handler = this.handler;
    if (handler === null || this.head === null) return;
    const stream = this.stream;
    // Node ends the body of a stream its session took down (the upstream's socket closed, after
    // a GOAWAY or none) too, once it has cancelled it, and a stream reset with NO_ERROR: only an
    // end without a reset is END_STREAM.
    if (stream !== undefined && (stream.rstCode !== 0 || resetBeforeEnd.has(stream))) return this.onClose();
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
        requestHead: this.head === null ? this.requestHeadSize(stream) : undefined,
      });
      handler.onResponseError(this, failure);
    }
    this.release();
  };

  /** The request head as sent, sized as HTTP/2 counts a header list, beside the upstream's announced limit, and its count of fields. */
  private requestHeadSize(stream: ClientHttp2Stream): { size: number; limit: number; fields: number } {
    const sent = Object.entries(stream.sentHeaders ?? {}).flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value]).flatMap((one) => [name, String(one)]),
    );
    return {
      size: h2HeaderListSize(sent),
      limit: this.session.peerHeaderListSize(),
      fields: sent.length / 2,
    };
  }

  // A timer that fires looks again after the poll (setImmediate): see exchange-timers.ts.

  private readonly onHeadTimeout = (): void => {
    setImmediate(() => {
      if (this.handler === null || this.head !== null) return;
      this.session.stalled();
      const waiting = this.requestWaiting();
      // A target that accepts and never speaks HTTP/2 (an HTTP/1.1 server waiting for a request
      // line) reads as a slow handler unless the missing preface is named.
      const unheard = this.session.prefaceCame ? undefined : NO_PREFACE;
      const why =
        unheard === undefined || waiting === undefined ? (waiting ?? unheard) : `${waiting}; ${unheard}`;
      this.abort(headTimedOut(this.sentAt, why, this.interim.count));
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
