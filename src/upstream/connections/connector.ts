import net from 'node:net';
import tls from 'node:tls';
import { type ConnectPhase, classifyConnectError, ms } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import { connectDirectReads } from '../../core/net/direct-reads.ts';
import { sharedLookup } from '../../core/net/shared-lookup.ts';
import { LEVEL2_CIPHERS } from '../../core/net/tls-floor.ts';

interface ConnectorOptions {
  /** DNS + TCP + TLS, in milliseconds. */
  readonly timeout: number;
  readonly ca?: string | Buffer;
  /**
   * PEM revocation lists, each a string of its own (node:tls reads one a string): OpenSSL then
   * wants one from every CA of the upstream's chain (Node sets CRL_CHECK_ALL), and refuses a
   * revoked certificate (CERT_REVOKED) or a CA without one.
   */
  readonly crl?: string | Buffer | string[];
  readonly servername?: string;
  readonly rejectUnauthorized: boolean;
  /** The one protocol offered by ALPN on TLS connections; a server that selects another is refused (default http/1.1). */
  readonly alpn?: 'http/1.1' | 'h2';
  /** A client certificate and its key, for targets that ask for one (mTLS). */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** HTTP/1.1: a plain TCP socket's reads go straight to its connection (direct-reads.ts), not through 'data'. */
  readonly directReads?: boolean;
  /** TLS sessions kept for resumption, one per name and target (default MAX_SESSIONS). */
  readonly maxSessions?: number;
}

/**
 * The TLS sessions a connector keeps, past which the one set longest ago goes: targets that DNS
 * discovery replaces over days each bring a key of their own (a new address), whose sessions no
 * connection would offer again. A session in use is set anew at each handshake, and stays.
 */
const MAX_SESSIONS = 1024;

/** Where to connect: a target's host, port and scheme. */
export interface ConnectTarget {
  readonly hostname: string;
  /** "http:" or "https:". */
  readonly protocol: string;
  readonly port: string;
}

/** Called once: with a classified Failure, or with the connected (and, for https, handshaken) socket. */
type ConnectCallback = (err: Failure | null, socket: net.Socket | null) => void;

/** `timeout`: this connection's DNS + TCP + TLS bound, in place of the connector's (a route's own `timeouts.connect`). */
export type Connector = (target: ConnectTarget, callback: ConnectCallback, timeout?: number) => net.Socket;

/** An `h2` upstream whose TLS server did not select h2 by ALPN (for the gateway and `candor diagnose` alike). */
export function alpnNotH2(selected: string | false | null | undefined, elapsed: number): Failure {
  const chose = selected ? `it chose ${selected}` : 'it chose no protocol';
  return new Failure(
    'tls_protocol_error',
    `the upstream did not select h2 by ALPN (${chose}): it does not speak HTTP/2 over TLS, after ${ms(elapsed)}`,
    // Its handshake was done: not the type's words (is it TLS at all? fix the scheme), the protocol's.
    { variant: 'alpn_not_h2' },
  );
}

/**
 * A TCP connect to a port of this machine on which nothing listens can be given that very port as
 * its own source when the port is in the ephemeral range: the SYN meets itself, the connection
 * opens (a simultaneous open, RFC 9293 §3.5) and what is sent comes back as the answer, so a
 * refused upstream read as one answering garbage. Nothing listens there: it is told as refused.
 */
export function selfConnectFailure(socket: net.Socket, elapsed: number): Failure | undefined {
  if (socket.localPort !== socket.remotePort || socket.localAddress !== socket.remoteAddress)
    return undefined;
  return new Failure(
    'connection_refused',
    `nothing listens on port ${socket.remotePort}: the connection was given that port as its own and reached itself (a TCP self-connect) after ${ms(elapsed)}`,
  );
}

/**
 * Opens upstream connections, classifying every way one can fail here, where the phase
 * (DNS, TCP, TLS) is known, instead of guessing later from a message.
 */
export function createConnector(options: ConnectorOptions): Connector {
  const sessions = new Map<string, Buffer>();
  return function connect({ hostname, protocol, port }, callback, timeout = options.timeout) {
    const started = performance.now();
    let phase: ConnectPhase = net.isIP(hostname) ? 'tcp' : 'dns';
    let settled = false;
    const https = protocol === 'https:';
    const portNumber = Number(port) || (https ? 443 : 80);

    const finish = (err: Failure | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        socket.destroy();
        callback(err, null);
      } else {
        callback(null, socket);
      }
    };

    const lookup: net.LookupFunction = (host, lookupOptions, cb) => {
      sharedLookup(host, lookupOptions, (err, address, family) => {
        if (err) return finish(classifyConnectError(err, 'dns', performance.now() - started));
        phase = 'tcp';
        (cb as (e: null, a: typeof address, f?: number) => void)(null, address, family);
      });
    };

    let socket: net.Socket;
    if (https) {
      // Never a name from the client's Host header: a client must not choose the name the
      // upstream's certificate is checked against.
      // An absolute name's trailing dot ("api.internal.") is no part of the SNI (RFC 6066 §3: "without
      // a trailing dot"; Go's crypto/tls refuses a hello with one), as curl and Go's client drop it;
      // the certificate is checked against the name either way (node:tls drops it there).
      const named = options.servername ?? (net.isIP(hostname) ? undefined : hostname);
      const name = named?.endsWith('.') ? named.slice(0, -1) : named;
      // A session per name and per target: targets under one `tls.servername` (a fleet at IP
      // addresses) are other servers, each with its own tickets. Keyed by the name alone, each
      // connection offered the last target's session, and round robin never resumed one.
      const sessionKey = `${name ?? ''}@${hostname}:${portNumber}`;
      socket = tls.connect({
        host: hostname,
        port: portNumber,
        servername: name,
        lookup,
        ca: options.ca,
        crl: options.crl,
        rejectUnauthorized: options.rejectUnauthorized,
        cert: options.cert,
        key: options.key,
        // OpenSSL's security level 2 on a Node whose OpenSSL defaults lower (tls-floor.ts).
        ciphers: LEVEL2_CIPHERS,
        ALPNProtocols: [options.alpn ?? 'http/1.1'],
        session: sessions.get(sessionKey),
      });
      socket.once('connect', () => {
        phase = 'tls';
        const self = selfConnectFailure(socket, performance.now() - started);
        if (self) finish(self);
      });
      socket.on('session', (session: Buffer) => {
        sessions.delete(sessionKey);
        sessions.set(sessionKey, session);
        if (sessions.size > (options.maxSessions ?? MAX_SESSIONS))
          sessions.delete(sessions.keys().next().value as string);
      });
      socket.once('secureConnect', () => {
        // HTTP/2 over TLS is what ALPN selects (RFC 9113 §3.2): a server that picked no protocol
        // speaks HTTP/1.1 at best, and would read the HTTP/2 preface as garbage.
        const selected = (socket as tls.TLSSocket).alpnProtocol;
        if (options.alpn === 'h2' && selected !== 'h2')
          return finish(alpnNotH2(selected, performance.now() - started));
        finish(null);
      });
    } else {
      socket =
        options.directReads === true
          ? connectDirectReads({ host: hostname, port: portNumber, lookup })
          : net.connect({ host: hostname, port: portNumber, lookup });
      socket.once('connect', () => finish(selfConnectFailure(socket, performance.now() - started) ?? null));
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.on('error', (err) => finish(classifyConnectError(err, phase, performance.now() - started)));

    // Timers run before I/O in each turn of the event loop: after a stall of the gateway's own (a
    // plugin that computes, a long collection, a CPU saturated by load) a connection the kernel made
    // in time, or a handshake the upstream answered in time, waits unseen while this fires, and a 504
    // would name a healthy target (judged: the ejection, the circuit). So it looks again after the
    // poll (setImmediate); and when that poll moved the connect on (the TCP connect seen done, the
    // TLS handshake only begun), the next step is given back, once, the time the loop was late.
    const timedOut = () => {
      const at = phase;
      const late = performance.now() - started - timeout;
      setImmediate(() => {
        if (settled) return;
        if (phase !== at && given === 0 && late >= 1) {
          given = Math.min(Math.ceil(late), timeout);
          timer = setTimeout(timedOut, given);
          return;
        }
        const type = phase === 'dns' ? 'dns_timeout' : 'connection_timeout';
        const what = phase === 'dns' ? 'name lookup' : phase === 'tls' ? 'TLS handshake' : 'TCP connect';
        const back =
          given === 0 ? '' : ` (and ${given} ms more, which the gateway's own lag had taken from it)`;
        finish(new Failure(type, `${what} not done after ${timeout} ms${back}`));
      });
    };
    let given = 0; // ms given back for the gateway's lag (once)
    let timer = setTimeout(timedOut, timeout);

    return socket;
  };
}
