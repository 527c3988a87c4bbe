/**
 * A listener's HTTP/2 side (listen[].http2), in a module of its own so that node:http2 and the
 * HTTP/2 server are loaded only by a listener that serves them.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ListenerConfig } from '../../../core/config/types.ts';
import type { Failure } from '../../../core/failure/failure.ts';
import { refusalFailure } from '../client-error.ts';
import { capPerClient, type ListenerFacts, type RequestHandlers } from '../request-handlers.ts';
import { h2Limits } from './h2-limits.ts';
import { type ProtocolTakers, pickByAlpn, pickByPreface } from './h2-preface.ts';
import { createH2Server, type H2Server } from './h2-server.ts';

/** A listener's HTTP/2 side: its server, and the connections not yet known to speak either protocol. */
export interface ListenerH2 {
  readonly server: H2Server;
  /** Picks the protocol of a connection just accepted (after its TLS handshake). */
  take(socket: Socket, http1: (socket: Socket) => void, tls: boolean): void;
  /** A drain: GOAWAY on every HTTP/2 connection; one that has not said which protocol it speaks is closed. */
  closeWhenIdle(): void;
}

/**
 * The HTTP/2 server of a listener with `http2`, its bounds taken from the limits at start
 * (a reload cannot change them while it serves: reload-plan.ts).
 */
export function startH2Listener(
  handlers: RequestHandlers,
  facts: ListenerFacts,
  current: () => ListenerConfig,
  overLimit: WeakMap<Socket, Failure>,
): ListenerH2 {
  const server = createH2Server(
    h2Limits(handlers.limits()),
    {
      request: (exchange) => capPerClient(handlers, exchange, facts),
      refused: (exchange, error) => handlers.refusedExchange(exchange, refusalFailure(error), facts),
      overLimit: (exchange, failure) => handlers.refusedExchange(exchange, failure, facts),
      bodyIdleTimeout: () => handlers.limits().bodyIdleTimeout,
      headerTimeout: () => handlers.limits().headerTimeout,
    },
    { bound: (event) => handlers.h2Bound(current(), event) },
  );
  // Plain connections still reading their first bytes: a drain closes them (they hold no request).
  const undecided = new Set<Socket>();
  let draining = false;
  return {
    server,
    take(socket, http1, tls) {
      // One that comes out of its TLS handshake (or shows h2c's first bytes) during a drain came
      // before the gateway stopped accepting: served as on any listener, its HTTP/1.1 request
      // once, saying close (http1-server.ts), its HTTP/2 session told GOAWAY (h2-server.ts).
      const takers: ProtocolTakers = {
        h2: (s) => {
          undecided.delete(s);
          // node:http2 ends its side when the client ends its own (the HTTP/1.1 server keeps
          // a half-open socket to answer a request sent before a FIN).
          s.allowHalfOpen = false;
          server.accept(s, overLimit.get(s));
        },
        http1: (s) => {
          undecided.delete(s);
          http1(s);
        },
      };
      if (tls) return pickByAlpn(socket as TLSSocket, takers);
      // (Its first bytes are in already: the drain that found it undecided has swept.)
      if (!draining) undecided.add(socket);
      socket.once('close', () => undecided.delete(socket));
      pickByPreface(socket, takers, handlers.limits().headerTimeout);
    },
    closeWhenIdle() {
      draining = true;
      server.closeWhenIdle();
      for (const socket of undecided) socket.destroy();
      undecided.clear();
    },
  };
}
