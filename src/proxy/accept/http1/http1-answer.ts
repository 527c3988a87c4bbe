/**
 * One exchange on a client connection (the request's head and body, and the response sink:
 * one object per request), the response framed by Candor. The head
 * goes through the one serializer (core/http1/answer-head.ts); a body without a length is
 * chunked for an HTTP/1.1 client and delimited by the close for an HTTP/1.0 one; HEAD, 204,
 * 205 and 304 carry none whatever the fields say.
 */

import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { serializeAnswerHead } from '../../../core/http1/answer-head.ts';
import { withoutLength } from '../../../core/http1/answer-rules.ts';
import type { DrainCut, SwitchedConnection } from '../../../core/net/downstream.ts';
import {
  type AnswerSink,
  CONNECTION_CLOSED,
  type DownstreamExchange,
  type DownstreamHead,
} from '../../../core/net/downstream.ts';
import type { SendLimit } from '../../../core/net/send-deadline.ts';
import { atTurnEnd } from '../../../core/net/turn-end.ts';
import {
  connectionLine,
  dateFieldLine,
  fieldsSaid,
  lastChunk,
  SAID_CONNECTION,
  SAID_DATE,
  SAID_LENGTH,
  SAID_UPGRADE,
} from './http1-answer-fields.ts';
import { Http1AnswerListeners } from './http1-answer-listeners.ts';
import type { AnswerOwner, Http1AnswerFacts } from './http1-connection-setup.ts';
import { Http1SendWatch, type WatchedAnswer } from './http1-send-watch.ts';
import type { TurnWrites } from './turn-writes.ts';

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const CRLF = '\r\n';
const EMPTY = Buffer.alloc(0);

export class Http1Answer
  extends Http1AnswerListeners
  implements DownstreamExchange, AnswerSink, WatchedAnswer
{
  readonly head: DownstreamHead;
  readonly body: Readable | undefined;
  readonly #socket: Socket;
  /** Every byte of the answer goes through its connection's writes: gathered until the turn's end, or the socket's. */
  readonly #writes: TurnWrites;
  readonly #owner: AnswerOwner;
  readonly #headRequest: boolean;
  readonly #versionMinor: number;
  readonly #keepAliveSeconds: number;
  /** The request asked for the connection to close, or the connection is closing anyway. */
  #close: boolean;
  #expectContinue: boolean;
  #headSent = false;
  #over = false;
  #chunked = false;
  /** No length and not chunked (an HTTP/1.0 client's): the close ends the body. */
  #closeDelimited = false;
  /** Its writer closes after a request read whole: what the client sent after it is in doubt (error-answer.ts). */
  #doubted = false;
  #bodyless = false;
  #bodyComplete = false;
  #cutByDrain: DrainCut | undefined = undefined;
  /** `limits.send_timeout` (0: none); its watch is made at the first write left waiting. */
  readonly #sendTimeout: number;
  #sendWatch: Http1SendWatch | undefined;
  /** The request's bytes read, as they were when the response closed (the connection counts the next request's then). */
  #bytesRead: number | undefined;

  constructor(
    socket: Socket,
    writes: TurnWrites,
    owner: AnswerOwner,
    head: DownstreamHead,
    body: Readable | undefined,
    facts: Http1AnswerFacts,
  ) {
    super();
    this.head = head;
    this.body = body;
    this.#bodyComplete = body === undefined;
    this.#keepAliveSeconds = facts.keepAliveSeconds ?? 0;
    this.#socket = socket;
    this.#writes = writes;
    this.#owner = owner;
    this.#headRequest = facts.headRequest;
    this.#versionMinor = facts.versionMinor;
    this.#close = facts.close;
    this.#expectContinue = facts.expectContinue;
    this.#sendTimeout = facts.sendTimeout ?? 0;
  }

  get answer(): AnswerSink {
    return this;
  }

  get bodyComplete(): boolean {
    return this.#bodyComplete;
  }

  get bytesRead(): number {
    return this.#bytesRead ?? this.#owner.requestBytes;
  }

  limitBody(limit: number): string | undefined {
    return this.#owner.limitBody(limit);
  }

  /** The connection read the request's body whole. */
  bodyDone(): void {
    this.#bodyComplete = true;
  }

  get closed(): boolean {
    return this.#over;
  }

  get cutByDrain(): DrainCut | undefined {
    return this.#cutByDrain;
  }

  get leftHow(): string {
    return CONNECTION_CLOSED;
  }

  get pendingBytes(): number {
    return this.#socket.writableLength + this.#writes.length;
  }

  get flushedBytes(): number {
    return this.#socket.bytesWritten - this.#socket.writableLength;
  }

  /** The gateway's drain is about to cut the connection, for `why`. */
  cutByTheDrain(why: DrainCut): void {
    this.#cutByDrain = why;
  }

  get headSent(): boolean {
    return this.#headSent;
  }

  /** The connection will close after this response (a drain, a refused request behind it). */
  closeAfter(): void {
    this.#close = true;
  }

  sendContinue(): void {
    if (!this.#expectContinue || this.#headSent || this.#over) return;
    this.#expectContinue = false;
    this.#writes.write(CONTINUE);
  }

  sendInterim(status: number, reason: string, headers: readonly string[]): boolean {
    // A client not reading is sent no more of them: they would pile up in its buffer.
    if (this.#headSent || this.#over || this.#versionMinor === 0 || this.#socket.writableNeedDrain)
      return false;
    this.#writes.write(serializeAnswerHead(status, reason, withoutLength(headers)));
    return true;
  }

  sendHead(status: number, reason: string, headers: readonly string[], close = false): void {
    if (this.#headSent || this.#over) throw new Error('response head sent twice');
    // A final answer before the request's body is whole: the rest is not read (the connection
    // closes after it), and the answer says so (RFC 9110 §10.1.1), lest the client send its
    // next request into the close.
    if (close || !this.#bodyComplete) this.#close = true;
    if (close && this.#bodyComplete) this.#doubted = true;
    this.#chunked = false;
    this.#closeDelimited = false;
    this.#bodyless = this.#headRequest || status === 204 || status === 205 || status === 304;
    const said = fieldsSaid(headers);
    const length = (said & SAID_LENGTH) !== 0;
    // RFC 9110 §8.6: a 204 carries no Content-Length (a client that reads one would take that
    // many bytes of the next response as this one's body). RFC 9110 §15.3.6: a 205 has no
    // content, whatever its upstream framed, and says so with `Content-Length: 0`.
    const fields = length && (status === 204 || status === 205) ? withoutLength(headers) : headers;
    // This hop's fields go around the upstream's, whose list is not copied to add them. The
    // upstream's Date is passed on as it said it (RFC 9110 §6.6.1); Candor dates its own answers.
    const before = (said & SAID_DATE) !== 0 ? '' : dateFieldLine();
    let after = status === 205 ? 'content-length: 0\r\n' : '';
    if (!this.#bodyless && !length) {
      // No length: chunked to HTTP/1.1, the close ends it for HTTP/1.0 (RFC 9112 §6.3).
      if (this.#versionMinor === 1) {
        this.#chunked = true;
        after = 'transfer-encoding: chunked\r\n';
      } else {
        this.#close = true;
        this.#closeDelimited = true;
      }
    }
    // RFC 9112 §9.3: a proxy must not keep a connection to an HTTP/1.0 client persistent.
    if (this.#versionMinor === 0) this.#close = true;
    // (A gateway-made head may say it already: said once.)
    if ((said & SAID_CONNECTION) === 0)
      after += connectionLine(this.#close, this.#keepAliveSeconds, (said & SAID_UPGRADE) !== 0);
    const text = serializeAnswerHead(status, reason, fields, before, after);
    this.#headSent = true;
    this.#owner.answerStarted();
    this.#writes.write(text);
  }

  /** Its writes wait for the turn's end (turn-writes.ts): a second call in the same turn changes nothing. */
  deferToTurnEnd(): void {
    if (this.#over || this.#writes.gathering) return;
    this.#writes.untilTurnEnd();
    this.#turnsHeld++;
    atTurnEnd(Http1Answer.#turnEndOf, this);
  }

  get #encrypted(): boolean {
    return (this.#socket as Socket & { encrypted?: boolean }).encrypted === true;
  }

  /** Turns' ends this answer's writes wait for: an end() meanwhile is judged after them (#turnEndOf). */
  #turnsHeld = 0;
  /** end() ran while its writes waited for the turn's end: whether the socket took it all is told then. */
  #endHeld = false;

  /** What turn-end.ts calls on a held write that threw: its exchange is cut, as its socket was. */
  destroy(): void {
    this.#socket.destroy();
  }

  static #turnEndOf(sink: Http1Answer): void {
    if (!sink.#writes.turnEnded()) sink.#watchSend();
    if (--sink.#turnsHeld > 0 || !sink.#endHeld) return;
    sink.#endHeld = false;
    // Cut or closed meanwhile: already told.
    if (sink.#leaving) sink.#judgeEnd();
  }

  /**
   * The answer is written: whole once the socket has handed its last byte to the kernel. A write
   * under the high-water mark returns true whether or not it went, so what still waits in the
   * socket (its client's buffers full) is watched as a write left waiting is; most went at once.
   */
  #judgeEnd(): void {
    // Over TLS a write completes a turn later even when the kernel took it at once: judged here,
    // every answer would be watched; there only a write left waiting (#watchSend) is.
    if (this.#socket.writableLength === 0 || this.#sendTimeout <= 0 || this.#encrypted) return this.#taken();
    this.#leaving = true;
    this.#bytesRead = this.#owner.requestBytes;
    this.#owner.answerLeaving();
    this.#watchSend();
    // No 'drain' comes for writes that returned true: an empty write's callback says when the rest went.
    this.#socket.write(EMPTY, (err) => {
      if (err == null) this.#sendWatch?.drained();
    });
  }

  write(chunk: Buffer): boolean {
    if (!this.#headSent || this.#over) return true;
    if (this.#bodyless || chunk.length === 0) return true;
    const writes = this.#writes;
    let ok: boolean;
    if (!this.#chunked) ok = writes.write(chunk);
    else {
      // Size line, data and CRLF gathered together, or one cork for them: one write(v) to the kernel.
      const cork = !writes.gathering;
      if (cork) this.#socket.cork();
      writes.write(`${chunk.length.toString(16)}\r\n`);
      writes.write(chunk);
      ok = writes.write(CRLF);
      if (cork) this.#socket.uncork();
    }
    if (!ok) this.#watchSend();
    return ok;
  }

  /** A write is left waiting for the client: the send deadline counts until it drains. */
  #watchSend(): void {
    if (this.#sendTimeout <= 0) return;
    this.#sendWatch ??= new Http1SendWatch(this.#socket, this, this.#sendTimeout);
    this.#sendWatch.watch();
  }

  /** The send watch's: an answer ended and still leaving is not over for it. */
  get sendClosed(): boolean {
    return this.#over && !this.#leaving;
  }

  /** The send watch's: the socket drained, so an answer left leaving went whole. */
  sendDrained(): void {
    if (this.#leaving) this.#taken();
  }

  /** The send watch's: the client took nothing for the deadline; whoever listens hears why, then the response is cut. */
  sendTimedOut(limit: SendLimit): void {
    this.tellSendTimeout(limit);
    this.abort();
  }

  onDrain(callback: () => void): void {
    this.#socket.once('drain', callback);
  }

  end(trailers?: readonly string[]): void {
    if (this.#over) return;
    if (!this.#headSent) throw new Error('response ended before its head');
    if (this.#chunked) this.#writes.write(lastChunk(trailers));
    this.#over = true;
    // A client behind (a write waiting, the send deadline counting) has it whole once the socket
    // drains (sendDrained), cut if the deadline passes first: not when it was written.
    if (this.#sendWatch?.armed !== true) {
      if (this.#turnsHeld === 0) return this.#judgeEnd();
      this.#leaving = true;
      this.#endHeld = true;
      return;
    }
    this.#leaving = true;
    this.#bytesRead = this.#owner.requestBytes;
    this.#owner.answerLeaving();
  }

  /** Ended while its client was behind: the rest is still leaving (end()). */
  #leaving = false;

  #taken(): void {
    if (this.closedOnce) return;
    this.#leaving = false;
    this.markFinished();
    this.#owner.answerFinished(this.#close, this.#doubted);
    this.#closed(true);
  }

  /** The client's FIN: an answer under way is cut; one ended and still leaving goes out whole, then the close. */
  clientEnded(): void {
    if (this.#leaving) this.#close = true;
    else this.abort();
  }

  abort(): void {
    if (this.#over && !this.#leaving) return;
    this.#leaving = false;
    this.#over = true;
    // What was written leaves before the cut, as a corked socket's does (http1-closing.ts).
    this.#writes.flush();
    this.#owner.answerAborted(this.#closeDelimited);
    this.#closed(false);
  }

  switchProtocols(reason: string, headers: readonly string[]): SwitchedConnection | undefined {
    if (this.#over || this.#headSent || this.#socket.destroyed) return undefined;
    this.#headSent = true;
    this.#over = true;
    this.#writes.write(serializeAnswerHead(101, reason, withoutLength(headers)));
    // The tunnel's bytes follow at once: nothing of this answer waits for the turn's end.
    this.#writes.flush();
    const switched = this.#owner.answerSwitched();
    // The exchange is over when the tunnel is: the connection's close ends it.
    switched.socket.once('close', () => this.#closed(false));
    return switched;
  }

  /** The connection went away under this response (the client left, or the gateway cut it). */
  connectionClosed(): void {
    if (this.#over && !this.#leaving) return;
    this.#leaving = false;
    this.#over = true;
    this.#closed(false);
  }

  /** Runs once: #over guards every way here. */
  #closed(finished: boolean): void {
    this.#bytesRead ??= this.#owner.requestBytes;
    this.#sendWatch?.stop();
    this.tellClosed(finished);
  }
}
