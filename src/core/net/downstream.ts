/**
 * What a request session needs of the client side, whatever the protocol: the request's
 * head, its body as a stream, a sink for the response, and a way to abort. HTTP/1.1 is the
 * first implementation (http1-connection.ts, http1-answer.ts); an HTTP/2 stream would be
 * another, with the session unchanged.
 */

import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { BufferBudget } from './buffer-budget.ts';
import type { ClientCertificate } from './client-certificate.ts';
import { lowerFieldName } from './field-names.ts';
import type { SendLimit } from './send-deadline.ts';

/**
 * Why a drain cut the connections still open: its deadline passed, or a second signal ended it at
 * once, or the deadline of a listener a reload removed passed (the gateway itself runs on).
 */
export type DrainCut = 'deadline' | 'signal' | 'listener_deadline';

/** Told once when an exchange is over: `finished`, whether its answer went whole. */
export type CloseListener = (finished: boolean) => void;

/**
 * The protocol a request came over, as the log line and `candor explain` name it. HTTP/2
 * carries HTTP/1.1's semantics, so an HTTP/2 head says 1.1 in its version fields; this field
 * is the one that tells the wire.
 */
export type DownstreamProtocol = 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';

/** A client that left by closing its connection, as a client_closed failure says it (AnswerSink.leftHow). */
export const CONNECTION_CLOSED = 'client closed the connection';

export interface DownstreamHead {
  readonly method: string;
  /** As sent: origin form, absolute form, or `*`. */
  readonly target: string;
  /**
   * 1 for HTTP/1.x and HTTP/2 (another value only from a server that let an unsupported
   * version through; `protocol` then says HTTP/1.1 and the session refuses it).
   */
  readonly versionMajor: number;
  /** 0 or 1 for HTTP/1.x (1 for HTTP/2: its semantics are HTTP/1.1's). */
  readonly versionMinor: number;
  /** The wire: HTTP/1.0, HTTP/1.1 or HTTP/2 (DownstreamProtocol). */
  readonly protocol: DownstreamProtocol;
  /** Flat [name, value, …] as received (names' case kept). */
  readonly headers: readonly string[];
  readonly remoteAddress: string;
  readonly encrypted: boolean;
  /**
   * The server name (SNI) the client sent in its connection's TLS handshake, lower-cased;
   * absent on a plain connection or a handshake without one. Read against Host (421).
   */
  readonly servername?: string;
  /**
   * The connection resumed a TLS 1.2 session, for which node:tls reports no server name (OpenSSL
   * keeps none in the session, and runs no SNI callback when it resumes one): `servername` is
   * absent though the client may have sent one, and the certificate the session was made under
   * is not known. Not read as "no SNI" (the default certificate's), which made every such
   * connection to a host of another certificate misdirected (421).
   */
  readonly servernameUnknown?: true;
  /**
   * The certificate the client presented in its connection's handshake, as the listener judged
   * it; absent where the listener asks for none (`listen[].tls.client_certificates`).
   */
  readonly clientCertificate?: ClientCertificate;
  /**
   * When the head began arriving (performance.now()), for a head that did not come in one read
   * (an HTTP/1.1 head dripped or split): the request's log counts its total from there, as
   * nginx's `$request_time` counts from the first byte. Absent for most (their record's own start).
   */
  readonly startedAt?: number;
  /** Body framing as the client announced it: none, a length, or chunked (an unknown length). */
  readonly bodyLength: number | 'chunked' | undefined;
  /**
   * The client asked to switch protocols (`Connection: upgrade` with `Upgrade`) and the server
   * can hand the connection over after a 101 (AnswerSink.switchProtocols). False for h2c
   * (RFC 9113 dropped it: tunnelling it would let HTTP/2 past every check here) and for a
   * request with a body: those are answered as the plain requests they also are.
   */
  readonly upgrade: boolean;
  /** The client waits for `100 Continue` before its body. */
  readonly expectContinue: boolean;
}

/** Where the response goes: one head, body chunks with backpressure, an end. */
export interface AnswerSink {
  /**
   * The head went out (or is queued): a gateway error can no longer replace it. False again once
   * closed if it never left (HTTP/2: made after nghttp2 had reset the stream).
   */
  readonly headSent: boolean;
  /** The whole response went to the connection. */
  readonly finished: boolean;
  /** The exchange is over: finished, cut, or the client left. */
  readonly closed: boolean;
  /** The gateway's drain cut the connection under this response (not the client), and why; undefined: it did not. */
  readonly cutByDrain: DrainCut | undefined;
  /** The send deadline this response's client ran out of, when it was cut for it (not the client's leaving). */
  readonly cutBySend: SendLimit | undefined;
  /**
   * HTTP/2: the sink cut the response after its head because its trailer section was larger
   * than the client takes (SETTINGS_MAX_HEADER_LIST_SIZE): the details of that failure.
   */
  readonly refusedTrailers?: string;
  /**
   * HTTP/2: the stream was reset by the gateway's own HTTP/2 layer because the request's body
   * ended short of its content-length (RFC 9113 §8.1.1): the client's 400, not its leaving.
   */
  readonly malformedBody?: string;
  /**
   * HTTP/2: the whole answer had gone to the stream (its END_STREAM) before the stream was reset
   * (the client's cancel, or nghttp2's reset of its body short of its content-length, sent after
   * its answer came): the client has it whole, although the stream did not end clean and so the
   * response is not `finished`. Absent: not so.
   */
  readonly wholeBeforeReset?: boolean;
  /**
   * HTTP/2: when (performance.now()) the whole answer left for a client that had not ended its
   * request side: the stream closes only after a grace for it (h2-request-side.ts), which is no
   * part of the response, so the log's total_ms ends here. Absent: the close is the response's end.
   */
  readonly wholeAt?: number;
  /**
   * A sink with no client behind it (a background request's, in-memory-sink.ts): the gateway
   * dropped the answer itself, and what and why (`refresh: …`), the words of its failure
   * (droppedFailure), never a client's leaving. Absent: it did not.
   */
  readonly dropped?: string;
  /**
   * How the client left, in the words of its client_closed failure: its connection closed, or
   * (HTTP/2) it reset this one stream, with the reset's code, on a connection still up.
   */
  readonly leftHow: string;
  /**
   * HTTP/2: the head waits to leave with what follows it this turn (deferToTurnEnd), so an end
   * now goes out in its HEADERS frame (END_STREAM: gRPC's Trailers-Only). Absent: never so held.
   */
  readonly headPending?: boolean;
  /**
   * What was written is not going to the client as written (a compressing sink that compresses or
   * holds it): a cut's own end (a gRPC status in trailers) cannot be added after it. Absent: as written.
   */
  readonly recoded?: boolean;
  /** Response bytes written and not yet taken by the client's connection. */
  readonly pendingBytes: number;
  /**
   * Response bytes the client's connection has taken so far: a send deadline's measure of
   * progress (only its growth means anything).
   */
  readonly flushedBytes: number;
  /** Tells a client that sent `Expect: 100-continue` to send its body (once, and only before the head). */
  sendContinue(): void;
  /**
   * A 1xx other than 100 and 101, passed on from the upstream. False when it was dropped: the
   * client is not reading, or its version cannot carry it.
   */
  sendInterim(status: number, reason: string, headers: readonly string[]): boolean;
  /**
   * The final head. Framing is the sink's: `Content-Length` when the headers hold one, else
   * chunked (HTTP/1.1) or close-delimited (HTTP/1.0); none for HEAD, 204 and 304. `close` asks
   * for the connection to close after this response (the request's framing is in doubt, or
   * its body is left unread: nothing more is read from the connection). Throws, with nothing
   * sent, when a field cannot be written (then an error answer may still go out).
   */
  sendHead(status: number, reason: string, headers: readonly string[], close?: boolean): void;
  /**
   * The failure `sendHead` would throw for this head, sending nothing (undefined: it would go):
   * for a sink that sends a head later than the exchange gives it (compressing-sink.ts holds
   * one), while a refusal can still be the gateway's answer. Absent: the sink refuses none.
   */
  headRefusal?(status: number, headers: readonly string[]): Error | undefined;
  /**
   * Holds this response's writes until the end of the event-loop turn (turn-end.ts), so that
   * head, body and end of a small response leave in one write, with the turn's others. Called
   * before the head, so the head is held too.
   */
  deferToTurnEnd(): void;
  /** False: wait for `onDrain` before the next write. */
  write(chunk: Buffer): boolean;
  onDrain(callback: () => void): void;
  /** Ends the response, with trailers when the framing can carry them. */
  end(trailers?: readonly string[]): void;
  /**
   * Cuts the exchange: what was written leaves, then the client sees the connection close (a
   * response cut short, never a complete one).
   */
  abort(): void;
  /** Called once when the exchange is over, finished whole or not (at once when it already is). */
  onClose(callback: CloseListener): void;
  /**
   * The client took no byte of what waits for it within the send deadline, which the sink owns
   * (send-deadline.ts): called with the limit it broke, before the sink cuts the response.
   */
  onSendTimeout(callback: (limit: SendLimit) => void): void;
  /**
   * An upgrade the upstream accepted: writes the 101 with these fields and hands the
   * connection over. Returns the client's socket and the bytes it sent after its request head
   * (the new protocol's first); undefined when the client is gone.
   */
  switchProtocols(reason: string, headers: readonly string[]): SwitchedConnection | undefined;
}

/** A client connection an upgrade handed over to a tunnel (AnswerSink.switchProtocols). */
export interface SwitchedConnection {
  readonly socket: Socket;
  /** The bytes the client sent after its request head (the new protocol's first). */
  readonly rest: Buffer;
  /**
   * What the new protocol says just before the server cuts the connection (a drain's deadline, a
   * reload that revoked the client's certificate: `why`), while its socket still writes (a
   * WebSocket's Close frame): the server cuts, the tunnel knows the words.
   */
  beforeDrainCut(farewell: (why: TunnelCut) => void): void;
}

/** Why the server cut a tunnel under its sides: the drain's deadline, or a reload that judged its client's certificate again. */
export type TunnelCut = 'drain' | 'client_certificates';

/** What the server hands a session for each request. */
export interface DownstreamExchange {
  readonly head: DownstreamHead;
  /**
   * The request body: undefined for a request without one. Errors with `code` (and `status`
   * when the client is at fault) on broken framing, a stall, or a client that left.
   */
  readonly body: Readable | undefined;
  /** The whole request body has been received (always, for a request without one). */
  readonly bodyComplete: boolean;
  /**
   * The request's bytes read from the client so far, whatever its answer: its head and as much
   * of its body as came (HTTP/1.1: as they came on the wire, chunked framing included; HTTP/2:
   * the head's header list as RFC 9113 §6.5.2 counts it, each field's name and value and 32, and
   * the body's DATA). The log's bytes_in.
   */
  readonly bytesRead: number;
  /**
   * HTTP/1.1, a chunked body: the route's body limit, told once the route is known, so that a
   * chunk-size line past it is refused as it is read (413, the body errors) rather than waited
   * on. Returns the refusal's words when the chunk sizes read so far already pass it.
   */
  limitBody?(limit: number): string | undefined;
  readonly answer: AnswerSink;
  /**
   * What the exchange's connection may have held for it, shared with the other exchanges on it
   * (an HTTP/2 connection's streams): request bodies read whole, responses waiting for the
   * client and compressors (compressing-sink.ts) count against it. Undefined for HTTP/1.1,
   * whose connection carries one exchange at a time: the exchange's own bounds are its
   * connection's.
   */
  readonly budget?: BufferBudget;
  /**
   * Set on an exchange a route's stage made itself, not a client (a stored answer's refresh in
   * the background): nobody reads its answer but that stage. Absent on every client's exchange.
   */
  readonly background?: BackgroundRequest;
}

/** A request a route's stage made itself, not a client (DownstreamExchange.background). */
export interface BackgroundRequest {
  /** What it is, as its log line's `background` says (`refresh`: a stored answer's stale-while-revalidate refresh). */
  readonly kind: string;
  /** The id of the client's request it was made from (its log line's `for_req_id`): no client sent this one. */
  readonly madeFor: string;
  /**
   * The upstream it goes to, in place of one a stage would choose for a client's request (a
   * split's side: the one whose stored answer it refreshes); undefined: chosen as a client's is.
   */
  readonly upstream: string | undefined;
  /** What the stage that made it knows of it (the key's fetch it ends): opaque to the core, read by that stage alone. */
  readonly note: unknown;
}

/** What a head carries of its connection's SNI (DownstreamHead's `servername`, `servernameUnknown`). */
export interface ConnectionSni {
  readonly servername?: string;
  readonly servernameUnknown?: true;
}

/**
 * The SNI of a TLS socket's handshake, as a head carries it: nothing for a plain socket or a
 * handshake without one; `servernameUnknown` for a resumed TLS 1.2 session, where node:tls
 * cannot say.
 */
export function servernameOf(socket: Socket | undefined): ConnectionSni {
  const tls = socket as Partial<TLSSocket> | undefined;
  const name = tls?.servername;
  if (typeof name === 'string' && name !== '') return { servername: name.toLowerCase() };
  return tls?.isSessionReused?.() === true && tls.getProtocol?.() === 'TLSv1.2'
    ? { servernameUnknown: true }
    : {};
}

/** Whether the request carries a body to forward (announced length above zero, or chunked). */
export function hasBody(head: DownstreamHead): boolean {
  return head.bodyLength === 'chunked' || (head.bodyLength !== undefined && head.bodyLength > 0);
}

/** Fields of which only the first is kept (node:http's rule, which routing and limits were written for). */
export const FIRST_WINS: ReadonlySet<string> = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** The fields by lowercase name, as routing, limits and the hash balancer read them. */
export type FieldMap = Readonly<Record<string, string | string[] | undefined>>;

/**
 * A FieldMap's value as one line: the lines of a field kept as a list (set-cookie, or a map made
 * elsewhere: node:http keeps a few so) joined with ", ", as fieldMap joins a repeated field.
 */
export function joinedValue(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'object' ? value.join(', ') : value;
}

/**
 * A field of a flat [name, value, …] list by its lower-case name: its first line's value (where
 * a repeat is not to be read as a list: a stored answer's ETag, Last-Modified, If-Range).
 */
export function firstField(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i].length === lowerName.length && raw[i].toLowerCase() === lowerName) return raw[i + 1];
  return undefined;
}

/** A field of a flat [name, value, …] list by its lower-case name, its lines joined with ", " as one list (RFC 9110 §5.3). */
export function joinedField(raw: readonly string[], lowerName: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length !== lowerName.length || raw[i].toLowerCase() !== lowerName) continue;
    value = value === undefined ? raw[i + 1] : `${value}, ${raw[i + 1]}`;
  }
  return value;
}

/**
 * The head's fields by lowercase name: a repeated field joined (`; ` for cookies), set-cookie
 * a list, the singletons' first value kept. Made once per request.
 */
export function fieldMap(raw: readonly string[]): FieldMap {
  // No prototype: a field named `constructor` is a field like any other.
  const out: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i < raw.length; i += 2) {
    const name = lowerFieldName(raw[i]);
    const value = raw[i + 1];
    const seen = out[name];
    if (seen === undefined) out[name] = name === 'set-cookie' ? [value] : value;
    else if (name === 'set-cookie') (seen as string[]).push(value);
    else if (FIRST_WINS.has(name)) continue;
    else out[name] = `${seen}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return out;
}
