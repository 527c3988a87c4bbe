/**
 * Which protocol a new connection speaks. On TLS, ALPN said it (`h2`, else HTTP/1.1); on a
 * plain socket, the first bytes do: HTTP/2 with prior knowledge opens with the connection
 * preface (RFC 9113 §3.4), which no HTTP/1.1 request line can start like (`PRI` is not a
 * method anyone serves, and `PRI * HTTP/2.0` is not HTTP/1.x). The bytes read to decide are
 * put back, so the chosen server reads the connection from its first byte.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { firstHeadTime, markAcceptedAtOnce } from '../../../core/net/accepted-at.ts';

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * The ALPN protocols a TLS listener with HTTP/2 offers, in order of preference. `http/1.0` last:
 * the HTTP/1.1 server serves HTTP/1.0 requests, and an HTTP/1.0 client (`curl --http1.0`)
 * offers that alone; left out, it got the `no_application_protocol` alert (nginx lists it too).
 */
export const H2_ALPN_PROTOCOLS = ['h2', 'http/1.1', 'http/1.0'];
/**
 * What a TLS listener without HTTP/2 offers: said, not left out, so a client that offers only
 * `h2` gets the `no_application_protocol` alert (RFC 7301 §3.2) instead of a handshake after
 * which it speaks HTTP/2 to an HTTP/1.1 server, as with nginx.
 */
export const HTTP1_ALPN_PROTOCOLS = ['http/1.1', 'http/1.0'];

export interface ProtocolTakers {
  h2(socket: Socket): void;
  http1(socket: Socket): void;
}

/** A TLS connection after its handshake: ALPN chose. */
export function pickByAlpn(socket: TLSSocket, takers: ProtocolTakers): void {
  if (socket.alpnProtocol === 'h2') takers.h2(socket);
  else takers.http1(socket);
}

/**
 * Whether `bytes` can still be, or is, the preface: 'h2' once all 24 bytes match, 'http1' at
 * the first byte that differs, undefined while a prefix matches.
 */
export function prefaceVerdict(bytes: Buffer): 'h2' | 'http1' | undefined {
  const n = Math.min(bytes.length, H2_PREFACE.length);
  if (bytes.compare(H2_PREFACE, 0, n, 0, n) !== 0) return 'http1';
  return n === H2_PREFACE.length ? 'h2' : undefined;
}

/**
 * A plain connection: reads until the preface matches or a byte differs, then hands the
 * socket over with those bytes put back. A connection that says nothing within `timeoutMs`
 * (the listener's header timeout), or closes first, is destroyed (as the HTTP/1.1 server
 * closes one that never sent a head). The accept is marked (accepted-at.ts), so the taker's
 * own bound (the HTTP/1.1 head's, the HTTP/2 SETTINGS') counts this wait in: a client that
 * sent `P` and then waited would otherwise have a second whole timeout for its head.
 */
export function pickByPreface(socket: Socket, takers: ProtocolTakers, timeoutMs: number): void {
  markAcceptedAtOnce(socket, performance.now());
  let seen: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), firstHeadTime(socket, timeoutMs));
  const done = () => {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onGone);
    socket.removeListener('error', onGone);
  };
  const onGone = () => {
    done();
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const verdict = prefaceVerdict(seen);
    if (verdict === undefined) return;
    done();
    socket.pause();
    socket.unshift(seen);
    if (verdict === 'h2') takers.h2(socket);
    else {
      takers.http1(socket);
      // pause() stopped the flow; the HTTP/1.1 connection's 'data' listener would not restart it.
      socket.resume();
    }
  };
  socket.on('data', onData);
  socket.once('end', onGone);
  socket.once('error', onGone);
}
