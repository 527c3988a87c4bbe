import type { Socket } from 'node:net';
import { clientCertificateOf } from '../../core/net/client-certificate.ts';
import type { H2Server } from './h2/h2-server.ts';
import type { Http1Server } from './http1/http1-server.ts';

/**
 * A reload changed a listener's client CAs or revocation lists: the connections whose client
 * presented a certificate had it judged under the old ones, once, in their handshake (OpenSSL
 * judges no more), so a kept-alive connection of a certificate revoked since would go on passing.
 * With `requiresCertificate` (the new config's `mode: require`) those made without one go too:
 * the new config would have refused their handshake, and a route open to any connection of this
 * listener would go on serving them. Each closes: an idle HTTP/1.1 connection now, without the
 * drain's one more look for a request already in its buffer (that one would pass on the old
 * verdict: its client retries it on a new connection, as a request on a kept-alive connection the
 * server closed), nor those already read waiting their turn (each logged, never sent), a busy one
 * after the answer in flight (a request in flight ends on the snapshot it began with), a tunnel
 * at once (a WebSocket's sides told with a Close frame 1001 first), an HTTP/2
 * one by GOAWAY once its open streams are answered (a stream past GOAWAY's last one is refused,
 * and retried elsewhere). Its client's next connection is judged under the new ones.
 */
export function endJudgedConnections(
  http1: Http1Server,
  h2: H2Server | undefined,
  requiresCertificate: boolean,
): void {
  const judged = (socket: Socket) => requiresCertificate || presented(socket);
  // Copies: a connection may leave its list as it is told.
  for (const connection of [...http1.connections.values()]) {
    if (!judged(connection.socket)) continue;
    if (connection.quiet) connection.close();
    // A tunnel (a WebSocket) has no answer to close after: cut now, its sides told (1001), or the
    // revoked client's messages would go on reaching the app for as long as it keeps talking.
    else if (connection.tunnelled) connection.cutTunnel('client_certificates');
    // Between requests, those its client pipelined waiting their turn (read, on the old verdict,
    // the answer before them still leaving): none is served; each gets its line at the close.
    else if (connection.betweenRequests) connection.endNow('client_certificates');
    // (The requests its client pipelined behind the answer get their lines at the close.)
    else connection.endAfterAnswer('client_certificates');
  }
  for (const session of [...(h2?.sessions ?? [])]) if (judged(session.socket)) session.close();
}

function presented(socket: Socket): boolean {
  return clientCertificateOf(socket)?.certificate !== undefined;
}

/**
 * Which client CAs and revocation lists (by a count of their changes) were in force when each TCP
 * connection of a TLS listener was accepted. A handshake a reload met under way goes on in the
 * secure context it began with, and OpenSSL judges its certificate by that context's (old) lists
 * when the client's certificate comes, after the reload: endJudgedConnections never saw it (it
 * was no connection yet), so it would be served on the old list's verdict. Read once its
 * handshake is done (listener.ts closes it then).
 */
export class TrustEpochs {
  #now = 0;
  readonly #atAccept = new WeakMap<Socket, number>();

  /** A TCP connection accepted (before node:tls makes its TLS socket). */
  accepted(tcp: Socket): void {
    this.#atAccept.set(tcp, this.#now);
  }

  /** A reload changed the client CAs or revocation lists. */
  changed(): void {
    this.#now++;
  }

  /** Whether `tcp` was accepted before the last change (undefined: not known, a socket not seen here). */
  before(tcp: Socket | undefined): boolean {
    const at = tcp === undefined ? undefined : this.#atAccept.get(tcp);
    return at !== undefined && at !== this.#now;
  }
}
