import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import type { ClientCertificatesConfig } from '../../core/config/types.ts';
import { type ClientCertificate, NO_CERTIFICATE } from '../../core/net/client-certificate.ts';
import { crlsIn } from '../../core/tls/crl-list.ts';

/**
 * A TLS listener's client certificates (`listen[].tls.client_certificates`), read from its files
 * once per config: OpenSSL verifies each handshake's certificate against the CAs and the
 * revocation lists carried by every secure context the listener serves (its default, its SNI
 * certificates, its ACME ones), and `judge` reads the verdict once a connection.
 */
export interface ClientCa {
  /** What every secure context of the listener carries besides its own pair. */
  readonly contextOptions: Readonly<tls.SecureContextOptions>;
  /** `require` refuses a connection without a good certificate in its handshake; `optional` lets it in. */
  readonly rejectUnauthorized: boolean;
  /** The certificate the connection's client presented, as OpenSSL judged it. */
  judge(socket: tls.TLSSocket): ClientCertificate;
  /** What it judges by (its mode, CAs and lists): equal for two that judge every certificate alike. */
  readonly judgesBy: string;
}

export function loadClientCa(config: ClientCertificatesConfig): ClientCa {
  const ca = readFileSync(config.ca, 'latin1');
  const crl = config.crl === undefined ? undefined : readFileSync(config.crl, 'latin1');
  const authorities = certificatesIn(ca);
  const judgesBy = createHash('sha256')
    .update(`${config.mode}\n${ca}\n${crl ?? ''}`)
    .digest('hex');
  return {
    judgesBy,
    contextOptions: {
      ca,
      // The file's lists (one from each CA of the chain) one string each: node:tls reads one a string.
      ...(crl === undefined ? {} : { crl: crlsIn(crl) }),
      // A session is resumed only where it was made under the same CAs and lists: a reload that
      // revokes a certificate, or trusts another CA, makes every client verify again (a
      // resumed session skips the verification it had).
      sessionIdContext: judgesBy.slice(0, 32),
    },
    rejectUnauthorized: config.mode === 'require',
    judge(socket) {
      const certificate = socket.getPeerX509Certificate();
      if (certificate === undefined) return { certificate, refused: NO_CERTIFICATE, chain: [] };
      if (!socket.authorized)
        return { certificate, refused: String(socket.authorizationError ?? 'UNVERIFIED'), chain: [] };
      const chain = issuersOf(certificate, authorities);
      // A resumed session carries the verdict of the handshake that made it, which OpenSSL does
      // not make again: a certificate that expired since (a session lives minutes, a short-lived
      // certificate as little) would pass on it. Its dates are read again at each connection.
      const stale = socket.isSessionReused() ? outOfDate([certificate, ...chain]) : undefined;
      if (stale !== undefined) return { certificate, refused: stale, chain: [] };
      return { certificate, refused: undefined, chain };
    },
  };
}

/** OpenSSL's word for the first of `certificates` not valid now (CERT_HAS_EXPIRED, CERT_NOT_YET_VALID), or undefined. */
function outOfDate(certificates: readonly X509Certificate[]): string | undefined {
  const now = Date.now();
  for (const certificate of certificates) {
    if (certificate.validToDate.getTime() < now) return 'CERT_HAS_EXPIRED';
    if (certificate.validFromDate.getTime() > now) return 'CERT_NOT_YET_VALID';
  }
  return undefined;
}

function certificatesIn(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

/**
 * The CA file's certificates that issued `leaf`, its issuer first, up to a self-signed root.
 * Read from the file, not the handshake: Node gives a server the client's own certificate and
 * not the intermediates it sent, so an intermediate only the client holds ends the chain there.
 */
function issuersOf(leaf: X509Certificate, authorities: readonly X509Certificate[]): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let current = leaf;
  // Bounded by the file: each authority comes once.
  while (chain.length < authorities.length) {
    const issuer = authorities.find(
      (ca) => !chain.includes(ca) && current.checkIssued(ca) && current.verify(ca.publicKey),
    );
    if (issuer === undefined || issuer === current) break;
    chain.push(issuer);
    if (issuer.checkIssued(issuer)) break;
    current = issuer;
  }
  return chain;
}
