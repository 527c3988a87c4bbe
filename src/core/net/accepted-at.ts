/**
 * When a connection was accepted, marked where a stage reads it before the HTTP/1.1 server or
 * node:tls does (the PROXY gate, proxy/accept/proxy-gate.ts; the ACME ClientHello reader; the
 * h2c preface reader, proxy/accept/h2/h2-preface.ts, whose HTTP/2 side times its SETTINGS so too):
 * `limits.header_timeout` is the time a client has for its first head from the accept, the
 * gate's wait included, not anew from the hand-over (a client whose first byte came as the
 * gate's time ran out had all of it again); over TLS, for its handshake
 * (proxy/accept/http1/handshake-deadline.ts). Kept on the socket, as its PROXY header's client
 * is (client-address.ts): a fact of the connection. A TLS socket is a new object, unmarked:
 * its first head has the whole bound after the handshake, as on a listener without a stage.
 */
import type { Socket } from 'node:net';

const ACCEPTED_AT = Symbol('candor.acceptedAt');

interface Marked {
  [ACCEPTED_AT]?: number;
}

/** Records when the connection was accepted (performance.now()). */
export function markAcceptedAt(socket: Socket, at: number): void {
  (socket as Marked)[ACCEPTED_AT] = at;
}

/**
 * Records when the connection was accepted unless a stage before did (its accept came first):
 * the h2c preface reader, behind a PROXY gate or alone.
 */
export function markAcceptedAtOnce(socket: Socket, at: number): void {
  if ((socket as Marked)[ACCEPTED_AT] === undefined) (socket as Marked)[ACCEPTED_AT] = at;
}

/**
 * What is left of `ms` for the connection's first head: all of it when no stage marked it; at
 * least 1 ms once it has run out (0 would arm no deadline at all). 0 or less stays as it is.
 */
export function firstHeadTime(socket: Socket, ms: number): number {
  const at = (socket as Marked)[ACCEPTED_AT];
  if (at === undefined || ms <= 0) return ms;
  return Math.max(1, ms - (performance.now() - at));
}
