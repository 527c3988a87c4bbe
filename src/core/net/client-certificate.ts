/**
 * The certificate a client presented in its connection's TLS handshake, as the listener that
 * asked for it (`listen[].tls.client_certificates`) judged it: a fact of the connection, kept
 * on its socket (as accepted-at.ts keeps its accept time) and read into every request's head.
 */
import type { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';

/** OpenSSL's word for a client that sent no certificate (Node says UNABLE_TO_GET_ISSUER_CERT for it). */
export const NO_CERTIFICATE = 'NO_CERTIFICATE';

export interface ClientCertificate {
  /** What the client sent; undefined: nothing. */
  readonly certificate: X509Certificate | undefined;
  /**
   * Undefined: verified by OpenSSL against the listener's CAs and revocation lists. Else why not,
   * in OpenSSL's words (CERT_HAS_EXPIRED, CERT_REVOKED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, …), or
   * NO_CERTIFICATE.
   */
  readonly refused: string | undefined;
  /**
   * The certificates of the listener's CA file that issued it, its issuer first, up to the root
   * (RFC 9440's Client-Cert-Chain); empty for a certificate not verified.
   */
  readonly chain: readonly X509Certificate[];
  /**
   * What a proxy in `trust_forwarded_from` sent in Client-Cert (or Client-Cert-Chain) that could
   * not be read, in the words of the 400 the accept phase answers it with; absent for every other
   * (proxy/accept/forwarded-certificate.ts).
   */
  readonly unreadable?: string;
}

const CLIENT_CERTIFICATE = Symbol('candor.clientCertificate');

interface Marked {
  [CLIENT_CERTIFICATE]?: ClientCertificate;
}

/** Records the judged certificate on the connection's (TLS) socket, once its handshake is done. */
export function markClientCertificate(socket: Socket, certificate: ClientCertificate): void {
  (socket as Marked)[CLIENT_CERTIFICATE] = certificate;
}

/**
 * The certificate judged for this connection; undefined on a connection whose listener asks
 * for none (a plain one, a TLS one without `client_certificates`).
 */
export function clientCertificateOf(socket: Socket | undefined): ClientCertificate | undefined {
  return socket === undefined ? undefined : (socket as Marked)[CLIENT_CERTIFICATE];
}
