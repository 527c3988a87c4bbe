/**
 * What a client connection of the HTTP/1.1 server (http1-connection.ts) is made with: its
 * settings, the server's handlers of its requests, and the door to HTTP/2 of a listener that
 * serves h2c with prior knowledge; the states it goes through; and what each response
 * (http1-answer.ts) reports to it.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { RequestHead, RequestParseError } from '../../../core/http1/parsed-request.ts';
import type { DownstreamExchange, DrainCut, SwitchedConnection } from '../../../core/net/downstream.ts';

/**
 * Why the gateway closes a connection its client meant to keep once the answer in flight is
 * given: a drain (`drain`), a reload that removed its listener (`listener_removed`) or changed the client certificates its client's was
 * judged under (`client_certificates`: judged-connections.ts), or the client's HTTP/1.0, whose
 * connection a proxy keeps for no second request (`http10`: RFC 9112 §9.3.1), or an answer begun
 * before the request's body was whole (`answered_early`: its rest could not be told from the
 * next request, so the answer said close; a client may have sent more behind the body by then).
 */
export type EndedFor = 'drain' | 'listener_removed' | 'client_certificates' | 'http10' | 'answered_early';

/**
 * Why a connection closed with requests pipelined behind the one it was answering: who cut that
 * answer, or why the gateway closed the connection once it was given (EndedFor).
 */
export type UnservedWhy = 'answer_cut' | 'client_left' | DrainCut | EndedFor;

/** A request read whole and not served: its head, and its bytes as the client sent them. */
export interface UnservedRequest {
  readonly head: RequestHead;
  readonly bytes: number;
  /** The requests read behind it that get no line of their own (the last told one's: unserved-requests.ts). */
  readonly untold?: number;
}

export type ConnectionState = 'head' | 'body' | 'waiting' | 'writing' | 'idle' | 'closing' | 'closed';

export interface Http1Settings {
  readonly headerSize: number;
  readonly uriLength: number;
  readonly headerTimeout: number;
  readonly bodyIdleTimeout: number;
  readonly keepAliveTimeout: number;
  /** `limits.send_timeout`, for each response's send deadline (absent: none). */
  readonly sendTimeout?: number;
  /** listen[].proxy_protocol is on (the parser's RequestParserLimits.proxyProtocol). */
  readonly proxyProtocol?: boolean;
  /** How the listener serves HTTP/2, if it does (the parser's RequestParserLimits.http2). */
  readonly http2?: 'prior-knowledge' | 'alpn';
}

/**
 * A plain listener that serves HTTP/2 with prior knowledge too (h2c): the connection's first
 * bytes are looked at here, by the HTTP/1.1 connection already made, so that an HTTP/1.1
 * connection (nearly all of them) costs no separate reader, timer or listeners to find out.
 */
export interface PriorKnowledge {
  /** Whether a connection's first bytes may be, or begin, HTTP/2's preface (false: HTTP/1.1 for sure). */
  mayBeH2(first: Buffer): boolean;
  /** Takes a connection that may be HTTP/2, its first bytes put back, to decide and serve it. */
  take(socket: Socket): void;
}

/** What the server does with a connection's requests (`Connection`: http1-connection.ts's Http1Connection). */
export interface Http1Handlers<Connection> {
  /** A request's head is in: the exchange is the handler's until its response finishes or aborts. */
  request(exchange: DownstreamExchange, connection: Connection): void;
  /**
   * A request was refused before there was an exchange (the parser said no, or its head did
   * not come within the header timeout): the handler answers with `connection.refuse()`.
   */
  refused(connection: Connection, error: RequestParseError, head: RequestHead | undefined): void;
  /**
   * Over TLS, a client sent a plain HTTP request where its ClientHello belonged (OpenSSL knows
   * one by its method): `tcp` is its TCP socket, under the failed TLS one, to answer in plain
   * text on (Node has destroyed the TLS socket already: the handle closes once the answer is
   * written); `done` destroys what is left. Without it such a client is closed on unanswered.
   */
  plainOnTls?(tcp: Socket, done: () => void): void;
  /**
   * Over TLS, a client's handshake failed (node:tls's 'tlsClientError'): `socket` is the TLS
   * socket, destroyed or about to be; `client` its client as the listener knows it.
   */
  handshakeFailed?(err: Error, socket: TLSSocket, client: string): void;
  /**
   * A request pipelined behind one whose connection was cut (`why`), read whole (its `bytes`)
   * and never served: told for its log line once the connection has closed.
   */
  unserved?(connection: Connection, request: UnservedRequest, why: UnservedWhy): void;
}

/** What an answer (http1-answer.ts) is told of its request and its connection when it is made. */
export interface Http1AnswerFacts {
  headRequest: boolean;
  versionMinor: number;
  close: boolean;
  expectContinue: boolean;
  /** Said in `Keep-Alive: timeout=N` on a response that keeps the connection (0: not said). */
  keepAliveSeconds?: number;
  /** `limits.send_timeout`: the longest the client may take no byte of what waits for it (absent: none). */
  sendTimeout?: number;
}

/** What the sink reports to its connection. */
export interface AnswerOwner {
  /** The final head is going out. */
  answerStarted(): void;
  /**
   * The whole response is on the socket; `close`: the connection must close after it; `doubted`:
   * its writer chose that close for a request read whole, whose stream it does not trust (a 400:
   * what the client sent after it may be its body, not requests).
   */
  answerFinished(close: boolean, doubted: boolean): void;
  /** The response ended, its rest still leaving for a client behind (answerFinished once it took it). */
  answerLeaving(): void;
  /**
   * The exchange was cut: the connection closes at once. `reset`: the body was delimited by the
   * close, so only a reset (RST) tells the client it is not whole; a FIN would say it is.
   */
  answerAborted(reset: boolean): void;
  /** An upgrade's 101 went out: the connection leaves HTTP; its socket and the bytes read past the head. */
  answerSwitched(): SwitchedConnection;
  /** The bytes of the request being answered the connection has read (head and body, as they came). */
  readonly requestBytes: number;
  /** The route's limit on a chunked request body: the refusal's words when its chunk sizes already passed it. */
  limitBody(limit: number): string | undefined;
}
