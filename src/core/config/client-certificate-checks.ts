/**
 * Checks of client certificates (mutual TLS) that span fields or read files: a revocation list
 * OpenSSL can load, and a route that requires a certificate reachable on a listener that asks
 * for one.
 */

import { createSecureContext } from 'node:tls';
import { itemsOf, mappingAt } from './raw-access.ts';
import type { Report } from './report.ts';

/**
 * Why a CRL file's text cannot serve, or undefined: OpenSSL loads it (a PEM X509 CRL whose
 * blocks parse). Its signature and its next update are judged at each handshake: a CRL past its
 * next update refuses every certificate it covers (CRL_HAS_EXPIRED), as OpenSSL means it to.
 */
export function crlProblem(text: string): string | undefined {
  if (!text.includes('-----BEGIN X509 CRL-----'))
    return 'holds no PEM revocation list (-----BEGIN X509 CRL-----)';
  try {
    createSecureContext({ crl: text });
    return undefined;
  } catch (error) {
    return `cannot be read as a revocation list: ${(error as Error).message}`;
  }
}

/**
 * A route with `auth.client_certificate` on a gateway none of whose listeners asks for a
 * certificate would refuse every request (403): a mistake to say at load, not at the first
 * request. (A route reachable on some listeners that ask and some that do not is fine: the
 * others' requests get the 403, which says why.)
 */
export function checkClientCertificateRoutes(listen: unknown, routes: unknown, report: Report): void {
  const asked = itemsOf(listen).some(
    ([, listener]) => mappingAt(mappingAt(listener, 'tls'), 'client_certificates') !== undefined,
  );
  if (asked) return;
  for (const [index, route] of itemsOf(routes))
    if (mappingAt(mappingAt(route, 'auth'), 'client_certificate') !== undefined)
      report(
        ['routes', index, 'auth', 'client_certificate'],
        'no listener asks clients for a certificate, so every request would be refused: set listen[].tls.client_certificates',
      );
}
