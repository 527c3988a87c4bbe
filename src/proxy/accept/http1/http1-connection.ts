/**
 * One client connection of Candor's own HTTP/1.1 server: the socket, the strict request
 * parser, and an explicit state machine that owns every per-connection fact (no module maps
 * keyed by socket).
 *
 *   head ──(head parsed)──▶ body ──(body complete)──▶ waiting ──(response head)──▶ writing
 *     ▲                        └──────────────(response head before the body's end)──┘   │
 *     │                                                                                  │
 *   idle ◀──────────────────────(response finished, keep-alive)───────────────────────────┘
 *   any ──(refusal, Connection: close, HTTP/1.0, a body left unread, a timeout)──▶ closing ──▶ closed
 *
 * Reading its requests (the parser, their bodies, their refusals, the head and body waits) is
 * http1-request-reading.ts, which this class extends; here are the socket's events, the
 * answers' side, the closes and the hand-overs (to HTTP/2, to an upgrade's tunnel).
 * One request at a time: what a client pipelines behind it waits its turn (http1-pipeline.ts).
 * Every wait has a deadline (http1-timeouts.ts), a close too: a lingering close (RFC 9112 §9.6)
 * sends our FIN, reads and drops what the client still sends, and destroys the socket at its FIN
 * or at LINGER_MS, whatever the client does.
 */

import type { Socket } from 'node:net';
import { firstHeadTime } from '../../../core/net/accepted-at.ts';
import { readsAsStream, takeAcceptedReads } from '../../../core/net/direct-reads.ts';
import type { DrainCut, SwitchedConnection, TunnelCut } from '../../../core/net/downstream.ts';
import { lingeringClose } from '../../../core/net/linger.ts';
import type { OpenSlot } from '../open-list.ts';
import type { Http1Answer } from './http1-answer.ts';
import { closeWhenIdle, cutAnswer, cutByTheDrain, type DrainedConnection } from './http1-closing.ts';
import type {
  EndedFor,
  Http1Handlers,
  Http1Settings,
  PriorKnowledge,
  UnservedWhy,
} from './http1-connection-setup.ts';
import { Http1RequestReading } from './http1-request-reading.ts';

export class Http1Connection extends Http1RequestReading implements DrainedConnection, OpenSlot {
  /** Its slot among its server's open connections (open-list.ts; -1: not among them). */
  openSlot = -1;
  /** close() ran: our FIN is out, the lingering close's deadline runs. */
  #closing = false;
  /** The answer ended before the request's body: what the client still sends of it is dropped (answerLeaving). */
  #dropping = false;
  /** Told once the socket has closed, or was handed to HTTP/2 (the server's set of connections forgets it). */
  readonly #gone: ((connection: Http1Connection) => void) | undefined;
  /** Handed to an upgrade's tunnel (detach). */
  #tunnelled = false;
  /** Until the first bytes are in: where a connection that may be h2c goes (absent: HTTP/1.1 only). */
  #priorKnowledge: PriorKnowledge | undefined;
  /**
   * Who cut the connection under a request (its answer cut, the drain's deadline, the client's
   * leaving): what the requests pipelined behind it, never served, are logged with at the close.
   */
  #cutBy: UnservedWhy | undefined;
  /** Why the gateway asked for the close after the answer (endAfterAnswer), not the request or its answer. */
  #endedFor: EndedFor | undefined;

  constructor(
    socket: Socket,
    settings: Http1Settings,
    handlers: Http1Handlers<Http1Connection>,
    encrypted = false,
    gone?: (connection: Http1Connection) => void,
    priorKnowledge?: PriorKnowledge,
  ) {
    super(socket, settings, handlers, encrypted);
    this.#gone = gone;
    this.#priorKnowledge = priorKnowledge;
    // A plain connection's reads come straight from the socket (direct-reads.ts); what node had
    // read into its Readable before (bytes a PROXY header's reader put back) comes as 'data'.
    // One that may be h2c is read as a stream: node:http2 takes over its socket.
    if (!encrypted && priorKnowledge === undefined) takeAcceptedReads(socket, this.#onData);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    socket.on('error', this.#onError);
    // Counted from the accept when a stage read the connection first (the PROXY gate).
    this.timeouts.head(firstHeadTime(socket, settings.headerTimeout));
  }

  readonly #destroy = (): void => {
    this.socket.destroy();
  };

  /** A reset (or any error) of the socket: the client is gone (during our own close, after what we chose to serve). */
  readonly #onError = (): void => {
    if (!this.#closing) this.#cutBy ??= 'client_left';
    this.socket.destroy();
  };

  readonly #onData = (chunk: Buffer): void => {
    if (this.#priorKnowledge !== undefined && this.#toH2(chunk)) return;
    switch (this.connectionState) {
      case 'closing':
        // A lingering close reads and drops: the client's bytes must not turn into a reset.
        return;
      case 'idle':
        // Pipelined bytes read before are waiting for their turn (it is scheduled): what comes
        // now goes behind them. Parsed now, a later request would be answered before them.
        if (this.pipeline?.waiting === true) return this.readAhead(chunk);
        this.nextHead();
        break;
      case 'waiting':
      case 'writing':
        if (this.requestComplete) return this.readAhead(chunk);
        if (this.#dropping) return;
        break;
    }
    this.parseRead(chunk);
  };

  /**
   * The first bytes of a connection on a listener that serves h2c: one that may be HTTP/2
   * leaves (nothing of this connection touches it again), those bytes put back for its reader.
   */
  #toH2(first: Buffer): boolean {
    const priorKnowledge = this.#priorKnowledge as PriorKnowledge;
    this.#priorKnowledge = undefined;
    if (!priorKnowledge.mayBeH2(first)) return false;
    this.#leave();
    this.connectionState = 'closed';
    this.#gone?.(this);
    const socket = this.socket;
    socket.pause();
    socket.unshift(first);
    priorKnowledge.take(socket);
    // pause() stopped the flow; the new reader's 'data' listener would not restart it.
    socket.resume();
    return true;
  }

  /** This connection lets go of its socket: its listeners and timers. */
  #leave(): void {
    this.timeouts.release();
    this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onEnd);
    this.socket.off('close', this.#onClose);
  }

  // ── the response's side ──────────────────────────────────────────────────────────

  answerStarted(): void {
    // Begun before the request's body was whole, the answer says close (Http1Answer.sendHead):
    // what the client sends behind the body, once it is whole, is never served.
    if (this.connectionState === 'body') this.#endedFor ??= 'answered_early';
    if (this.connectionState === 'body' || this.connectionState === 'waiting')
      this.connectionState = 'writing';
  }

  answerFinished(close: boolean, doubted: boolean): void {
    const keptAlive = this.head?.keepAlive === true && !this.head.upgrade;
    const endedFor = this.#endedFor ?? (this.head?.versionMinor === 0 ? 'http10' : undefined);
    this.exchange = undefined;
    this.body = undefined;
    this.head = undefined;
    // A body not read whole cannot be told from the next request: the connection closes.
    if (close || this.afterAnswer || !this.requestComplete) {
      // The gateway closes a connection its client meant to keep (a drain, a reload's new client
      // certificates, HTTP/1.0): the requests it pipelined behind this one were read, and are
      // told at the close as never served. A client that said close sent nothing meant to be
      // served after it; behind an answer that doubts the stream it may be a body (a 400's).
      if (endedFor !== undefined && keptAlive && this.requestComplete && !doubted) this.#cutBy ??= endedFor;
      return this.close();
    }
    if (this.#endAfterNext !== undefined) this.endAfterAnswer(this.#endAfterNext);
    this.parser.next();
    this.connectionState = 'idle';
    this.timeouts.nextRequest();
    if (this.pipeline?.waiting === true) this.pipeline.schedule();
    else this.resumeReading();
  }

  /**
   * The answer ended before the request's body did (its head said close), its rest leaving for a
   * client behind: the rest of the body is read and dropped, as a lingering close does. Left to a
   * reader that is gone, it would stop the socket, and a client that sends its whole body before
   * it reads would wait for the gateway as the gateway waited for it, until send_timeout cut it.
   */
  answerLeaving(): void {
    if (this.requestComplete) return;
    this.#dropping = true;
    this.body = undefined;
    this.timeouts.disarm();
    this.resumeReading();
  }

  answerAborted(reset: boolean): void {
    this.#cutBy ??= 'answer_cut';
    this.exchange = undefined;
    cutAnswer(this.socket, reset, this.encrypted);
  }

  answerSwitched(): SwitchedConnection {
    this.exchange = undefined;
    return this.detach();
  }

  // ── refusals, closes ─────────────────────────────────────────────────────────────

  /** Answers a refused request with these bytes and closes the connection (lingering, with a deadline). */
  refuse(answer: string | Buffer): void {
    if (this.#closing) return;
    this.socket.write(answer);
    this.close();
  }

  /**
   * Closes the connection after what was written (RFC 9112 §9.6): our FIN, then what the client
   * still sends is read and dropped until its FIN or LINGER_MS, then the socket is destroyed.
   */
  close(): void {
    if (this.#closing || this.connectionState === 'closed') return;
    this.#closing = true;
    this.connectionState = 'closing';
    // A closing connection lingers as HTTP/1.1: its late bytes are not handed to HTTP/2.
    this.#priorKnowledge = undefined;
    this.resumeReading();
    lingeringClose(this.socket, this.timeouts, this.settings.sendTimeout ?? 0, this.#destroy);
  }

  /**
   * The gateway ends the connection, for `why`, after the current response (saying `Connection:
   * close` if it can): the requests pipelined behind it are told, never served, at the close.
   */
  endAfterAnswer(why: EndedFor): void {
    this.#endedFor ??= why;
    this.closeAfterAnswer();
  }

  /**
   * The drain's delay: the connection ends after the first answer that can say `Connection:
   * close`. One whose head already left said keep-alive: its client sends its next request here
   * as soon as the body ends, and a close after it would meet that request (a reset, the request
   * lost). The connection stays for it, and that answer says close (the stop, after the delay,
   * still closes it after its answer).
   */
  endAfterToldAnswer(why: EndedFor): void {
    if (this.exchange?.headSent === true) this.#endAfterNext = why;
    else this.endAfterAnswer(why);
  }

  /** endAfterToldAnswer met an answer whose head had left: the next one says close. */
  #endAfterNext: EndedFor | undefined;

  /** A request its client pipelined behind the one in progress was read, and waits its turn. */
  get pipelined(): boolean {
    return this.pipeline?.waiting === true;
  }

  /** Idle between requests, those its client pipelined read and waiting their turn. */
  get betweenRequests(): boolean {
    return this.connectionState === 'idle' && this.pipeline?.waiting === true;
  }

  /**
   * The gateway ends the connection now, for `why`, after what was written: the requests read
   * and waiting their turn are told, never served, at the close.
   */
  endNow(why: EndedFor): void {
    this.#cutBy ??= why;
    this.close();
  }

  /** A drain (or its listener removed): an idle connection closes at once (after one more look), a busy one after its response. */
  closeWhenIdle(why: EndedFor = 'drain'): void {
    closeWhenIdle(this, why);
  }

  /** A drain's cut: the connection is destroyed, and its exchange knows the gateway did it, and why. */
  cut(why: DrainCut): void {
    this.#cutBy ??= why;
    cutByTheDrain(this, why);
  }

  get quiet(): boolean {
    const state = this.connectionState;
    return (
      (state === 'idle' && this.pipeline?.waiting !== true) || (state === 'head' && !this.parser.started)
    );
  }

  get answer(): Http1Answer | undefined {
    return this.exchange;
  }

  /** What the tunnel an upgrade handed the socket to says before the server cuts it. */
  farewell: ((why: TunnelCut) => void) | undefined = undefined;

  /** The connection was handed to an upgrade's tunnel (detach) and is still open. */
  get tunnelled(): boolean {
    return this.#tunnelled && !this.socket.destroyed;
  }

  /**
   * Cuts the tunnel the connection was handed to, now, for `why`: a tunnel has no answer in
   * flight to close after (endAfterAnswer would leave it open for as long as its sides talk).
   * Its last words first (a WebSocket's Close frame), then the socket; the tunnel closes its
   * upstream side as this one goes.
   */
  cutTunnel(why: TunnelCut): void {
    this.farewell?.(why);
    this.socket.destroy();
  }

  /**
   * An upgrade: the socket leaves HTTP. Returns it with the bytes read after the request's
   * head; nothing of this connection touches it again.
   */
  detach(): SwitchedConnection {
    this.#leave();
    this.#tunnelled = true;
    // The socket lives on as a tunnel: the server still holds it (a drain's deadline cuts it) until it closes.
    this.socket.once('close', () => this.#gone?.(this));
    this.connectionState = 'closed';
    const rest = this.pipeline?.take() ?? Buffer.alloc(0);
    // (Read straight from the socket: its reads go to the tunnel as copies. Otherwise nothing to do.)
    readsAsStream(this.socket);
    this.resumeReading();
    return {
      socket: this.socket,
      rest,
      beforeDrainCut: (farewell) => {
        this.farewell = farewell;
        // A reload judged the client's certificate again while the upgrade waited for its 101
        // (the connection was to close after that answer): the tunnel that 101 opened is cut as
        // it opens, its sides told, rather than live on the old verdict. A turn later: openTunnel
        // is done and the 101 head is out, so a Close frame can follow it.
        if (this.#endedFor === 'client_certificates')
          setImmediate(() => this.cutTunnel('client_certificates'));
      },
    };
  }

  // ── the socket's end ─────────────────────────────────────────────────────────────

  readonly #onEnd = (): void => {
    // The client's FIN: a lingering close is over; an idle or unstarted connection closes.
    // A head cut short by it is a request that cannot be whole: refused with its 400 and log
    // line (the client may still read: `printf … | nc -N` without the last CRLF).
    const state = this.connectionState;
    if (state === 'head' && this.parser.started)
      return this.refused(
        this.parser.abandon(
          400,
          'HPE_INVALID_EOF_STATE',
          'the client ended the connection inside the request head',
        ),
      );
    // (Its last answer still leaving: destroyed once it has left, close().)
    if (this.#closing && !this.socket.writableFinished) return;
    if (state === 'closing' || state === 'idle' || state === 'head') return this.#destroy();
    // An answer begun before the body was whole (it says close): RFC 9112 §9.5 asks its client to
    // stop sending the body and close its side, then read that answer. The FIN ends the body (the
    // upstream, never sent its rest, has its connection closed under it), not the answer; a
    // client that has gone altogether is told by the socket's close.
    if (state === 'writing' && !this.requestComplete && this.exchange !== undefined)
      return this.timeouts.disarm();
    // With a request in flight, the client has left (as node:http and most servers take it:
    // HTTP clients do not half-close and wait): its exchange is cut when the connection closes.
    this.#cutBy ??= 'client_left';
    if (!this.requestComplete)
      this.body?.fail('client closed the connection while sending the body', 'ECONNRESET');
    // An answer already under way is cut (never ended by our FIN: a body the close delimits
    // would then read as whole); one ended and still leaving goes on, the connection closing after.
    if (this.connectionState === 'writing' && this.exchange !== undefined) return this.exchange.clientEnded();
    this.close();
  };

  readonly #onClose = (): void => {
    this.connectionState = 'closed';
    this.timeouts.release();
    this.exchange?.connectionClosed();
    if (!this.requestComplete && this.body !== undefined && !this.body.destroyed)
      this.body.fail('client closed the connection', 'ECONNRESET');
    if (this.#cutBy !== undefined) this.unserved(this.#cutBy);
    this.#gone?.(this);
  };
}
