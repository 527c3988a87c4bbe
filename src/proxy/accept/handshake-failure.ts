/**
 * Why a client's TLS handshake with a listener failed, in words an operator can act on: the
 * reason a metric counts and a log line names, and the detail OpenSSL (or Node) gave. Read from
 * the error node:tls reports a failed handshake with ('tlsClientError') and the TLS socket it
 * made, which is destroyed by then.
 */
import type { TLSSocket } from 'node:tls';
import { reportEverySecond } from '../../observe/log/report-every-second.ts';

export type HandshakeFailureReason =
  /** A listener that requires a client certificate got none (the client was sent the TLS alert). */
  | 'no_client_certificate'
  /** A certificate the listener's CAs do not vouch for (expired, revoked, another issuer…): closed after the handshake. */
  | 'client_certificate_refused'
  /** The client ended the handshake with an alert: most often it does not trust the gateway's certificate. */
  | 'client_alert'
  /**
   * No certificate to serve: the client sent no SNI, or a name no certificate carries, to a
   * listener without a default one (`tls.cert`: every certificate ordered by ACME).
   */
  | 'no_server_certificate'
  /** Nothing in common to speak: a TLS version, a cipher, an ALPN protocol; or bytes that are not TLS. */
  | 'protocol'
  /** A plain HTTP request sent to the TLS port (`http://` for `https://`). */
  | 'plain_http'
  /** No handshake within `limits.header_timeout`. */
  | 'timeout'
  /** The client closed or reset the connection before its handshake ended (a port scan, a TCP check). */
  | 'closed';

export interface HandshakeFailure {
  readonly reason: HandshakeFailureReason;
  /** OpenSSL's words (`unsupported protocol`, `tlsv1 alert unknown ca`) or its verdict on a certificate (`CERT_HAS_EXPIRED`). */
  readonly detail: string;
  /** The client's address, where the socket still knew it ('' once it was gone). */
  readonly client: string;
  /** The name the client asked for (SNI), when it got that far. */
  readonly servername: string | undefined;
}

/**
 * What OpenSSL names a plain HTTP request where a ClientHello belonged, by its first bytes: a
 * method it knows (GET, POST, PUT, …), or CONNECT (a client taking the gateway for a proxy).
 */
export const PLAIN_HTTP: ReadonlySet<string> = new Set([
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_HTTPS_PROXY_REQUEST',
]);
/** What a record that is no TLS may be: the operator's next look. */
const NOT_TLS =
  "the connection's first bytes are no TLS record: another protocol, or a load balancer's PROXY protocol header, which only a listener with listen[].proxy_protocol reads";
/** An alert the client sent: OpenSSL names it `sslv3 alert …`, `tlsv1 alert …`, `tlsv13 alert …`. */
const RECEIVED_ALERT = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_/;

/**
 * `client`: the connection's client as the listener knows it (a PROXY header's, behind a
 * balancer). `serves`: whether the listener has a certificate for a server name (server-tls.ts).
 */
export function handshakeFailureOf(
  err: Error,
  socket: TLSSocket,
  client: string,
  serves: (servername: string | undefined) => boolean,
): HandshakeFailure {
  const { code, reason } = err as NodeJS.ErrnoException & { reason?: string };
  const facts = { client, servername: socket.servername || undefined };
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE')
    return { reason: 'no_client_certificate', detail: reason ?? code, ...facts };
  // Node verifies a client's certificate after OpenSSL's handshake and, on a listener that
  // requires one, destroys the socket without an error of its own: what is left is the close
  // ("socket hang up") and the verdict it kept on the socket.
  if (socket.authorizationError)
    return { reason: 'client_certificate_refused', detail: String(socket.authorizationError), ...facts };
  if (code !== undefined && PLAIN_HTTP.has(code))
    return { reason: 'plain_http', detail: reason ?? code, ...facts };
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT')
    return { reason: 'timeout', detail: 'no handshake in time', ...facts };
  if (code !== undefined && RECEIVED_ALERT.test(code))
    return { reason: 'client_alert', detail: reason ?? code, ...facts };
  // Bytes that are no TLS record (and no HTTP method): most often a balancer's PROXY header sent
  // to a listener not set to read it, told by a plain listener's 400 but by OpenSSL's words alone
  // here. Before the certificate's turn: garbage is no missing certificate.
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER')
    return { reason: 'protocol', detail: `${reason ?? 'wrong version number'}: ${NOT_TLS}`, ...facts };
  // With no certificate OpenSSL fails the handshake in words of what it could not choose for
  // one ("no suitable signature algorithm", "no shared cipher"): the cause is the certificate.
  if (code?.startsWith('ERR_SSL_') && !serves(facts.servername))
    return { reason: 'no_server_certificate', detail: noCertificate(facts.servername), ...facts };
  if (code?.startsWith('ERR_SSL_')) return { reason: 'protocol', detail: reason ?? code, ...facts };
  return { reason: 'closed', detail: code ?? err.message, ...facts };
}

function noCertificate(servername: string | undefined): string {
  const nameless =
    servername === undefined
      ? 'the client sent no server name (SNI)'
      : `no certificate names ${servername} (none configured, none ordered)`;
  return `${nameless}, and the listener has no default certificate (tls.cert) to serve it`;
}

/**
 * `report` for each reason apart, at once for the first failure of a quiet spell and then at
 * most once a second with the last one and how many came since (report-every-second.ts): a
 * scanner's flood of bad handshakes is not a flood of lines, nor does it hide the one client
 * whose certificate was refused.
 */
export function reportHandshakeFailures(
  report: (failure: HandshakeFailure, count: number) => void,
): (failure: HandshakeFailure) => void {
  const byReason = new Map<HandshakeFailureReason, (failure: HandshakeFailure) => void>();
  return (failure) => {
    let reporter = byReason.get(failure.reason);
    if (reporter === undefined) {
      reporter = reportEverySecond(report);
      byReason.set(failure.reason, reporter);
    }
    reporter(failure);
  };
}
