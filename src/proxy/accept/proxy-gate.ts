/**
 * A listener's PROXY protocol (listen[].proxy_protocol): the first thing read from every
 * connection, before TLS, the HTTP/1.1 parser and HTTP/2's preface detection. From a source in
 * `from`, a connection must open with a valid v1 or v2 header, whose client then stands for
 * the peer (core/net/client-address.ts); from anywhere else, one that opens with a header is
 * refused (anyone could claim any address), one that does not is served as it is. Refused
 * means closed at once: no byte of it was meant as HTTP, so there is nothing to answer.
 */
import type { Socket } from 'node:net';
import { markAcceptedAt } from '../../core/net/accepted-at.ts';
import { markProxiedClient, markProxyHeaderBytes } from '../../core/net/client-address.ts';
import { unmapIPv4 } from '../../core/net/ip-address.ts';
import { parseProxyHeader, V1_MAX_LENGTH, V2_MAX_LENGTH } from '../../core/net/proxy-protocol.ts';
import type { TrustList } from '../../core/net/trust.ts';

/** A connection closed by the gate: its peer and why. */
export interface ProxyRefusal {
  readonly remoteAddress: string;
  readonly reason: string;
  /** Whether the peer is in `from`: a balancer's refusal is told apart from strangers'. */
  readonly listed: boolean;
}

export interface ProxyGate {
  /**
   * Reads the connection's header (or makes sure it has none), then passes it on, or refuses
   * it. Passed paused, the bytes after the header put back: a plain server must resume it;
   * node:tls reads them itself (a resume would let them flow past it).
   */
  admit(socket: Socket, pass: (socket: Socket) => void): void;
  /** A TLS socket after its handshake: takes the client its TCP connection's header named. */
  adopt(socket: Socket): void;
}

/** Enough for any header the parser accepts: reading more than this without a verdict is a bug. */
const MOST_READ = Math.max(V1_MAX_LENGTH, 16 + V2_MAX_LENGTH);

/**
 * `timeoutMs`: how long a connection may take to send its header (the listener's header
 * timeout, read per connection). `refused` hears of every connection closed for its header.
 */
export function createProxyGate(
  from: TrustList,
  timeoutMs: () => number,
  refused: (refusal: ProxyRefusal) => void,
): ProxyGate {
  // A TLS socket is a new object over the TCP one: the client is found again by the peer's
  // address and port, unique among the connections open now. Removed when the TCP one closes.
  const pending = new Map<string, string>();
  return {
    admit(socket, pass) {
      const acceptedAt = performance.now();
      // Reset before it was taken (a balancer's health check: HAProxy writes its header, then
      // closes with a reset): no peer address is left to judge the header by, and no one to answer.
      // Read as from a source not listed, every check was a refusal logged with an empty client.
      if (socket.remoteAddress === undefined) {
        socket.destroy();
        return;
      }
      const peer = socket.remoteAddress;
      // As every request's line names it: an IPv4 peer of a dual-stack listener without ::ffff:.
      const named = unmapIPv4(peer);
      const listed = from.has(named);
      let seen: Buffer = Buffer.alloc(0);
      let settled = false;
      const settle = () => {
        settled = true;
        clearTimeout(timer);
        socket.removeListener('data', onData);
        socket.removeListener('end', onEnded);
        socket.removeListener('error', onEnded);
        socket.removeListener('close', settle);
      };
      const refuse = (reason: string) => {
        settle();
        socket.destroy();
        refused({ remoteAddress: named, reason, listed });
      };
      const onGone = () => {
        settle();
        socket.destroy();
      };
      // The peer ended (or reset) its connection: after nothing, a balancer's health check, gone
      // in silence; halfway through a header, refused as the header timeout refuses one, saying
      // so: a balancer that crashes mid-header, or a middlebox that cuts it, is told from a check.
      const onEnded = () =>
        seen.length > 0
          ? refuse(
              `a PROXY header cut short: the connection ended after ${seen.length} bytes of it, from a source ${listed ? 'in' : 'not in'} proxy_protocol.from`,
            )
          : onGone();
      // From a source not listed, silence is no request (closed as the HTTP server closes one that
      // never spoke); bytes that began a header and stopped are refused as any header of its is,
      // saying so: closed in silence, an operator could not tell why its connections were closed.
      const expire = () => {
        if (settled) return;
        if (listed) refuse('no PROXY header within the header timeout');
        else if (seen.length > 0)
          refuse(
            'a PROXY header not whole within the header timeout, from a source not in proxy_protocol.from',
          );
        else onGone();
      };
      // Timers run before sockets are read: after the worker's loop was held, a header sent in time
      // may sit unread. The wait looks again after the poll, as every clock of the gateway does.
      const timer = setTimeout(() => setImmediate(expire), timeoutMs());
      const onData = (chunk: Buffer) => {
        seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
        const header = parseProxyHeader(seen);
        if (header.kind === 'incomplete') {
          if (seen.length > MOST_READ) refuse('PROXY header past its bound');
          return;
        }
        if (header.kind === 'invalid') return refuse(`invalid PROXY header: ${header.reason}`);
        if (header.kind === 'absent' && listed)
          return refuse('no PROXY header from a source in proxy_protocol.from');
        if (header.kind === 'header' && !listed)
          return refuse('PROXY header from a source not in proxy_protocol.from');
        settle();
        let rest = seen;
        if (header.kind === 'header') {
          rest = seen.subarray(header.length);
          const client = header.source ?? peer;
          markProxiedClient(socket, client);
          markProxyHeaderBytes(socket, header.length);
          const key = peerKey(socket);
          pending.set(key, client);
          socket.once('close', () => pending.delete(key));
        }
        // The request head's time counts from here too: the wait for this header was part of it.
        markAcceptedAt(socket, acceptedAt);
        socket.pause();
        if (rest.length > 0) socket.unshift(rest);
        pass(socket);
      };
      socket.on('data', onData);
      socket.once('end', onEnded);
      socket.once('error', onEnded);
      // Closed by the gateway itself (a drain closes a silent connection, its deadline cuts the
      // rest): no header is coming, and none was refused; the timer would tell of one later.
      socket.once('close', settle);
    },
    adopt(socket) {
      const client = pending.get(peerKey(socket));
      if (client !== undefined) markProxiedClient(socket, client);
    },
  };
}

function peerKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}
