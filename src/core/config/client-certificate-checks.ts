/**
 * Checks of client certificates (mutual TLS) that span fields or read files: a revocation list
 * OpenSSL can load, a listener that takes them forwarded from a proxy it can trust, a route that
 * requires a certificate reachable on a listener that asks for one (or takes one forwarded), and
 * a route that checks certificate-bound tokens reachable on one too.
 */

import { createSecureContext } from 'node:tls';
import { crlsIn } from '../tls/crl-list.ts';
import { type ListenerFact, routeListeners } from './listener-checks.ts';
import { itemsOf, mappingAt, stringAt } from './raw-access.ts';
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
    // Each list of the file, as the listener and the upstreams load them (crl-list.ts).
    createSecureContext({ crl: crlsIn(text) });
    return undefined;
  } catch (error) {
    return `cannot be read as a revocation list: ${(error as Error).message}`;
  }
}

/**
 * `listen[].client_certificates_from: forwarded` where it can take nothing, or where it would say
 * the opposite of the listener's own `tls.client_certificates`: with no `trust_forwarded_from`
 * every request's certificate would be none, and with the listener asking clients for one in
 * their handshakes there would be two certificates for one request, and no rule for which is
 * the client's.
 */
export function checkForwardedCertificates(listen: unknown, trusted: boolean, report: Report): void {
  for (const [index, listener] of itemsOf(listen)) {
    if (stringAt(listener, 'client_certificates_from') !== 'forwarded') continue;
    const field = ['listen', index, 'client_certificates_from'];
    if (!trusted)
      report(
        field,
        'forwarded, but trust_forwarded_from lists no proxy to take a Client-Cert from, so no request would have a certificate: list the TLS terminator in front in trust_forwarded_from',
      );
    if (mappingAt(mappingAt(listener, 'tls'), 'client_certificates') !== undefined)
      report(
        field,
        "forwarded, but this listener asks clients for certificates in its own handshakes too (tls.client_certificates): a request's certificate is either the handshake's or the proxy's, so remove one of them",
      );
  }
}

/**
 * A route with `auth.client_certificate` on a gateway none of whose listeners asks for a
 * certificate, or reached (by its `match.listener`, `match.scheme`) only on listeners that ask for
 * none, would refuse every request (403): a mistake to say at load, not at the first request. (A
 * route reachable on some listeners that ask and some that do not is fine: the others' requests
 * get the 403, which says why.)
 */
export function checkClientCertificateRoutes(
  listen: unknown,
  routes: unknown,
  listeners: readonly ListenerFact[],
  report: Report,
): void {
  const asks = askingListeners(listen);
  const asked = itemsOf(listen).some(([index]) => asks({ index }));
  for (const [index, route] of itemsOf(routes)) {
    if (mappingAt(mappingAt(route, 'auth'), 'client_certificate') === undefined) continue;
    const field = ['routes', index, 'auth', 'client_certificate'];
    if (!asked) {
      report(
        field,
        'no listener asks clients for a certificate, so every request would be refused: set listen[].tls.client_certificates (or client_certificates_from: forwarded behind a TLS terminator that checks them)',
      );
      continue;
    }
    const names = namesIfNoneAsks(route, index, listeners, asks);
    if (names !== undefined)
      report(
        field,
        `no listener this route is reached on (${names}) asks clients for a certificate, so every request would be refused: set listen[].tls.client_certificates on one of them (or client_certificates_from: forwarded behind a TLS terminator that checks them)`,
      );
  }
}

/**
 * Whether a listener (by its index in `listen`) asks clients for a certificate, in its handshakes
 * or through the proxy in front (`client_certificates_from: forwarded`).
 */
function askingListeners(listen: unknown): (listener: { readonly index: number }) => boolean {
  const raw = new Map(itemsOf(listen));
  return (listener) => {
    const written = raw.get(listener.index);
    return (
      mappingAt(mappingAt(written, 'tls'), 'client_certificates') !== undefined ||
      stringAt(written, 'client_certificates_from') === 'forwarded'
    );
  };
}

/**
 * The names of the listeners the route is reached on, when there are some and none of them asks
 * for a certificate; else undefined. Names and schemes that match no listener are
 * routeListeners' problems, told by checkRoutes.
 */
function namesIfNoneAsks(
  route: Record<string, unknown>,
  index: number,
  listeners: readonly ListenerFact[],
  asks: (listener: ListenerFact) => boolean,
): string | undefined {
  const reachable = routeListeners(
    route,
    (...path) => ['routes', index, ...path],
    listeners,
    () => {},
  );
  if (reachable.length === 0 || reachable.some(asks)) return undefined;
  return [...new Set(reachable.map((listener) => listener.name))].join(', ');
}

/** What a route's written `bound_tokens` refuses where no certificate can be had, and the way out. */
const UNBOUND_OUTCOME = {
  require:
    'every token is refused (401 invalid_token); set client_certificates on one of them, or bound_tokens: check',
  check:
    'every token bound to one (cnf x5t#S256) is refused (401 invalid_token); set client_certificates on one of them, or bound_tokens: ignore where a proxy in front checks the binding',
} as const;

/**
 * A route whose `auth.jwt.bound_tokens` is written `require` or `check` where no listener it can
 * be reached on asks for a client certificate: a bound token (RFC 8705 §3) needs the certificate
 * it names, verified by the listener, so every one is refused, and under `require` every token.
 * A warning, not a problem: a listener may be given its `client_certificates` later, and until
 * then the 401 says why. The default `check`, written nowhere, is not told: a gateway without
 * mutual TLS whose tokens are not bound has nothing to change.
 */
export function warnBoundTokenRoutes(
  listen: unknown,
  routes: unknown,
  listeners: readonly ListenerFact[],
  warn: Report,
): void {
  const asks = askingListeners(listen);
  for (const [index, route] of itemsOf(routes)) {
    const mode = stringAt(mappingAt(mappingAt(route, 'auth'), 'jwt'), 'bound_tokens');
    if (mode !== 'require' && mode !== 'check') continue;
    const names = namesIfNoneAsks(route, index, listeners, asks);
    if (names === undefined) continue;
    warn(
      ['routes', index, 'auth', 'jwt', 'bound_tokens'],
      `${mode}, but no listener this route is reached on (${names}) asks clients for a certificate (listen[].tls.client_certificates, or client_certificates_from: forwarded): ${UNBOUND_OUTCOME[mode]}`,
    );
  }
}
