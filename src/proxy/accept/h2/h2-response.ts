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
 * nothing) is followed by RST_STREAM NO_ERROR (RFC 9113 §8.1): else the stream, half-closed
 * on our side only, would hold its connection for as long as the client likes.
 */
import http2, { type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { addAbortSignal } from 'node:stream';
import { Failure } from '../../../core/failure/failure.ts';
import { h2ErrorName } from '../../../core/failure/h2-stream-end.ts';
import { CONNECTION_CLOSED, type DownstreamHead, type ResponseSink } from '../../../core/net/downstream.ts';
import { SendDeadline, type SendLimit, type SendProgress } from '../../../core/net/send-deadline.ts';
import { atTurnEnd } from '../../../core/net/turn-end.ts';
import { protocolBreach } from './h2-request.ts';
import { h2Fields, h2Head, headerListSize, joinRepeats } from './h2-response-fields.ts';

const { constants } = http2;

/** How long a client whose request side is open after a whole answer has to end it, before RST_STREAM NO_ERROR. */
const REQUEST_SIDE_GRACE_MS = 1_000;

/**
 * Body held with the head until the end of the tick, at most: HTTP/2's smallest maximum frame
 * size (RFC 9113 §4.2), so what is held fits one DATA frame and never escapes backpressure.
 */
const HOLD_BYTES = 16 * 1024;

/** What the sink reports to its connection's guard. */
export interface H2ResponseOwner {
  /** The stream has closed, however it ended: called before anyone hears how. */
  streamClosed(response: H2Response): void;
  /**
   * The client reset the stream before its answer was complete: whether its head was sent, and
   * when the stream was admitted (the rapid-reset bound counts only young unanswered streams).
   */
  clientReset(headSent: boolean, admittedAt: number): void;
  /** The answer could not move for the send deadline; the stream was reset with CANCEL. */
  sendTimeout(streamId: number): void;
  /** The largest header list the client takes (its SETTINGS_MAX_HEADER_LIST_SIZE; Infinity: it set none). */
  readonly clientHeaderListSize: number;
  /** The client's connection is still open both ways (it neither ended nor dropped it). */
  readonly connectionUp: boolean;
}

/** respond()'s options (node:http2 reads them and keeps nothing): one object each, not one a response. */
const END_STREAM = Object.freeze({ endStream: true });
const OPEN_STREAM = Object.freeze({ endStream: false });
const WAIT_FOR_TRAILERS = Object.freeze({ waitForTrailers: true });

/** What the send deadline reads of a response: the stream itself, and what the sink holds for it. */
class H2SendProgress implements SendProgress {
  readonly #stream: ServerHttp2Stream;
  readonly #sink: H2Response;

  constructor(stream: ServerHttp2Stream, sink: H2Response) {
    this.#stream = stream;
    this.#sink = sink;
  }

  /** What the stream still holds after end() must reach the client too: closed is the stream's, not the sink's. */
  get closed(): boolean {
    return this.#stream.closed || this.#stream.destroyed;
  }

  get pendingBytes(): number {
    return this.#sink.pendingBytes;
  }

  get flushedBytes(): number {
    return this.#sink.flushedBytes;
  }
}

export class H2Response implements ResponseSink {
  readonly #stream: ServerHttp2Stream;
  readonly #owner: H2ResponseOwner;
  readonly #headRequest: boolean;
  #expectContinue: boolean;
  #headSent = false;
  /** The head was handed to a stream still open (not one nghttp2 had already reset). */
  #headOut = false;
  /** The head is queued, not yet given to the stream. */
  #pendingHead: string[] | undefined;
  /** The session holds this response's writes to the end of the turn (holdUntilTurnEnd). */
  #holdToTurnEnd = false;
  /**
   * Body written in the head's tick, held with it (its bytes in #heldBytes): the one chunk a
   * small answer has as it is, a list only from a second one (no array a response).
   */
  #held: Buffer | Buffer[] | undefined;
  #heldBytes = 0;
  #bodyless = false;
  #finished = false;
  /** end() or abort() ran (or the stream closed): nothing more is written. */
  #over = false;
  #cut = false;
  #trailers: readonly string[] | undefined;
  #cutByDrain = false;
  /** The code of the RST_STREAM the client sent for this stream, its connection still up. */
  #resetByClient: number | undefined;
  /** How the client's connection broke HTTP/2 while this answer was under way (nghttp2 closed it). */
  #breach: string | undefined;
  /** Why this sink cut the response itself: trailers larger than the client takes. */
  #refusedTrailers: string | undefined;
  /** The request's body, once it has one (h2-server.ts): a reset for its short END_STREAM is nghttp2's, not the client's. */
  requestBody: { readonly endedShort: string | undefined } | undefined;
  #malformedBody: string | undefined;
  /** The send deadline the client ran out of (the stream was reset for it). */
  #cutBySend: SendLimit | undefined;
  /** Body bytes given to the stream. */
  #written = 0;
  /**
   * The send deadline: counts while a write waits for the client, its END_STREAM and trailers
   * included. Made when first armed.
   */
  #deadline: SendDeadline | undefined;
  readonly #sendTimeoutMs: number;
  /** When the guard admitted the stream (Date.now()), for the rapid-reset bound's age. */
  readonly #admittedAt: number;
  #sendTimeoutCallbacks: ((limit: SendLimit) => void)[] | undefined;
  /** How the stream ended, once it has. */
  #closedWith: boolean | undefined;
  #closeCallbacks: ((finished: boolean) => void)[] | undefined;

  constructor(
    stream: ServerHttp2Stream,
    owner: H2ResponseOwner,
    request: Pick<DownstreamHead, 'method' | 'expectContinue'>,
    sendTimeoutMs: number,
    admittedAt: number,
  ) {
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

  get headHeld(): boolean {
    return this.#pendingHead !== undefined;
  }

  get finished(): boolean {
    return this.#finished;
  }

  get closed(): boolean {
    return this.#over;
  }

  get cutByDrain(): boolean {
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

  get leftHow(): string {
    if (this.#breach !== undefined) return this.#breach;
    const code = this.#resetByClient;
    return code === undefined ? CONNECTION_CLOSED : `client reset the stream (${h2ErrorName(code)})`;
  }

  /** Body bytes the stream holds that node:http2 has not yet sent on (its flow-control window or the socket). */
  get pendingBytes(): number {
    return this.#stream.writableLength + this.#heldBytes;
  }

  get flushedBytes(): number {
    return this.#written - this.pendingBytes;
  }

  /** The gateway's drain deadline is about to destroy this stream's session. */
  cutAtDrainDeadline(): void {
    if (!this.#over) this.#cutByDrain = true;
  }

  /**
   * The head is held to the end of the turn rather than of the tick (turn-end.ts's queue, which
   * allocates nothing, instead of a nextTick a response): node:http2 sends a session's frames
   * in one socket write per turn of its own, so nothing leaves later for it.
   */
  holdUntilTurnEnd(): void {
    this.#holdToTurnEnd = true;
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
    // A client not reading is sent no more of them: they would pile up in the session.
    if (this.#stream.writableNeedDrain) return false;
    // One larger than the client takes would make it reset the stream: dropped, as a hint may be
    // (counted as if every field went, the ones h2Fields drops included).
    if (headerListSize(headers) + 7 + 3 + 32 > this.#owner.clientHeaderListSize) return false;
    try {
      const fields: OutgoingHttpHeaders = Object.create(null);
      fields[':status'] = status;
      this.#stream.additionalHeaders(h2Fields(headers, fields));
      return true;
    } catch {
      // An interim head node:http2 will not send is dropped: it is only a hint.
      return false;
    }
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
    const refused = this.#refusal(status, head);
    if (refused !== undefined) throw refused;
    this.#headSent = true;
    // node:http2 ends the stream with the head of a HEAD's answer, a 204, 205 or 304.
    this.#bodyless = this.#headRequest || status === 204 || status === 205 || status === 304;
    this.#pendingHead = head;
    if (this.#holdToTurnEnd) atTurnEnd(H2Response.#flushHeadOf, this);
    else process.nextTick(H2Response.#flushHeadOf, this);
  }

  headRefusal(status: number, headers: readonly string[]): Failure | undefined {
    return this.#refusal(status, h2Head(status, headers));
  }

  /** A head (as h2Head made it) larger than the client takes: its `client_header_list_size` failure. */
  #refusal(status: number, head: readonly string[]): Failure | undefined {
    const limit = this.#owner.clientHeaderListSize;
    // Most clients say a limit (node:http2 64 KiB, browsers 256 KiB): the sum is a few additions a field.
    if (limit === Number.POSITIVE_INFINITY) return undefined;
    const size = headerListSize(head);
    if (size <= limit) return undefined;
    return new Failure(
      'client_header_list_size',
      `the ${status} response head is ${size} bytes as HTTP/2 counts a header list, more than the client's SETTINGS_MAX_HEADER_LIST_SIZE of ${limit}`,
      { stage: 'head_received' },
    );
  }

  /** The head and what was held with it: the stream stays open for more body and then the trailers. */
  #flushHead(): void {
    const head = this.#pendingHead;
    if (head === undefined || this.#stream.destroyed) return;
    this.#pendingHead = undefined;
    if (this.#bodyless) return this.#respond(head, END_STREAM);
    this.#stream.once('wantTrailers', () => this.#sendTrailers());
    this.#respond(head, WAIT_FOR_TRAILERS);
    const held = this.#takeHeld();
    if (held !== undefined && !this.#stream.destroyed && !this.#stream.write(held)) this.#armDeadline();
  }

  /** The held head's flush, for the queue that runs it (no closure a response). */
  static #flushHeadOf(sink: H2Response): void {
    sink.#flushHead();
  }

  /** The body held with the head, as one buffer (undefined: none). */
  #takeHeld(): Buffer | undefined {
    const held = this.#held;
    this.#held = undefined;
    this.#heldBytes = 0;
    return Array.isArray(held) ? Buffer.concat(held) : held;
  }

  /**
   * A head node:http2 will not send (a field it refuses) cuts the stream; it must not throw into
   * a later tick. One whose only fault is a field repeated that node:http2 takes once goes with
   * its repeats joined.
   */
  #respond(head: string[], options: { endStream?: boolean; waitForTrailers?: boolean }): void {
    this.#headOut ||= this.#stream.rstCode === 0 && !this.#stream.destroyed;
    try {
      this.#stream.respond(head, options);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_HTTP2_HEADER_SINGLE_VALUE')
        try {
          return this.#stream.respond(joinRepeats(head), options);
        } catch {}
      this.#reset(constants.NGHTTP2_INTERNAL_ERROR);
    }
  }

  #sendTrailers(): void {
    const fields = this.#trailers === undefined ? {} : h2Fields(this.#trailers);
    try {
      this.#stream.sendTrailers(fields);
    } catch {
      // A field node:http2 will not send (a name HTTP/2 forbids in trailers): cut, as a
      // response whose end cannot be told whole.
      return this.#reset(constants.NGHTTP2_INTERNAL_ERROR);
    }
    this.#answered();
  }

  /**
   * The whole answer is given to the stream (its END_STREAM after any body, or its trailers).
   * A request side the client has not ended is closed with RST_STREAM NO_ERROR: the answer
   * needs nothing more of it (RFC 9113 §8.1). Not at once: from inside node:http2's own write of
   * the trailers (wantTrailers), a reset would go before them and drop them.
   * stream.close() lets what the stream still holds leave first.
   */
  #answered(): void {
    // The usual case, a request the client ended: nothing to do.
    if (this.#requestEnded()) return;
    // A client still sending a body it has in hand ends its side in a moment: it is given
    // REQUEST_SIDE_GRACE_MS to, as a reset in the middle of its upload reads to some clients
    // (curl) as a failed exchange. One that sends nothing more is reset then: bounded either way.
    const timer = setTimeout(() => this.#endRequestSide(), REQUEST_SIDE_GRACE_MS);
    timer.unref();
    this.#stream.once('close', () => clearTimeout(timer));
  }

  #requestEnded(): boolean {
    const stream = this.#stream;
    // endAfterHeaders first (a request without a body, the usual one): `state` makes an object.
    return stream.endAfterHeaders || stream.closed || stream.destroyed || stream.state?.remoteClose === 1;
  }

  #endRequestSide(): void {
    if (!this.#requestEnded()) this.#stream.close(constants.NGHTTP2_NO_ERROR);
  }

  write(chunk: Buffer): boolean {
    if (!this.#headSent || this.#over || this.#bodyless || chunk.length === 0) return true;
    this.#written += chunk.length;
    if (this.#pendingHead !== undefined) {
      if (this.#heldBytes + chunk.length <= HOLD_BYTES) {
        const held = this.#held;
        if (held === undefined) this.#held = chunk;
        else if (Array.isArray(held)) held.push(chunk);
        else this.#held = [held, chunk];
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
    const refused = this.#bodyless ? undefined : this.#trailersPastClient(trailers);
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
      const held = this.#bodyless ? undefined : this.#takeHeld();
      this.#respond(head, held === undefined ? END_STREAM : OPEN_STREAM);
      if (held === undefined || this.#stream.destroyed) return this.#answered();
      this.#stream.end(held);
      this.#watchAfterEnd();
      return this.#answered();
    }
    this.#flushHead();
    if (this.#bodyless) return this.#answered();
    this.#trailers = trailers;
    this.#stream.end();
    this.#watchAfterEnd();
  }

  /**
   * A trailer section larger than the client's SETTINGS_MAX_HEADER_LIST_SIZE: the client would
   * reset the stream on reading it, after the stream had closed on this side (a reset nghttp2
   * ignores), and the log would have the answer whole. The response is cut instead, and says why.
   */
  #trailersPastClient(trailers: readonly string[] | undefined): string | undefined {
    const limit = this.#owner.clientHeaderListSize;
    if (trailers === undefined || trailers.length === 0 || limit === Number.POSITIVE_INFINITY)
      return undefined;
    let size = 0;
    for (let i = 0; i < trailers.length; i += 2) size += trailers[i].length + trailers[i + 1].length + 32;
    if (size <= limit) return undefined;
    return `the trailer section is ${size} bytes as HTTP/2 counts a header list, more than the client's SETTINGS_MAX_HEADER_LIST_SIZE of ${limit}: the stream was cut`;
  }

  /**
   * What is still queued after end() must reach the client within the deadline too. Looked at
   * when the turn ends, not now: node:http2 holds every ended stream's last frames until it
   * writes its session's frames, later in the same turn, so a deadline armed here would be made
   * and cleared for nearly every response; at the turn's end the stream has closed, unless its
   * client's window or socket keeps it (turn-end.ts's queue allocates nothing).
   */
  #watchAfterEnd(): void {
    if (this.#stream.writableLength > 0) atTurnEnd(H2Response.#watchAfterEndOf, this);
  }

  /** The stream ended and is still open at the turn's end: the deadline counts until it closes. */
  static #watchAfterEndOf(sink: H2Response): void {
    const stream = sink.#stream;
    if (!stream.closed && !stream.destroyed && stream.writableLength > 0) sink.#armDeadline(false);
  }

  /**
   * Cuts the response: RST_STREAM INTERNAL_ERROR, after what was written (ResponseSink: "what
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
  onClose(callback: (finished: boolean) => void): void {
    if (this.#closedWith !== undefined) return callback(this.#closedWith);
    // Pushed onto an empty list: room for the usual three or four at once (a one-element list
    // grew again at the second).
    this.#closeCallbacks ??= [];
    this.#closeCallbacks.push(callback);
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
    this.#deadline ??= new SendDeadline(
      new H2SendProgress(this.#stream, this),
      { ms: this.#sendTimeoutMs, field: 'limits.http2.send_timeout' },
      () => this.#onDeadline(),
    );
    if (this.#deadline.armed) return;
    this.#deadline.watch();
    if (untilDrain) this.#stream.once('drain', () => this.#deadline?.stop());
  }

  /** Whoever listens hears why first (over already: their own abort cannot turn the CANCEL into a cut). */
  #onDeadline(): void {
    if (this.#stream.closed || this.#stream.destroyed || this.#deadline === undefined) return;
    this.#over = true;
    this.#cutBySend = this.#deadline.limit;
    for (const callback of this.#sendTimeoutCallbacks ?? []) callback(this.#deadline.limit);
    this.#owner.sendTimeout(this.#stream.id ?? 0);
    this.#reset(constants.NGHTTP2_CANCEL);
  }

  onSendTimeout(callback: (limit: SendLimit) => void): void {
    if (this.#sendTimeoutCallbacks === undefined) this.#sendTimeoutCallbacks = [callback];
    else this.#sendTimeoutCallbacks.push(callback);
  }

  readonly #onClose = (): void => {
    this.#owner.streamClosed(this);
    this.#deadline?.stop();
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
    // Indexed: a for…of here made an iterator and its results every response.
    if (callbacks !== undefined) for (let i = 0; i < callbacks.length; i++) callbacks[i](finished);
  };
}
