/**
 * One HTTP/2 connection's watch against hostile clients: the floods node:http2 does not count
 * (PING, SETTINGS, streams the client resets before their answer, new streams) are counted
 * over fixed windows, and a connection past a bound gets GOAWAY ENHANCE_YOUR_CALM and is
 * closed. What nghttp2 and node:http2 refuse on their own (a concurrency overrun, a HPACK
 * table larger than announced, CONTINUATION without end, too many invalid frames or refused
 * streams) reaches here as the session's error: it is named for the log. Either way the
 * logger hears one line per connection, the first reason only. The guard also keeps the
 * connection's idle timeout.
 */
import http2, { type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { h2ErrorName } from '../../../core/failure/h2-stream-end.ts';
import { BufferBudget } from '../../../core/net/buffer-budget.ts';
import { clientAddressOf } from '../../../core/net/client-address.ts';
import { clientCertificateOf } from '../../../core/net/client-certificate.ts';
import { servernameOf } from '../../../core/net/downstream.ts';
import type { OpenList } from '../open-list.ts';
import type { H2Answer } from './h2-answer.ts';
import type { H2Bound, H2Logger } from './h2-bound.ts';
import type { H2Limits } from './h2-limits.ts';
import { goawayCodeFor, nghttp2Refusal } from './h2-refusals.ts';
import type { H2ConnectionFacts } from './h2-request.ts';
import { WindowCount } from './window-count.ts';

const { constants } = http2;

/**
 * Only a stream reset younger than this with no head sent counts toward `max_client_resets`
 * (Envoy's premature reset, 1 s): a flood resets at once, while gRPC clients cancel calls under
 * way all the time, which cost no more than the request did.
 */
const PREMATURE_RESET_MS = 1_000;

/**
 * The client's SETTINGS_MAX_HEADER_LIST_SIZE as a limit: node:http2 says 2^32 - 1 for a client
 * that set none (h2load, node:http2's own client), which no head reaches: unlimited, so that
 * no answer's head is summed against it (headPastClient).
 */
function headerListLimit(said: number | undefined): number {
  return said === undefined || said >= 0xffff_ffff ? Number.POSITIVE_INFINITY : said;
}

export class H2Guard {
  readonly #session: ServerHttp2Session;
  readonly #limits: H2Limits;
  readonly #logger: H2Logger;
  readonly #remoteAddress: string;
  readonly #pings: WindowCount;
  readonly #settings: WindowCount;
  readonly #resets: WindowCount;
  readonly #requests: WindowCount;
  /** Streams handed over and not closed yet. */
  openStreams = 0;
  /** When the last stream was admitted (the request rate's clock read, kept for its sink's age). */
  admittedAt = 0;
  /** What the connection's streams may have held for them together (`connection_buffer`). */
  readonly budget: BufferBudget;
  /**
   * The largest header list the client takes (its SETTINGS_MAX_HEADER_LIST_SIZE, as it last
   * said; RFC 9113 §6.5.2: unlimited until it says). Kept as its SETTINGS come: node:http2's
   * remoteSettings makes an object each time it is read.
   */
  clientHeaderListSize = Number.POSITIVE_INFINITY;
  /** The first reason told; nothing after it is (one line per connection). */
  #told: H2Bound | undefined;
  /** The bound calm() closed the connection for, under the streams then open. */
  #calmed: { readonly bound: H2Bound; readonly details: string } | undefined;
  /** What each stream's head says of the connection, read at its first stream. */
  #facts: H2ConnectionFacts | undefined;
  /**
   * The idle timeout, restarted when the last stream closes and by the client's PING and
   * SETTINGS. Ours, not the session's setTimeout(): node:http2 (Node 24) clears that timer
   * only after marking the session destroyed, when clearing it no longer does anything, so
   * every closed connection (its session, socket, streams and guard) was held until its idle
   * timeout ran out: 75 s of every connection a flood opened.
   */
  readonly #idle: NodeJS.Timeout;
  /** Counts the idle wait's restarts: its look after the poll skips one restarted meanwhile. */
  #idleMoves = 0;
  /** The server's responses not yet over (for its drain deadline): a stream's leaves it as it closes. */
  readonly #open: OpenList<H2Answer> | undefined;

  /** The connection's own socket (the session's `socket` may not be destroyed): see #onIdle. */
  readonly #socket: Socket | undefined;
  /** What the socket had sent at #onIdle's last look: no byte since, with frames waiting, is a stall. */
  #writtenAtLook: number | undefined;

  /** `prefaceTimeout`: how long the client may take to send its SETTINGS (`limits.header_timeout`). */
  constructor(
    session: ServerHttp2Session,
    limits: H2Limits,
    logger: H2Logger,
    prefaceTimeout: number,
    open?: OpenList<H2Answer>,
    socket?: Socket,
  ) {
    this.#open = open;
    this.#socket = socket;
    this.budget = new BufferBudget(limits.connectionBuffer);
    this.#session = session;
    this.#limits = limits;
    this.#logger = logger;
    this.#remoteAddress = clientAddressOf(session.socket);
    const window = limits.floodWindow;
    this.#pings = new WindowCount(limits.maxPings, window);
    this.#settings = new WindowCount(limits.maxSettingsFrames, window);
    this.#resets = new WindowCount(limits.maxClientResets, window);
    this.#requests = new WindowCount(limits.maxRequests, window);
    this.#idle = setTimeout(this.#onIdle, limits.idleTimeout).unref();
    // Until its SETTINGS end its preface, a client has the time a request head has: a TLS client
    // that chose h2 and says nothing would hold its connection for the whole idle timeout. Its
    // GOAWAY says SETTINGS_TIMEOUT (ours went unacknowledged, RFC 9113 §6.5.3), not NO_ERROR.
    // Timers run before I/O in each turn of the event loop: after a stall of the gateway's own (a
    // plugin that computes, a long collection, a CPU saturated by load) SETTINGS the client sent in
    // time wait unread while this fires, and its connection was closed under a request sent in
    // time. So it looks again after the poll (setImmediate): SETTINGS read meanwhile, it stays.
    let settled = false;
    const preface = setTimeout(
      () =>
        setImmediate(() => {
          if (!settled && !session.destroyed)
            session.destroy(new Error('no SETTINGS in time'), constants.NGHTTP2_SETTINGS_TIMEOUT);
        }),
      prefaceTimeout,
    ).unref();
    session.once('remoteSettings', () => {
      settled = true;
      clearTimeout(preface);
    });
    session.once('close', () => {
      clearTimeout(this.#idle);
      clearTimeout(preface);
    });
    session.on('ping', () => {
      this.#idleRestart();
      if (this.#pings.hit())
        this.calm('ping_flood', `more than ${limits.maxPings} PING frames in ${window} ms`);
    });
    session.on('remoteSettings', (settings: http2.Settings) => {
      this.clientHeaderListSize = headerListLimit(settings.maxHeaderListSize);
      this.#idleRestart();
      if (this.#settings.hit())
        this.calm('settings_flood', `more than ${limits.maxSettingsFrames} SETTINGS frames in ${window} ms`);
    });
    session.on('error', (error: Error & { errno?: number; code?: string }) => this.#sessionError(error));
    // node:http2 destroys a session nghttp2 failed, or one past its own bounds, with destroy(error)
    // and no code, which says GOAWAY INTERNAL_ERROR; the code that says why is given instead
    // (its destroy(null) and destroy(code) keep their meaning).
    const destroy = session.destroy.bind(session);
    session.destroy = (error?: Error, code?: number) =>
      destroy(error, code ?? (error instanceof Error ? goawayCodeFor(error) : undefined));
  }

  /**
   * A new stream: counted against the request rate. Past it, the stream is refused
   * (REFUSED_STREAM: the client may send it again elsewhere, RFC 9113 §8.7) and the connection
   * is told GOAWAY ENHANCE_YOUR_CALM, naming the last stream taken, and closes once the
   * streams before it are answered. False: do not hand the stream over.
   */
  admit(stream: ServerHttp2Stream): boolean {
    if (this.#told !== undefined) {
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return false;
    }
    const now = Date.now();
    if (this.#requests.hit(now)) {
      this.#tell(
        'request_rate',
        constants.NGHTTP2_ENHANCE_YOUR_CALM,
        `more than ${this.#limits.maxRequests} requests in ${this.#limits.floodWindow} ms`,
      );
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      this.#session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM, Math.max(0, (stream.id ?? 1) - 2));
      // Once that GOAWAY is out (node:http2 writes in its own immediate, queued before this one):
      // close() sends one more, naming the last stream nghttp2 took (the refused one), and only
      // a GOAWAY already sent lowers it. A later GOAWAY must never name a later stream (RFC 9113 §6.8).
      setImmediate(() => this.#session.close());
      return false;
    }
    this.openStreams++;
    this.admittedAt = now;
    return true;
  }

  /**
   * A stream admitted has closed (its response sink says so first thing when it hears it: one
   * listener a stream, not one each). Streams the session's own end closes still count: the
   * error that says why comes after them.
   */
  streamClosed(answer: H2Answer): void {
    this.#open?.delete(answer);
    if (this.#session.destroyed) return;
    this.openStreams--;
    if (this.openStreams === 0) this.#idleRestart();
  }

  /** The client's connection is open both ways: it neither ended (FIN) nor dropped it. */
  get connectionUp(): boolean {
    if (this.#session.destroyed) return false;
    const socket = this.#session.socket;
    return !socket.destroyed && !socket.readableEnded;
  }

  /** The client's address, TLS and SNI, as every stream's head carries them. */
  connectionFacts(): H2ConnectionFacts {
    if (this.#facts !== undefined) return this.#facts;
    const socket = this.#session.socket;
    this.#facts = {
      // Taken as the session began: a stream can come after nghttp2 closed the connection for it.
      remoteAddress: this.#remoteAddress,
      encrypted: this.#session.encrypted === true,
      sni: servernameOf(socket),
      clientCertificate: clientCertificateOf(socket),
    };
    return this.#facts;
  }

  /**
   * Idle: no stream and no PING or SETTINGS for the whole timeout: GOAWAY NO_ERROR, closed. A
   * connection with streams open waits on them (each has its send deadline; the upstream's
   * timeouts bound the rest), and the timeout starts again when the last one closes.
   *
   * A session closed (here, or for a flood, a refusal) whose socket is still open one idle
   * timeout later is destroyed: node:http2 ends the socket only once what it holds has left, and
   * a client that reads nothing (its TCP window shut) lets nothing leave, the GOAWAY and our FIN
   * included. Its streams were cut by their send deadline; the connection itself waited for ever.
   */
  // Timers run before I/O in each turn of the event loop: after a stall of the gateway's own (a
  // plugin that computes, a long collection, a CPU saturated by load) a request the client sent in
  // time waits unread while this fires, and the connection was closed under it (or, its frames
  // unwritten for the stall, cut as a client that reads nothing). So it looks after the poll.
  readonly #onIdle = (): void => {
    const moves = this.#idleMoves;
    setImmediate(() => moves === this.#idleMoves && this.#idleAfterPoll());
  };

  #idleRestart(): void {
    this.#idleMoves++;
    this.#idle.refresh();
  }

  readonly #idleAfterPoll = (): void => {
    const socket = this.#socket;
    if (this.#session.destroyed) {
      socket?.destroy();
      return;
    }
    // Frames waiting (a stream's RST_STREAM after its send deadline, the GOAWAY) and not one
    // byte sent since the last look: the client reads nothing of the connection, and nothing
    // will leave. Cut: node:http2 would wait for ever to send them, its session never closing.
    const written = socket?.bytesWritten;
    if (
      written !== undefined &&
      written === this.#writtenAtLook &&
      (this.#session.state.outboundQueueSize ?? 0) > 0
    )
      return this.#cutStalled();
    this.#writtenAtLook = written;
    if (this.openStreams === 0) {
      // Closed a look ago (GOAWAY sent), no stream of ours open, and still here: nghttp2 waits on a
      // stream no JS sees, a header block its client never ended (HEADERS without END_HEADERS,
      // then silence), and node:http2's close waits with it, for ever.
      if (this.#session.closed) {
        this.#session.destroy();
        socket?.destroy();
        return;
      }
      this.#session.close();
    }
    // Looked at again each idle timeout until the session is gone (its 'close' clears it).
    this.#idle.refresh();
  };

  /** A connection whose client reads nothing at all: nothing can leave, not even GOAWAY. */
  #cutStalled(): void {
    if (this.#told === undefined) {
      this.#told = 'send_timeout';
      this.#logger.bound({
        bound: 'send_timeout',
        code: 'none (nothing could be sent: the connection was closed)',
        remoteAddress: this.#remoteAddress,
        details: `the client read no byte of the connection for ${this.#limits.idleTimeout} ms with frames waiting for it`,
      });
    }
    this.#session.destroy();
    this.#socket?.destroy();
  }

  /**
   * The client reset a stream before its answer was complete: counted only if premature (no head
   * of its answer sent, and younger than PREMATURE_RESET_MS; `admittedAt` is the stream's).
   */
  clientReset(headSent: boolean, admittedAt: number): void {
    if (headSent) return;
    const now = Date.now();
    if (now - admittedAt >= PREMATURE_RESET_MS) return;
    if (this.#resets.hit(now))
      this.calm(
        'rapid_reset',
        `more than ${this.#limits.maxClientResets} streams reset by the client in ${this.#limits.floodWindow} ms`,
      );
  }

  /** A stream's answer could not be sent within the send deadline and was reset (CANCEL). */
  sendTimeout(streamId: number): void {
    this.#logger.bound({
      bound: 'send_timeout',
      code: 'CANCEL',
      remoteAddress: this.#remoteAddress,
      details: `stream ${streamId}: nothing could be sent for ${this.#limits.sendTimeout} ms (the client's window stayed shut)`,
    });
  }

  /** GOAWAY ENHANCE_YOUR_CALM and close now: the streams open are cut. */
  calm(bound: H2Bound, details: string): void {
    if (this.#told !== undefined || this.#session.destroyed) return;
    this.#tell(bound, constants.NGHTTP2_ENHANCE_YOUR_CALM, details);
    this.#calmed = { bound, details };
    // destroy() with an error sends GOAWAY with the given code (without one it says NO_ERROR).
    this.#session.destroy(new Error(details), constants.NGHTTP2_ENHANCE_YOUR_CALM);
  }

  /**
   * Why the gateway closed the connection under a stream that closed unfinished, when a bound its
   * client passed did (calm(), or nghttp2's own, named by the error node:http2 destroyed the
   * stream with, which reaches the stream before the session's error reaches the guard):
   * undefined when none did, and the client left. A stream error of nghttp2's (ERR_HTTP2_ERROR)
   * is the client's breach, which its sink names first (protocolBreach).
   */
  closedFor(error: unknown): string | undefined {
    const bound =
      this.#calmed ??
      (error instanceof Error ? nghttp2Refusal(error, this.#limits, this.openStreams) : undefined);
    return (
      bound &&
      `the gateway closed the connection: its client passed an HTTP/2 bound (${bound.bound}: ${bound.details})`
    );
  }

  /** `code`: the GOAWAY's, or undefined when nghttp2 chose it and node:http2 does not say. */
  #tell(bound: H2Bound, code: number | undefined, details: string): void {
    this.#told = bound;
    this.#logger.bound({
      bound,
      code: code === undefined ? 'chosen by nghttp2' : h2ErrorName(code),
      remoteAddress: this.#remoteAddress,
      details,
    });
  }

  /** nghttp2 closed the connection on its own (it has sent GOAWAY): name the reason (h2-refusals.ts). */
  #sessionError(error: Error & { errno?: number; code?: string }): void {
    if (this.#told !== undefined) return;
    const refusal = nghttp2Refusal(error, this.#limits, this.openStreams);
    if (refusal !== undefined) this.#tell(refusal.bound, refusal.code, refusal.details);
  }
}
