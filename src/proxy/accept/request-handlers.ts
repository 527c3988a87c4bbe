/**
 * Where the accept phase hands requests over, for both protocols' servers: what the pipeline
 * is told of the listener, the handlers the composition root wires to the request session,
 * and the per-client count every request passes first.
 */

import type { DownstreamLimits, ListenerConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { noRelease } from '../../core/limits/count.ts';
import type { DownstreamExchange } from '../../core/net/downstream.ts';
import type { InFlightLimit } from '../admit/in-flight-limit.ts';
import type { RawRequestInfo } from './client-error.ts';
import type { ClientLimits } from './client-limits.ts';
import type { H2BoundEvent } from './h2/h2-bound.ts';
import type { HandshakeFailure } from './handshake-failure.ts';
import type { ProxyRefusal } from './proxy-gate.ts';

/** What the request pipeline needs to know of the listener a request came in on. */
export interface ListenerFacts {
  /** The listener's name (`listen[].name`, else its address): what `match.listener` tests. */
  readonly name: string;
  /** "http" or "https". */
  readonly protocol: string;
  /**
   * Whether a request for `host` (no port) came on a TLS connection whose SNI chose another
   * certificate than the one naming `host` (421); absent on a plain listener.
   */
  readonly misdirected?: (servername: string | undefined, host: string) => boolean;
  /**
   * `forwarded`: a request's client certificate is the one a proxy in `trust_forwarded_from`
   * passes in Client-Cert (forwarded-certificate.ts); absent: its connection's handshake's.
   */
  readonly clientCertificatesFrom?: 'forwarded';
  /** The listener's load-shedding count (`max_in_flight`), when it has one. */
  readonly inFlight?: InFlightLimit;
}

/** A request refused before there was an exchange: who sent it, and how to answer (then the connection closes). */
export interface Refusal {
  readonly remoteAddress: string;
  readonly encrypted: boolean;
  /** The refused request's bytes read from the client (its head as far as it came, and any body). */
  readonly bytesRead: number;
  /** When its head began arriving (performance.now()), if before the read that refused it: its log's total counts from there. */
  readonly startedAt?: number;
  /** Writes the answer and closes the connection, lingering, with a deadline. */
  answer(text: string): void;
}

/** A request read whole and never served (pipelined behind one whose connection was cut): who sent it, and its bytes. */
export type Unserved = Pick<Refusal, 'remoteAddress' | 'encrypted' | 'bytesRead'>;

/**
 * Where the accept phase hands requests over (the composition root wires these to the
 * request session): the listener itself knows nothing of what happens to a request next.
 */
export interface RequestHandlers {
  /** A parsed request (an upgrade too: its head says so), with the sink for its response. */
  request(exchange: DownstreamExchange, listener: ListenerFacts): void;
  /** The server's parser refused a request before there was an exchange (or its head did not come in time). */
  refused(refusal: Refusal, failure: Failure, info: RawRequestInfo): void;
  /**
   * A request read whole that was never served: the client pipelined it behind one whose
   * connection was then cut (the answer's, the drain's, the client's leaving). Logged, not answered.
   */
  unserved(request: Unserved, failure: Failure, info: RawRequestInfo): void;
  /**
   * The server refused a request it has an exchange for (an HTTP/2 stream: the connection
   * carries others), to be answered on the exchange's sink.
   */
  refusedExchange(exchange: DownstreamExchange, failure: Failure, listener: ListenerFacts): void;
  /** The live downstream limits (they may change with a reload). */
  limits(): DownstreamLimits;
  /** `limits.per_client`, counted over every listener of the process. */
  readonly clients: ClientLimits;
  /**
   * Connections were closed as they came in because the listener held `max_connections`:
   * told at most once a second, with how many since the last time (a flood of them must not
   * become a flood of log lines).
   */
  dropped(listener: ListenerConfig, count: number): void;
  /** An HTTP/2 connection passed a bound (h2-guard.ts, h2-bound.ts): it got GOAWAY, or one stream was reset. */
  h2Bound(listener: ListenerConfig, event: H2BoundEvent): void;
  /**
   * Connections closed for their PROXY protocol header (proxy-gate.ts): missing, invalid, or
   * from a source not trusted to send one. The first of a quiet spell is told at once; those
   * that follow within a second are told together, with how many and the last one.
   */
  proxyRefused(listener: ListenerConfig, refusal: ProxyRefusal, count: number): void;
  /**
   * TLS handshakes that failed (handshake-failure.ts), told as proxyRefused is, each reason
   * apart: `count` how many of that reason since it was last told, `failure` the last one.
   */
  handshakeFailed(listener: ListenerConfig, failure: HandshakeFailure, count: number): void;
}

/**
 * A request goes on if its client has fewer than `per_client.requests` in flight: its slot is
 * held until its response closes. Past it, the 429 (the connection closes after it: the
 * request's body, if any, is not read).
 */
export function capPerClient(
  handlers: RequestHandlers,
  exchange: DownstreamExchange,
  facts: ListenerFacts,
): void {
  const slot = handlers.clients.request(exchange.head.remoteAddress);
  if (slot instanceof Failure) return handlers.refusedExchange(exchange, slot, facts);
  // Without a per-client limit (the default) there is nothing to give back.
  if (slot !== noRelease) exchange.answer.onClose(slot);
  handlers.request(exchange, facts);
}
