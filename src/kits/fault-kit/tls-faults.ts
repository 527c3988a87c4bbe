/**
 * The TLS family: healthy HTTPS, certificates the gateway must reject, handshakes that end in an
 * alert, and the two scheme mix-ups (TLS where plain HTTP is expected, and the reverse).
 * Certificates come from `testCertificates()`; give the gateway `caPath` to trust.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { type SecureVersion, TLSSocket } from 'node:tls';
import { type Fault, FaultRecorder, listenLoopback } from './fault.ts';
import { type EchoServerOptions, serveEcho } from './http-servers.ts';
import { RequestStreamParser } from './request-parser.ts';
import { type TestCertificates, testCertificates } from './tls-certs.ts';

export interface TlsFault extends Fault {
  /** The CA (PEM) that signed the kit's certificates, and its path, for the gateway's `tls.ca`. */
  readonly ca: string;
  readonly caPath: string;
  readonly certificates: TestCertificates;
  /** Handshake errors the server saw (Node's 'tlsClientError'), e.g. a missing client certificate. */
  readonly tlsErrors: readonly Error[];
}

type ServerCertificate = 'localhost' | 'expired' | 'wrong-host' | 'self-signed';

interface HttpsOptions {
  /** Which certificate the server presents (default `localhost`, signed by the kit's CA). */
  certificate?: ServerCertificate;
  /** Require a client certificate signed by the kit's CA (the handshake fails without one). */
  requireClientCertificate?: boolean;
  /** Cap the TLS version, e.g. 'TLSv1.2' to make a client-certificate failure happen inside the handshake. */
  maxVersion?: SecureVersion;
  /** Options of the echo server behind TLS. */
  echo?: EchoServerOptions;
  /** The URL's scheme (default https); `http` makes the tls-on-plain-port fault. */
  scheme?: 'https' | 'http';
  /** Milliseconds the handshake waits after the ClientHello arrives: a slow connect (a far or loaded server). */
  handshakeDelayMs?: number;
}

function certificateFor(certificates: TestCertificates, which: ServerCertificate) {
  switch (which) {
    case 'expired':
      return certificates.expired;
    case 'wrong-host':
      return certificates.wrongHost;
    case 'self-signed':
      return certificates.selfSigned;
    default:
      return certificates.localhost;
  }
}

/**
 * Healthy upstream over TLS: the echo server (see `startEcho` for its query parameters) on
 * node:https with a certificate for localhost / 127.0.0.1 signed by the kit's CA.
 */
export async function startHttpsEcho(options: HttpsOptions = {}): Promise<TlsFault> {
  const certificates = testCertificates();
  const { cert, key } = certificateFor(certificates, options.certificate ?? 'localhost');
  const recorder = new FaultRecorder();
  const tlsErrors: Error[] = [];
  const requireClient = options.requireClientCertificate ?? false;
  const https = createHttpsServer({
    cert,
    key,
    // Only to check client certificates: Node would also send a `ca` in the chain, and a server
    // normally sends its leaf alone (an untrusted CA then reads UNABLE_TO_VERIFY_LEAF_SIGNATURE).
    ca: requireClient ? [certificates.ca] : undefined,
    requestCert: requireClient,
    rejectUnauthorized: requireClient,
    maxVersion: options.maxVersion,
  });
  serveEcho(https, recorder, options.echo);
  https.on('secureConnection', (socket) => recorder.destroyOnClose(socket));
  https.on('tlsClientError', (error) => {
    tlsErrors.push(error);
    recorder.changed();
  });
  // A plain TCP listener in front records the first bytes (a ClientHello, or plaintext) before
  // handing the socket to the TLS server.
  const front = createNetServer((socket) => {
    const record = recorder.track(socket);
    socket.once('data', (chunk: Buffer) => {
      record.captureBytes(chunk);
      socket.pause();
      socket.unshift(chunk);
      const delay = options.handshakeDelayMs ?? 0;
      if (delay === 0) https.emit('connection', socket);
      else setTimeout(() => socket.destroyed || https.emit('connection', socket), delay);
    });
  });
  recorder.adopt(front);
  recorder.adopt(https);
  const port = await listenLoopback(front);
  const scheme = options.scheme ?? 'https';
  return recorder.handle(`${scheme}://127.0.0.1:${port}`, port, {
    ca: certificates.ca,
    caPath: certificates.caPath,
    certificates,
    tlsErrors,
  });
}

/** unreachable / tls_certificate_error: a certificate that expired in 2020 (CERT_HAS_EXPIRED). */
export function startExpiredCertificate(): Promise<TlsFault> {
  return startHttpsEcho({ certificate: 'expired' });
}

/** unreachable / tls_certificate_error: a CA-signed certificate for other.example only (ERR_TLS_CERT_ALTNAME_INVALID). */
export function startWrongHostCertificate(): Promise<TlsFault> {
  return startHttpsEcho({ certificate: 'wrong-host' });
}

/** unreachable / tls_certificate_error: a self-signed certificate no CA vouches for (DEPTH_ZERO_SELF_SIGNED_CERT). */
export function startSelfSignedCertificate(): Promise<TlsFault> {
  return startHttpsEcho({ certificate: 'self-signed' });
}

/**
 * unreachable / tls_alert_received: the server requires a client certificate and ends the
 * handshake with an alert when none comes. Under TLS 1.3 (the default) the client finishes its
 * side of the handshake first, so it may already have written the request when the alert
 * arrives; `maxVersion: 'TLSv1.2'` makes the alert arrive inside the handshake.
 * `certificates.client` is a certificate the server accepts.
 */
export function startClientCertificateRequired(
  options: { maxVersion?: SecureVersion } = {},
): Promise<TlsFault> {
  return startHttpsEcho({ requireClientCertificate: true, maxVersion: options.maxVersion });
}

/**
 * TLS on a port the gateway reaches with http://: its plaintext request meets a TLS server,
 * which answers with an alert record or closes. Seen by an HTTP client as garbage /
 * http_protocol_error or as connection_terminated; `received` stays empty and
 * `connectionLog[i].firstBytes` holds the plaintext request.
 */
export function startTlsOnPlainPort(): Promise<TlsFault> {
  return startHttpsEcho({ scheme: 'http' });
}

/**
 * unreachable / tls_protocol_error: a plain HTTP server at an https:// URL. The ClientHello
 * gets Node's `400 Bad Request`, which the client's TLS stack cannot parse as a record;
 * `connectionLog[i].firstBytes` holds the ClientHello (0x16 0x03...).
 */
export async function startPlainOnTlsPort(): Promise<Fault> {
  const recorder = new FaultRecorder();
  const server = createHttpServer();
  serveEcho(server, recorder);
  server.on('connection', (socket) => recorder.track(socket));
  recorder.adopt(server);
  const port = await listenLoopback(server);
  return recorder.handle(`https://127.0.0.1:${port}`, port);
}

/**
 * unreachable / connection_timeout: an https:// URL whose server accepts the TCP connection,
 * reads the ClientHello and never answers it, so the handshake hangs until the client's connect
 * timeout. `connectionLog[i].firstBytes` holds the ClientHello; `received` stays empty.
 */
export async function startTlsHandshakeStall(): Promise<Fault> {
  const recorder = new FaultRecorder();
  const server = createNetServer((socket) => {
    const record = recorder.track(socket);
    socket.on('data', (chunk: Buffer) => record.captureBytes(chunk));
  });
  recorder.adopt(server);
  const port = await listenLoopback(server);
  return recorder.handle(`https://127.0.0.1:${port}`, port);
}

/**
 * garbage over TLS: a TLS server (the kit's localhost certificate) that, once a whole request
 * came, writes bytes that are no TLS record on the TCP connection under the TLS session and
 * keeps it open: at once (`before: 'head'`), or after a response head of Content-Length 100
 * and 10 bytes of its body (`before: 'body'`). The client's TLS layer refuses the record
 * (ERR_SSL_…); no close follows unless the client closes.
 */
export async function startTlsRecordGarbage(options: { before?: 'head' | 'body' } = {}): Promise<TlsFault> {
  const certificates = testCertificates();
  const recorder = new FaultRecorder();
  const tlsErrors: Error[] = [];
  const server = createNetServer((socket) => {
    const record = recorder.track(socket);
    socket.on('data', (chunk: Buffer) => record.captureBytes(chunk));
    const secure = new TLSSocket(socket, { isServer: true, ...certificates.localhost });
    recorder.destroyOnClose(secure);
    secure.on('error', (error) => tlsErrors.push(error));
    const parser = new RequestStreamParser((head) => {
      const request = recorder.addRequest({ ...head, connection: record.index });
      recorder
        .waitFor(() => (request.bodyComplete ? request : undefined), 'the request body')
        .then(garble, () => socket.destroy());
      return request;
    });
    const garble = () => {
      if (options.before !== 'body') return void socket.write('this is not a TLS record\r\n\r\n');
      secure.write(`HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n${'a'.repeat(10)}`, () =>
        setTimeout(() => socket.write('this is not a TLS record\r\n\r\n'), 20),
      );
    };
    secure.on('data', (chunk: Buffer) => parser.push(chunk));
  });
  recorder.adopt(server);
  const port = await listenLoopback(server);
  return recorder.handle(`https://127.0.0.1:${port}`, port, {
    ca: certificates.ca,
    caPath: certificates.caPath,
    certificates,
    tlsErrors,
  });
}
