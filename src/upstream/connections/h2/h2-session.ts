import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { Failure } from '../../../core/failure/failure.ts';
import { classifyH2StreamEnd } from '../../../core/failure/h2-stream-end.ts';
import { MAX_FIELDS } from '../../../core/http1/field-lines.ts';
import { snippet } from '../../../core/http1/syntax.ts';
import { lingerAfterFin } from '../../../core/net/linger.ts';
import type { ConnectionTimeouts, ExchangeHandler, ExchangeRequest } from '../exchange-contract.ts';
import { H2Call } from './h2-call.ts';
import type { H2CallSession, SessionEnd } from './h2-call-session.ts';
import { unheardFailure } from './h2-failure-details.ts';
import { h2RequestHeaders, joinRepeatedHeaders } from './h2-headers.ts';
import { freeStreamBeforeSession } from './h2-native-order.ts';

/** The largest stream id (RFC 9113 §5.1.1): a client's ids are odd, this one its last. */
const LAST_STREAM_ID = 2 ** 31 - 1;

/** The largest flow-control window (RFC 9113 §6.9.1). */
const MAX_WINDOW = 2 ** 31 - 1;

/** A stream's receive window as node:http2 announces it (its default, RFC 9113 §6.9.2's initial one). */
const STREAM_WINDOW = 65_535;

/** The connection's receive window for `maxStreams` streams: each may fill its own window at once. */
function connectionWindow(maxStreams: number): number {
  return Math.min(MAX_WINDOW, Math.max(1, maxStreams) * STREAM_WINDOW);
}

/** Where a session reports: a stream slot freed, or the session gone for good. */
export interface H2SessionOwner {
  streamEnded(session: H2Session): void;
  sessionEnded(session: H2Session): void;
}

export interface H2SessionOptions {
  readonly scheme: 'http' | 'https';
  /** The target's host[:port]: the `:authority` of a request that came without a Host. */
  readonly authority: string;
  readonly timeouts: ConnectionTimeouts;
  /** The gateway's own bound on streams at once; the upstream's SETTINGS may lower it. */
  readonly maxStreams: number;
  readonly idleTimeout: number;
  readonly maxHeaderSize: number;
}

/**
 * One HTTP/2 connection to a target, carrying up to `streamLimit` requests at once, each as
 * an H2Call that feeds the same ExchangeHandler an HTTP/1.1 connection feeds. The socket
 * comes from the upstream's classifying connector (DNS, TCP, TLS with ALPN h2 already done).
 */
export class H2Session implements H2CallSession {
  readonly session: ClientHttp2Session;
  readonly connectMs: number;
  /** Streams this session has carried, the current ones included. */
  requests = 0;
  /** Streams open now (reserved by the pool until their call ends). */
  active = 0;
  readonly end: SessionEnd = {};
  readonly maxHeaderSize: number;
  private readonly owner: H2SessionOwner;
  private readonly options: H2SessionOptions;
  private idleTimer: NodeJS.Timeout | undefined;
  private ended = false;
  /** A PING is out to see whether the connection still answers: it takes no new stream meanwhile. */
  private probing = false;
  /** When the connection last answered a PING (performance.now()). */
  private answeredAt = Number.NEGATIVE_INFINITY;
  /** The upstream's SETTINGS (its preface, RFC 9113 §3.4) came: an HTTP/2 server is there. */
  prefaceCame = false;
  /**
   * The connection ended, or was given up, before its upstream's SETTINGS: why, as the requests
   * waiting on it hear it (the pool fails them with it, nothing of theirs was sent). Undefined
   * when the gateway closed it itself (a reload, an idle close): its waiters go on waiting.
   */
  unheard: Failure | undefined;
  private readonly openedAt = performance.now();
  /** The gateway closed it (close(), destroy()): its end is not the upstream's. */
  private closedHere = false;

  constructor(socket: Socket, connectMs: number, owner: H2SessionOwner, options: H2SessionOptions) {
    this.connectMs = connectMs;
    this.owner = owner;
    this.options = options;
    this.maxHeaderSize = options.maxHeaderSize;
    // Closed (idle, retired by a reload, unanswered PING), the session waits for the upstream's
    // FIN LINGER_MS at most: one that never closes its side would keep every such socket.
    lingerAfterFin(socket);
    const origin = `${options.scheme}://${options.authority}`;
    // node:http2 is loaded with the first HTTP/2 session, not with every gateway (about 6 MB
    // of a process): most upstreams speak HTTP/1.1, and the cluster primary probes them too.
    this.session = process.getBuiltinModule('node:http2').connect(origin, {
      createConnection: () => socket,
      // The largest response head the gateway takes, as it says to the upstream in its SETTINGS.
      settings: { enablePush: false, maxHeaderListSize: options.maxHeaderSize },
      // node:http2's bound on a head's fields (its own default 128) resets the stream
      // ENHANCE_YOUR_CALM, which reads as the upstream's reset: set past any head within the
      // header list size (32 bytes of overhead a field, RFC 9113 §6.5.2), so that the gateway's
      // own count (MAX_FIELDS, H2Call.sectionTooLarge) is what refuses one, named as over HTTP/1.1.
      maxHeaderListPairs: Math.max(MAX_FIELDS, Math.ceil(options.maxHeaderSize / 32)) + 2,
      // RFC 9113 §8.2.1: a field value with whitespace at either end makes the answer
      // malformed. nghttp2's own check (node:http2's default) drops such a field without a
      // word and the answer goes on without it; off, H2Call refuses the answer (paddedField).
      strictFieldWhitespaceValidation: false,
    });
    // node:tls emits an error of its own (an alert after the handshake: a TLS 1.3 server that
    // requires a client certificate, bytes that are no TLS record) without destroying the socket;
    // node:http2 then ends it and waits for the end to be written, which it never is: the session
    // stayed destroyed without its 'close', and the requests waiting on it waited with it (until
    // its idle close, 30 s), no timeout of theirs running. A net socket is destroyed by its error already.
    socket.on('error', () => socket.destroy());
    // node:http2 leaves the connection's receive window at HTTP/2's initial 65,535 bytes, one
    // stream's: every answer on the connection shared 64 KiB a round trip (two 2 MiB answers at
    // once over a 40 ms link took 5 s, HTTP/1.1 75 ms). node:http2 consumes the connection's
    // window as DATA arrives, whatever a stream's reader does, so it bounds no memory (each
    // stream's window does): opened to what the streams' windows hold together.
    this.session.once('connect', () => {
      if (!this.session.destroyed) this.session.setLocalWindowSize(connectionWindow(options.maxStreams));
    });
    this.session.on('goaway', (code, lastStreamId, opaqueData?: Buffer) => {
      // Its debug data is named in the failures it causes: grpc-go tells its reason there alone
      // (`too_many_pings` with ENHANCE_YOUR_CALM). Bytes of the upstream's: shown as snippet shows them.
      const debug =
        opaqueData !== undefined && opaqueData.length > 0
          ? snippet(opaqueData.toString('latin1'))
          : undefined;
      (this.end as { goaway?: SessionEnd['goaway'] }).goaway = { code, lastStreamId, debug };
      this.gone();
    });
    // Every SETTINGS, not the first alone: a later one may raise the bound on streams too.
    this.session.on('remoteSettings', () => {
      this.prefaceCame = true;
      // The streams its SETTINGS allow are free now: the waiters may take them.
      if (this.isUp()) this.owner.streamEnded(this);
    });
    this.session.on('error', (err: NodeJS.ErrnoException) => {
      (this.end as { error?: NodeJS.ErrnoException }).error ??= err;
    });
    this.session.on('close', () => {
      if (!this.prefaceCame && !this.closedHere)
        this.unheard ??= unheardFailure(this.end.error, performance.now() - this.openedAt, false);
      this.gone();
    });
    // An idle session must not keep the process alive; one carrying a request must (reserve()).
    this.session.unref();
  }

  /**
   * Streams this session may still open: the lower of the gateway's bound and the upstream's.
   * One until the upstream's SETTINGS came: a server that takes fewer streams at once than the
   * gateway would send refuses those past its bound that reach it before its SETTINGS are known
   * (REFUSED_STREAM, RFC 9113 §5.1.2), and a burst on a new connection was a burst of 502s.
   */
  get free(): number {
    if (this.probing || this.unheard !== undefined || !this.isUp()) return 0;
    if (!this.prefaceCame) return this.active === 0 ? 1 : 0;
    const remote = this.session.remoteSettings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY;
    return Math.max(0, Math.min(this.options.maxStreams, remote) - this.active);
  }

  /**
   * Up, its upstream's SETTINGS not come yet: the streams it will take are not known. One given
   * up (unheard), or whose socket failed, is still one until it has ended (the pool hears it):
   * its waiters fail with it, none opens another meanwhile.
   */
  get awaitingSettings(): boolean {
    return !this.prefaceCame && !this.ended;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  isUp(): boolean {
    return !this.ended && !this.session.closed && !this.session.destroyed;
  }

  peerHeaderListSize(): number {
    return this.session.remoteSettings.maxHeaderListSize ?? Number.POSITIVE_INFINITY;
  }

  remoteAddress(): string | undefined {
    return this.session.socket?.remoteAddress;
  }

  remotePort(): number | undefined {
    return this.session.socket?.remotePort;
  }

  /**
   * A stream got no answer (its head, or more of its body) in time. A connection that died
   * without a word (a NAT or firewall that dropped it, a peer frozen) would take every request
   * after it, each a 504, for as long as requests keep it from idling, where a new connection
   * would be answered: an HTTP/1.1 connection that timed out is closed, this one is PINGed. Until
   * the answer it takes no new stream (another connection opens); no answer within the response
   * timeout, and it is closed (its streams end on their own timers). A connection that answered
   * within the last response timeout is alive: a slow handler costs no PING, and a gRPC server
   * counts no PING strike for each of them. One whose upstream never sent its SETTINGS is given
   * up at once (an HTTP/2 server sends them first, so no PING answer would come before them):
   * the requests waiting on it fail with it now, not each after a connection of its own.
   */
  stalled(): void {
    const { head } = this.options.timeouts;
    if (!this.prefaceCame && this.isUp()) {
      this.unheard = unheardFailure(undefined, performance.now() - this.openedAt, true);
      // After the stream's own failure (its caller aborts it next): the session's end is not its cause.
      setImmediate(() => this.session.destroy());
      return;
    }
    if (this.probing || !this.isUp() || performance.now() - this.answeredAt < head) return;
    this.probing = true;
    // Timers run before I/O in each turn of the event loop: after a stall of the gateway's own (a
    // plugin that computes, a long collection, a CPU saturated by load) the PING's answer the
    // upstream sent in time waits unread while this fires, and a live connection was closed as
    // dead. So it looks again after the poll (setImmediate): answered meanwhile, it is kept.
    let answered = false;
    const deadline = setTimeout(() => setImmediate(() => answered || this.close()), head).unref();
    const sent = this.session.ping((err) => {
      answered = true;
      clearTimeout(deadline);
      if (err !== null) return this.close();
      this.probing = false;
      this.answeredAt = performance.now();
      // Its streams are free again: the waiters may take them.
      this.owner.streamEnded(this);
    });
    if (!sent) {
      clearTimeout(deadline);
      this.probing = false;
    }
  }

  /** Takes a stream slot for a request about to be dispatched (the pool calls this). */
  reserve(): H2StreamSlot {
    if (this.active++ === 0) this.session.ref();
    clearTimeout(this.idleTimer);
    return { dispatch: (request, handler, clocks) => this.dispatch(request, handler, clocks) };
  }

  private dispatch(request: ExchangeRequest, handler: ExchangeHandler, clocks?: ConnectionTimeouts): void {
    const dispatched = performance.now();
    const reused = this.requests > 0;
    this.requests++;
    const call = new H2Call(this, handler, request, clocks ?? this.options.timeouts, () => this.callEnded());
    if (request.upgrade === true) {
      // An HTTP/1.1 upgrade has no HTTP/2 form here (RFC 8441's extended CONNECT is another
      // matter). Refused before the request starts: nothing of it went out, and its log says
      // `not_sent`, as the gateway's other refusals do (it said `sent`).
      return call.abort(
        new Failure('http_request_error', 'a protocol upgrade cannot be carried to an HTTP/2 upstream', {
          status: 501,
        }),
      );
    }
    handler.onRequestStart(call, {
      connectMs: reused ? 0 : this.connectMs,
      reused,
      openedAt: this.openedAt,
      openMs: this.connectMs,
    });
    if (call.isOver) return; // aborted from onRequestStart
    let stream: ClientHttp2Stream;
    try {
      stream = this.open(request);
    } catch (err) {
      // The session went away between the pool's choice and now, or Node refused a field.
      // Classified as the stream with no id Node 24 hands back for such a session (node:http2 on
      // Node 22 throws instead): its GOAWAY, if one came, named.
      const closed = this.ended || this.session.closed || this.session.destroyed;
      return call.abort(
        closed
          ? classifyH2StreamEnd({
              headReceived: false,
              rstCode: undefined,
              streamId: undefined,
              goaway: this.end.goaway,
              error: err,
              replayable: true,
              elapsed: performance.now() - dispatched,
            })
          : new Failure('proxy_internal_error', 'internal error while proxying', { cause: err }),
      );
    }
    call.start(stream);
    // Its stream ids ran out (RFC 9113 §5.1.1: the last a client may use is 2^31 - 1; 2^30
    // requests, a day and a half of a busy channel): node:http2 fails every later request on it
    // (ERR_HTTP2_OUT_OF_STREAMS, no id) and keeps the session up, so the pool would hand out its
    // free streams as 502s forever. Closed, it finishes its streams and the next request opens another.
    if (this.isUp() && (stream.id ?? LAST_STREAM_ID) > LAST_STREAM_ID - 2) this.close();
  }

  /** The request's stream; a field node:http2 takes once that the client repeated goes joined. */
  private open(request: ExchangeRequest): ClientHttp2Stream {
    const headers = h2RequestHeaders(request, this.options.scheme, this.options.authority);
    const options = { endStream: request.body.kind === 'none' };
    let stream: ClientHttp2Stream;
    try {
      stream = this.session.request(headers, options);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_HTTP2_HEADER_SINGLE_VALUE') throw err;
      stream = this.session.request(joinRepeatedHeaders(headers), options);
    }
    freeStreamBeforeSession(this.session, stream);
    return stream;
  }

  private callEnded(): void {
    if (--this.active === 0) this.session.unref();
    if (this.active === 0 && !this.ended && this.options.idleTimeout > 0) {
      this.idleTimer = setTimeout(() => {
        if (this.active === 0) this.close();
      }, this.options.idleTimeout);
      this.idleTimer.unref();
    }
    this.owner.streamEnded(this);
  }

  /** No new streams; the open ones finish. */
  close(): void {
    this.closedHere ||= !this.ended;
    if (!this.session.closed) this.session.close();
    this.gone();
  }

  destroy(): void {
    this.closedHere ||= !this.ended;
    this.session.destroy();
    this.gone();
  }

  private gone(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.idleTimer);
    this.owner.sessionEnded(this);
  }
}

/** A reserved stream slot: the "connection" the pool hands an exchange. */
export interface H2StreamSlot {
  dispatch(request: ExchangeRequest, handler: ExchangeHandler, clocks?: ConnectionTimeouts): void;
}
