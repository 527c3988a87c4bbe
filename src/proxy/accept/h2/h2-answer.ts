/**
 * The HTTP/2 response sink: one response on one stream. HTTP/2 frames the body itself, so the
 * head loses its connection-specific fields (RFC 9113 §8.2.2) and nothing is chunked.
 *
 * The head, and the body written in the same tick, are held to the end of that tick: a
 * response whole within it (a gateway-made error, a gRPC Trailers-Only answer, a small answer
 * read in one piece) goes out as one HEADERS frame and at most one DATA frame, the last with
 * END_STREAM; otherwise the head goes with what was held, the stream waits for trailers, and
 * end() sends them (or, with none, an empty DATA frame with END_STREAM). A cut response is reset
 * (RST_STREAM INTERNAL_ERROR), never ended as if whole; a response the client's
 * flow-control window keeps from moving for `sendTimeoutMs` (the send deadline both protocols
 * share: send-deadline.ts) is reset with CANCEL. A whole
 * answer to a request whose body the client has not ended (HEADERS without END_STREAM, then
 * nothing) is followed by RST_STREAM NO_ERROR (h2-request-side.ts).
 */
import http2, { type ServerHttp2Stream } from 'node:http2';
import { addAbortSignal } from 'node:stream';
import type { Failure } from '../../../core/failure/failure.ts';
import { isGrpcContentType } from '../../../core/failure/grpc-answer.ts';
import { h2ErrorName, NGHTTP2_RESETS_STREAM_ERRORS } from '../../../core/failure/h2-stream-end.ts';
import type { DrainCut } from '../../../core/net/downstream.ts';
import {
  type AnswerSink,
  type CloseListener,
  CONNECTION_CLOSED,
  type DownstreamHead,
} from '../../../core/net/downstream.ts';
import type { SendLimit } from '../../../core/net/send-deadline.ts';
import { atTurnEnd } from '../../../core/net/turn-end.ts';
import type { OpenSlot } from '../open-list.ts';
import { h2Head, headPastClient, trailersPastClient } from './h2-answer-fields.ts';
import type { H2AnswerOwner } from './h2-answer-owner.ts';
import { protocolBreach } from './h2-request.ts';
import { endRequestSideAfterAnswer } from './h2-request-side.ts';
import { H2SendWatch, type WatchedStream, watchAfterEnd } from './h2-send-watch.ts';
import {
  BATCH_BYTES,
  END_STREAM,
  joinPending,
  OPEN_STREAM,
  type PendingBody,
  pendingWith,
  type RespondOptions,
  respondWith,
  sendInterimHead,
  sendTrailersOn,
  WAIT_FOR_TRAILERS,
} from './h2-stream-writes.ts';

const { constants } = http2;

export class H2Answer implements AnswerSink, WatchedStream, OpenSlot {
  /** Its slot among the server's responses not yet over (open-list.ts; -1: not among them). */
  openSlot = -1;
  readonly #stream: ServerHttp2Stream;
  readonly #owner: H2AnswerOwner<H2Answer>;
  readonly #headRequest: boolean;
  #expectContinue: boolean;
  #headSent = false;
  /** The head was handed to a stream still open (not one nghttp2 had already reset). */
  #headOut = false;
  /** The head is queued, not yet given to the stream. */
  #pendingHead: string[] | undefined;
  /** The session holds this response's writes to the end of the turn (deferToTurnEnd). */
  #deferToTurnEnd = false;
  /** Body written in the head's tick, held with it (its bytes in #heldBytes). */
  #held: PendingBody | undefined;
  #heldBytes = 0;
  #bodyless = false;
  #finished = false;
  /** end() or abort() ran (or the stream closed): nothing more is written. */
  #over = false;
  #cut = false;
  #trailers: readonly string[] | undefined;
  #cutByDrain: DrainCut | undefined = undefined;
  /** The request's head: its fields are read only if a drain cuts the answer. */
  readonly #request: Pick<DownstreamHead, 'headers'>;
  /** The code of the RST_STREAM the client sent for this stream, its connection still up. */
  #resetByClient: number | undefined;
  /** How the client's connection broke HTTP/2 while this answer was under way (nghttp2 closed it). */
  #breach: string | undefined;
  /** Why this sink cut the response itself: trailers larger than the client takes. */
  #refusedTrailers: string | undefined;
  /** The request's body, once it has one (h2-server.ts): a reset for its short END_STREAM is nghttp2's, not the client's. */
  requestBody: { readonly endedShort: string | undefined } | undefined;
  #malformedBody: string | undefined;
  #wholeBeforeReset = false;
  /** When the whole answer left while the client's request side stayed open (AnswerSink.wholeAt). */
  #wholeAt: number | undefined;
  /** Body bytes given to the stream. */
  #written = 0;
  /**
   * The send deadline: counts while a write waits for the client, its END_STREAM and trailers
   * included. Made when first armed.
   */
  #sendWatch: H2SendWatch | undefined;
  /** The send deadline the client ran out of (the stream was reset for it). */
  #cutBySend: SendLimit | undefined;
  #sendTimeoutCallbacks: ((limit: SendLimit) => void)[] | undefined;
  readonly #sendTimeoutMs: number;
  /** When the guard admitted the stream (Date.now()), for the rapid-reset bound's age. */
  readonly #admittedAt: number;
  /** How the stream ended, once it has. */
  #closedWith: boolean | undefined;
  /** What waits for the close: the usual one (its session's) as it is, a list from a second (64 bytes a stream in flight). */
  #closeCallbacks: CloseListener | CloseListener[] | undefined;

  constructor(
    stream: ServerHttp2Stream,
    owner: H2AnswerOwner<H2Answer>,
    request: Pick<DownstreamHead, 'method' | 'expectContinue' | 'headers'>,
    sendTimeoutMs: number,
    admittedAt: number,
  ) {
    this.#request = request;
    this.#admittedAt = admittedAt;
    this.#stream = stream;
    this.#owner = owner;
    this.#headRequest = request.method === 'HEAD';
    this.#expectContinue = request.expectContinue;
    this.#sendTimeoutMs = sendTimeoutMs;
    // The stream's errors: the server listens for them already (h2-server.ts), before this is made.
    // 'close' comes once: `on`, without the wrapper `once` makes.
    stream.on('close', this.#onClose);
  }

  get headSent(): boolean {
    return this.#headSent;
  }

  get headPending(): boolean {
    return this.#pendingHead !== undefined;
  }

  get finished(): boolean {
    return this.#finished;
  }

  get closed(): boolean {
    return this.#over;
  }

  get cutByDrain(): DrainCut | undefined {
    return this.#cutByDrain;
  }

  get cutBySend(): SendLimit | undefined {
    return this.#cutBySend;
  }

  get refusedTrailers(): string | undefined {
    return this.#refusedTrailers;
  }

  get malformedBody(): string | undefined {
    return this.#malformedBody;
  }

  get wholeBeforeReset(): boolean {
    return this.#wholeBeforeReset;
  }

  get wholeAt(): number | undefined {
    return this.#wholeAt;
  }

  get leftHow(): string {
    if (this.#breach !== undefined) return this.#breach;
    const code = this.#resetByClient;
    if (code !== undefined)
      return NGHTTP2_RESETS_STREAM_ERRORS && code === constants.NGHTTP2_FLOW_CONTROL_ERROR
        ? // nghttp2 before 1.67 resets so itself for a WINDOW_UPDATE past 2^31 - 1 (Node 24's closes the connection).
          "the stream was reset FLOW_CONTROL_ERROR: the client's own reset, or nghttp2's for a WINDOW_UPDATE of the client's that pushed the stream's window past 2^31 - 1 (RFC 9113 §6.9.1; this Node's nghttp2 resets the stream for it, and says not which)"
        : `client reset the stream (${h2ErrorName(code)})`;
    // Not the client's leaving either: the gateway closed its connection for a bound it passed.
    const cut = this.#owner.closedFor(this.#stream.errored);
    if (cut !== undefined) return cut;
    // node:http2 takes a session down with ERR_HTTP2_SESSION_ERROR only for a GOAWAY with an error
    // code from the client: its word on why it left (a PROTOCOL_ERROR says the gateway broke HTTP/2).
    const error = this.#stream.errored as (Error & { code?: string }) | null;
    const goaway = error?.code === 'ERR_HTTP2_SESSION_ERROR' ? /(\d+)$/.exec(error.message)?.[1] : undefined;
    return goaway === undefined
      ? CONNECTION_CLOSED
      : `${CONNECTION_CLOSED} with GOAWAY ${h2ErrorName(Number(goaway))}`;
  }

  /** Body bytes the stream holds that node:http2 has not yet sent on (its flow-control window or the socket). */
  get pendingBytes(): number {
    return this.#stream.writableLength + this.#heldBytes;
  }

  get flushedBytes(): number {
    return this.#written - this.pendingBytes;
  }

  /**
   * The gateway's drain is about to destroy this stream's session, for `why`: the response is
   * cut here, reset INTERNAL_ERROR, as any cut one. The session's destroy() would reset it
   * NO_ERROR, which a client reads as the answer's end, whole. Whether it was reset now.
   */
  cutByTheDrain(why: DrainCut): boolean {
    if (this.#over) return false;
    this.#cutByDrain = why;
    // A gRPC call (as the request says, as its log line's grpc_status does) is left to its
    // connection's close, never reset: its client reads that close UNAVAILABLE (safe to call
    // again elsewhere), a reset INTERNAL.
    if (isGrpcCall(this.#request.headers)) return false;
    this.abort();
    return true;
  }

  /**
   * The head is held to the end of the turn rather than of the tick (turn-end.ts's queue, which
   * allocates nothing, instead of a nextTick a response): node:http2 sends a session's frames
   * in one socket write per turn of its own, so nothing leaves later for it.
   */
  deferToTurnEnd(): void {
    this.#deferToTurnEnd = true;
  }

  /** No upgrade over HTTP/2 (RFC 9113 §8.6): the server never marks a head `upgrade`. */
  switchProtocols(): undefined {
    return undefined;
  }

  sendContinue(): void {
    if (!this.#expectContinue || this.#headSent || this.#over) return;
    this.#expectContinue = false;
    this.#stream.additionalHeaders({ ':status': 100 });
  }

  sendInterim(status: number, _reason: string, headers: readonly string[]): boolean {
    if (this.#headSent || this.#over || status < 102 || status > 199) return false;
    return sendInterimHead(this.#stream, status, headers, this.#owner.clientHeaderListSize);
  }

  /**
   * HTTP/2 has no reason phrase, and `close` is the connection's business (a drain closes the
   * session). A head larger than the client takes (its SETTINGS_MAX_HEADER_LIST_SIZE) is refused
   * with nothing sent, by throwing its `client_header_list_size` failure: sent, the client would
   * reset the stream on reading it, after the log had the answer as given; refused, a smaller
   * answer may go instead (the gateway's, saying why).
   */
  sendHead(status: number, _reason: string, headers: readonly string[], _close?: boolean): void {
    if (this.#headSent || this.#over) throw new Error('response head sent twice');
    const head = h2Head(status, headers);
    const refused = headPastClient(status, head, this.#owner.clientHeaderListSize);
    if (refused !== undefined) throw refused;
    this.#headSent = true;
    // node:http2 ends the stream with the head of a HEAD's answer, a 204, 205 or 304.
    this.#bodyless = this.#headRequest || status === 204 || status === 205 || status === 304;
    this.#pendingHead = head;
    if (this.#deferToTurnEnd) atTurnEnd(H2Answer.#flushHeadOf, this);
    else process.nextTick(H2Answer.#flushHeadOf, this);
  }

  headRefusal(status: number, headers: readonly string[]): Failure | undefined {
    return headPastClient(status, h2Head(status, headers), this.#owner.clientHeaderListSize);
  }

  /** The head and what was held with it: the stream stays open for more body and then the trailers. */
  #flushHead(): void {
    const head = this.#pendingHead;
    if (head === undefined || this.#stream.destroyed) return;
    this.#pendingHead = undefined;
    if (this.#bodyless) return this.#respond(head, END_STREAM);
    this.#stream.once('wantTrailers', () => this.#sendTrailers());
    this.#respond(head, WAIT_FOR_TRAILERS);
    const held = this.#takePending();
    if (held !== undefined && !this.#stream.destroyed && !this.#stream.write(held)) this.#armDeadline();
  }

  /** The held head's flush, for the queue that runs it (no closure a response). */
  static #flushHeadOf(sink: H2Answer): void {
    sink.#flushHead();
  }

  /** The body held with the head, as one buffer (undefined: none). */
  #takePending(): Buffer | undefined {
    const held = this.#held;
    this.#held = undefined;
    this.#heldBytes = 0;
    return held === undefined ? undefined : joinPending(held);
  }

  /** A head node:http2 will not send (a field it refuses) cuts the stream (h2-stream-writes.ts). */
  #respond(head: string[], options: RespondOptions): void {
    this.#headOut ||= this.#stream.rstCode === 0 && !this.#stream.destroyed;
    if (!respondWith(this.#stream, head, options)) this.#reset(constants.NGHTTP2_INTERNAL_ERROR);
  }

  /** Trailers node:http2 will not send cut the stream, as a response whose end cannot be told whole. */
  #sendTrailers(): void {
    if (sendTrailersOn(this.#stream, this.#trailers)) this.#answerWhole();
    else this.#reset(constants.NGHTTP2_INTERNAL_ERROR);
  }

  write(chunk: Buffer): boolean {
    if (!this.#headSent || this.#over || this.#bodyless || chunk.length === 0) return true;
    this.#written += chunk.length;
    if (this.#pendingHead !== undefined) {
      if (this.#heldBytes + chunk.length <= BATCH_BYTES) {
        this.#held = pendingWith(this.#held, chunk);
        this.#heldBytes += chunk.length;
        return true;
      }
      // More than one frame's worth: the head goes now, and the stream's own backpressure rules.
      this.#flushHead();
    }
    const ok = this.#stream.write(chunk);
    if (!ok) this.#armDeadline();
    return ok;
  }

  onDrain(callback: () => void): void {
    this.#stream.once('drain', callback);
  }

  end(trailers?: readonly string[]): void {
    if (this.#over) return;
    if (!this.#headSent) throw new Error('response ended before its head');
    const refused = this.#bodyless
      ? undefined
      : trailersPastClient(trailers, this.#owner.clientHeaderListSize);
    if (refused !== undefined) {
      this.#refusedTrailers = refused;
      return this.abort();
    }
    this.#over = true;
    this.#finished = true;
    const head = this.#pendingHead;
    if (head !== undefined && (trailers === undefined || trailers.length === 0 || this.#bodyless)) {
      // Whole within one tick: HEADERS, with END_STREAM when there is no body (gRPC's
      // Trailers-Only), else one DATA frame that ends the stream.
      this.#pendingHead = undefined;
      const held = this.#bodyless ? undefined : this.#takePending();
      this.#respond(head, held === undefined ? END_STREAM : OPEN_STREAM);
      if (held === undefined || this.#stream.destroyed) return this.#answerWhole();
      this.#stream.end(held);
      watchAfterEnd(this.#stream, this);
      return this.#answerWhole();
    }
    this.#flushHead();
    if (this.#bodyless) return this.#answerWhole();
    this.#trailers = trailers;
    this.#stream.end();
    watchAfterEnd(this.#stream, this);
  }

  /**
   * The whole answer is the stream's. A request side the client left open is closed after a
   * grace (h2-request-side.ts), and the stream's close with it: the response ended when its
   * last frame left (wholeAt), or the log's total_ms counted up to a second of that grace.
   */
  #answerWhole(): void {
    const stream = this.#stream;
    if (!endRequestSideAfterAnswer(stream)) return;
    if (stream.writableFinished) this.#wholeAt = performance.now();
    else
      stream.once('finish', () => {
        this.#wholeAt = performance.now();
      });
  }

  /** The send watch's, at the end of end()'s turn: the stream still open, the deadline counts until it closes. */
  queuedAfterEnd(): void {
    const stream = this.#stream;
    if (!stream.closed && !stream.destroyed && stream.writableLength > 0) this.#armDeadline(false);
  }

  /**
   * Cuts the response: RST_STREAM INTERNAL_ERROR, after what was written (AnswerSink: "what
   * was written leaves, then the client sees the cut"). A head still held to the end of the
   * turn goes first, with its body, so that the client sees the status the log says and then
   * the cut, as over HTTP/1.1; a bodyless one stays unsent (sent, it would end the stream whole).
   */
  abort(): void {
    if (this.#over) return;
    this.#over = true;
    if (this.#pendingHead !== undefined && !this.#bodyless) this.#flushHead();
    this.#reset(constants.NGHTTP2_INTERNAL_ERROR);
  }

  /** After the stream closed, the callback is called at once with how it ended. */
  onClose(callback: CloseListener): void {
    if (this.#closedWith !== undefined) return callback(this.#closedWith);
    const waiting = this.#closeCallbacks;
    if (waiting === undefined) this.#closeCallbacks = callback;
    else if (typeof waiting === 'function') this.#closeCallbacks = [waiting, callback];
    else waiting.push(callback);
  }

  /**
   * RST_STREAM with `code`. Not stream.close(code): it ends the writable side first, and
   * node:http2 flushes that END_STREAM before the reset, so a cut response would look whole.
   * destroy() resets without ending: INTERNAL_ERROR for an error, CANCEL for an abort.
   */
  #reset(code: number): void {
    if (this.#stream.destroyed || this.#stream.closed) return;
    this.#cut = true;
    this.#pendingHead = undefined;
    this.#held = undefined;
    this.#heldBytes = 0;
    if (code === constants.NGHTTP2_CANCEL) addAbortSignal(AbortSignal.abort(), this.#stream);
    else this.#stream.destroy(new Error('response cut'));
  }

  /** `untilDrain`: a write waits, its 'drain' stops the deadline (after end(), the stream's close does). */
  #armDeadline(untilDrain = true): void {
    this.#sendWatch ??= new H2SendWatch(this.#stream, this, this.#sendTimeoutMs);
    this.#sendWatch.watch(untilDrain);
  }

  /** The send watch's: whoever listens hears why first (over already: their own abort cannot turn the CANCEL into a cut). */
  sendTimedOut(limit: SendLimit): void {
    this.#over = true;
    this.#cutBySend = limit;
    for (const callback of this.#sendTimeoutCallbacks ?? []) callback(limit);
    this.#owner.sendTimeout(this.#stream.id ?? 0);
    this.#reset(constants.NGHTTP2_CANCEL);
  }

  onSendTimeout(callback: (limit: SendLimit) => void): void {
    if (this.#sendTimeoutCallbacks === undefined) this.#sendTimeoutCallbacks = [callback];
    else this.#sendTimeoutCallbacks.push(callback);
  }

  readonly #onClose = (): void => {
    this.#owner.streamClosed(this);
    this.#sendWatch?.stop();
    const clean = this.#stream.rstCode === constants.NGHTTP2_NO_ERROR;
    const finished = this.#finished && clean && !this.#cut;
    // nghttp2 closed the connection for a frame HTTP/2 forbids (a window pushed past 2^31 - 1,
    // DATA past a content-length): it closes the streams INTERNAL_ERROR, with the stream already
    // detached from its session, and the client reset nothing.
    if (!this.#cut && !(this.#finished && clean))
      this.#breach = protocolBreach(this.#stream, 'before its answer was whole');
    // nghttp2's own reset of a request whose END_STREAM came short of its content-length.
    // (Not once a whole answer had gone on a live stream: the client has it, whatever it sent after.)
    this.#malformedBody = this.#finished && this.#headOut ? undefined : this.requestBody?.endedShort;
    // Its END_STREAM handed over before the reset: the client has the answer whole.
    this.#wholeBeforeReset = this.#finished && this.#headOut && !clean && this.#stream.writableFinished;
    // An answer made once the stream was reset (the 400 of a malformed body, which nghttp2 reset
    // first) never left: the client got no status line, and headSent says so to the log.
    if (!this.#headOut && !this.#cut && !clean) this.#headSent = false;
    // A reset we did not make, on a connection still up: the client cancelled the stream. (node:http2
    // closes every stream CANCEL when its client's connection ends, FIN or drop, the stream
    // already detached from its session: the connection closed, no reset; its guard knows.)
    const byClient = this.#breach === undefined && this.#malformedBody === undefined;
    if (!this.#cut && !(this.#finished && clean) && byClient && this.#owner.connectionUp) {
      this.#resetByClient = this.#stream.rstCode;
      // A head held to the end of the tick has not reached the client: not yet an answer.
      this.#owner.clientReset(this.#headSent && this.#pendingHead === undefined, this.#admittedAt);
    }
    if (!finished) this.#finished = false;
    this.#over = true;
    this.#closedWith = finished;
    // Taken before they run: one added meanwhile is called at once (#closedWith is set).
    const callbacks = this.#closeCallbacks;
    this.#closeCallbacks = undefined;
    if (typeof callbacks === 'function') callbacks(finished);
    // Indexed: a for…of here made an iterator and its results every response.
    else if (callbacks !== undefined) for (let i = 0; i < callbacks.length; i++) callbacks[i](finished);
  };
}

/** Whether a request's fields (names lowercase, as HTTP/2 has them) say it is a gRPC call. */
function isGrpcCall(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i] === 'content-type') return isGrpcContentType(headers[i + 1]);
  return false;
}
