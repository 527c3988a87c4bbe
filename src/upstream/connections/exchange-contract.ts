/**
 * The one contract between an exchange (the forward phase, a health probe, `candor diagnose`)
 * and the upstream connection that carries it, whichever protocol that connection speaks: an
 * HTTP/1.1 connection (http1/connection.ts) and an HTTP/2 stream (h2/h2-call.ts) feed the same
 * events, in the same order, so what reads them never asks which one it has.
 */
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { HeadClockName } from '../../core/config/upstream-config.ts';
import type { Failure } from '../../core/failure/failure.ts';

/** The request body one exchange writes: none, bytes in hand, or the client's stream. */
export type RequestBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'buffer'; readonly bytes: Buffer }
  | StreamedBody;

/** The client's body as it streams. */
export interface StreamedBody {
  readonly kind: 'stream';
  readonly source: Readable;
  /**
   * The request's fields carry the body's length (Content-Length); without it, HTTP/1.1 frames
   * the body in chunks (HTTP/2 frames every body itself).
   */
  readonly lengthAnnounced: boolean;
  /** What earlier attempts took of the stream, kept for this one to send first; undefined: nothing kept. */
  readonly kept?: KeptBody;
}

/**
 * What the exchange keeps of a streamed body as it goes out (up to a bound, until the answer's
 * head), so that a retry may send it again after part of it went.
 */
export interface KeptBody {
  /** Every byte taken so far is kept: the stream is left paused when the pump stops, not flowing to no reader. */
  readonly whole: boolean;
  /** A pump begins: the pieces earlier attempts took, to be written before the stream's next (undefined: none). */
  begin(): readonly Buffer[] | undefined;
}

/** The request an exchange hands a connection, ready to go out. */
export interface ExchangeRequest {
  readonly method: string;
  readonly path: string;
  /** Flat [name, value, …], already rewritten for the upstream (no hop-by-hop fields). */
  readonly headers: readonly string[];
  readonly body: RequestBody;
  /** The request asks to switch protocols (its Connection and Upgrade fields are in `headers`). */
  readonly upgrade?: boolean;
  /**
   * The answer goes where no trailers follow a body of known length (an HTTP/1.x client): an
   * HTTP/2 answer is whole once all its content-length came, its stream's end not waited for.
   */
  readonly wholeAtLength?: boolean;
}

/**
 * A response head in neutral words, as both protocols give it: how HTTP/1.1 delimits a body
 * or keeps its connection stays with the HTTP/1.1 connection, and HTTP/2 has nothing to fake.
 */
export interface UpstreamHead {
  readonly status: number;
  /** The reason phrase; '' when absent (always, on HTTP/2). */
  readonly reason: string;
  /** The HTTP version it came in ("1.0", "1.1", "2"): a Via entry's received-protocol (RFC 9110 §7.6.3). */
  readonly version: '1.0' | '1.1' | '2';
  /** Flat [name, value, …] as received: names' case kept, no pseudo-fields. */
  readonly headers: string[];
  /** A body follows (false: the answer to a HEAD, a 1xx, 204 or 304, or a head that ended the stream). */
  readonly hasBody: boolean;
  /** The body's length when the upstream announced it (Content-Length); undefined when it is known only at its end. */
  readonly bodyLength: number | undefined;
}

/** What an exchange learns about the connection its request went out on. */
export interface ConnectionFacts {
  /** Time to open the connection (DNS + TCP + TLS), or 0 when a pooled one was reused. */
  readonly connectMs: number;
  /** The connection had carried a request before (the keep-alive race can only hit these). */
  readonly reused: boolean;
  /**
   * HTTP/2: when the session finished opening (performance.now()) and how long its connect took.
   * A stream whose request began waiting before then rode the connect a burst's first stream
   * dialled (h2-pool.ts openMore): it waited through it too, and the log says so (exchange-attempt.ts).
   */
  readonly openedAt?: number;
  readonly openMs?: number;
}

/** The clocks of one exchange on its connection. */
export interface ConnectionTimeouts {
  /** From the request's head going out to the response head arriving (the per-try timeout). */
  readonly head: number;
  /**
   * Which setting `head` is, named with its value when it passes: `retries.per_try_timeout` where it
   * is the shorter, else `timeouts.response` (HeadClockName; built with the config, never per request).
   */
  readonly headName: HeadClockName;
  /** Longest silence between two pieces of the response body. */
  readonly read: number;
  /** Longest the upstream may take none of the request body bytes waiting for it (timeouts.send). */
  readonly send: number;
}

/** How the exchange steers the transfer in progress. */
export interface ExchangeController {
  /** Ends the exchange: the connection is closed and onResponseError reports `failure`. */
  abort(failure: Failure): void;
  /** Backpressure from downstream: stop reading the response (the read timeout is suspended). */
  pause(): void;
  resume(): void;
  /** The connection's peer, for the trace (read from the socket when asked). */
  remoteAddress(): string | undefined;
  remotePort(): number | undefined;
  /**
   * What of the request still waits for the upstream to take it, said for a failure's details
   * ("2000 bytes of the request body were still waiting…", and why when the connection knows);
   * undefined when nothing does. A timeout before the head is then the upstream's not reading,
   * not only its not answering.
   */
  requestWaiting(): string | undefined;
  /**
   * What of the response head came before it was whole, said when a timeout ends the wait for
   * it (exchange-timers.ts: noHeadDetails): an upstream that sent 1xx answers or part of its head
   * did send something.
   */
  headSoFar(): HeadSoFar;
}

/** The interim (1xx) heads of the response so far, and the bytes of a head begun and not ended (HTTP/1.1). */
export interface HeadSoFar {
  readonly interim: number;
  readonly partial: number;
}

/** The events of one request/response exchange, in order; exactly one of End and Error ends it. */
export interface ExchangeHandler {
  onRequestStart(controller: ExchangeController, facts: ConnectionFacts): void;
  /**
   * A chunk of the request body is about to be written. The handler may abort here (a body
   * over its limit): the chunk is then never sent.
   */
  onBodyChunk(chunk: Buffer): void;
  onRequestSent(): void;
  onInformational(head: UpstreamHead): void;
  onResponseStart(controller: ExchangeController, head: UpstreamHead): void;
  onResponseData(controller: ExchangeController, chunk: Buffer): void;
  onResponseEnd(controller: ExchangeController, trailers: string[] | undefined): void;
  onResponseError(controller: ExchangeController | undefined, failure: Failure): void;
  /**
   * The upstream switched protocols (101 to a request that asked for it). The socket has left
   * the connection and its pool and is the handler's now, with the bytes that came after the head.
   * Only a handler that sends upgrade requests gets one.
   */
  onUpgrade?(head: UpstreamHead, socket: Socket, rest: Buffer): void;
}

/** What a pool hands a waiter: an HTTP/1.1 connection, or a stream slot on an HTTP/2 one. */
export interface Dispatcher {
  /**
   * `clocks`: this exchange's head and read clocks in place of the connection's (the pool's, its
   * upstream's): its route's own `timeouts`. Undefined: the connection's.
   */
  dispatch(request: ExchangeRequest, handler: ExchangeHandler, clocks?: ConnectionTimeouts): void;
}

/**
 * HTTP/2: the stream's request began waiting before its session finished opening (a burst on a
 * cold pool: the first stream dialled it, the others rode it), so it waited through that connect
 * as the first did, and no reused connection took it.
 */
export function rodeOpening(facts: ConnectionFacts, startedAt: number): boolean {
  return facts.reused && facts.openedAt !== undefined && facts.openedAt > startedAt;
}

/**
 * The connect a request that began waiting at `startedAt` waited through: the whole of it, or for
 * one handed a connection another began opening (its client gone), or a session a burst rode
 * (`rode`), the part since it came: never more than its wait. 0 on a reused connection.
 */
export function connectWaited(facts: ConnectionFacts, startedAt: number, rode: boolean): number {
  if (rode) return Math.min(facts.openMs ?? 0, (facts.openedAt as number) - startedAt);
  return facts.reused ? 0 : Math.min(facts.connectMs, Math.max(0, performance.now() - startedAt));
}
