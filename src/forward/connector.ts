import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import type { buildConnector } from 'undici';
import { type ConnectPhase, classifyConnectError } from '../failure/classify.ts';
import { Failure } from '../failure/failure.ts';

export interface ConnectorOptions {
  /** DNS + TCP + TLS, in milliseconds. */
  readonly timeout: number;
  readonly ca?: string | Buffer;
  readonly servername?: string;
  readonly rejectUnauthorized: boolean;
}

/** Facts about an upstream socket that undici does not keep: how long it took to open. */
export const kConnectMs = Symbol('candor.connectMs');

/**
 * Whether an ECONNRESET is being delivered right now, and on which socket.
 *
 * undici reports a close-delimited response that ends in a TCP reset as complete (it
 * treats the reset as the end of the body). A reset is not a clean end: the body may be
 * cut short. Our 'error' listener is registered before undici's, so it runs first and
 * marks the socket; undici then completes the response synchronously inside the same
 * emit, and the exchange reads the mark in onResponseEnd. The mark is cleared once the
 * emit is over.
 */
let resettingSocket: net.Socket | null = null;

export function isResetInProgress(): boolean {
  return resettingSocket !== null;
}

function markReset(this: net.Socket, err: NodeJS.ErrnoException): void {
  if (err.code !== 'ECONNRESET') return;
  resettingSocket = this;
  queueMicrotask(clearReset);
}

function clearReset(): void {
  resettingSocket = null;
}

/**
 * undici's connector, rewritten so that every way a connection can fail is classified
 * here, where the phase (DNS, TCP, TLS) is known, instead of guessed later from a message.
 */
export function createConnector(options: ConnectorOptions): buildConnector.connector {
  const sessions = new Map<string, Buffer>();
  return function connect({ hostname, protocol, port }, callback) {
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
        (socket as unknown as Record<symbol, number>)[kConnectMs] = performance.now() - started;
        callback(null, socket);
      }
    };

    const lookup: net.LookupFunction = (host, lookupOptions, cb) => {
      dns.lookup(host, lookupOptions, (err, address, family) => {
        if (err) return finish(classifyConnectError(err, 'dns', performance.now() - started));
        phase = 'tcp';
        (cb as (e: null, a: typeof address, f?: number) => void)(null, address, family);
      });
    };

    let socket: net.Socket;
    if (https) {
      // Never the servername undici offers: it comes from the client's Host header, and a
      // client must not choose the name the upstream's certificate is checked against.
      const name = options.servername ?? (net.isIP(hostname) ? undefined : hostname);
      const sessionKey = `${name ?? hostname}:${portNumber}`;
      socket = tls.connect({
        host: hostname,
        port: portNumber,
        servername: name,
        lookup,
        ca: options.ca,
        rejectUnauthorized: options.rejectUnauthorized,
        ALPNProtocols: ['http/1.1'],
        session: sessions.get(sessionKey),
      });
      socket.once('connect', () => {
        phase = 'tls';
      });
      socket.on('session', (session: Buffer) => {
        sessions.set(sessionKey, session);
      });
      socket.once('secureConnect', () => finish(null));
    } else {
      socket = net.connect({ host: hostname, port: portNumber, lookup });
      socket.once('connect', () => finish(null));
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.on('error', markReset);
    socket.on('error', (err) => finish(classifyConnectError(err, phase, performance.now() - started)));

    const timer = setTimeout(() => {
      const type = phase === 'dns' ? 'dns_timeout' : 'connection_timeout';
      const what = phase === 'dns' ? 'name lookup' : phase === 'tls' ? 'TLS handshake' : 'TCP connect';
      finish(new Failure(type, `${what} not done after ${options.timeout} ms`));
    }, options.timeout);

    return socket;
  };
}
