/**
 * Two OpenID Connect routes of different sign-ins (issuer or client_id) that keep their
 * sessions under one cookie name on a host both may serve: the cookie is the host's (Path=/, no
 * Domain: session-cookie.ts), a browser holds one of a name, and each route refuses a session
 * the other made (it was signed in elsewhere), so a user going between them signs in again each
 * time, each sign-in pushing out the other's session. Told by `candor check` (warnings.ts).
 */
import type { OidcAuthConfig } from './access-config.ts';
import { plainListenerOf } from './plain-listener.ts';
import type { RouteConfig } from './route-config.ts';
import type { PathSegment } from './schema.ts';
import type { GatewayConfig } from './types.ts';

/** The cookie-name prefixes a browser keeps only from a secure origin, set with Secure (RFC 6265bis §4.1.3, matched case-insensitively). */
const SECURE_ONLY = /^__(host|secure)-/i;

interface OidcRoute {
  readonly index: number;
  readonly route: RouteConfig;
  readonly oidc: OidcAuthConfig;
}

/** A warning on the later route of each such pair, at its cookie.name, naming the earlier one. */
export function sharedSessionCookies(
  routes: readonly RouteConfig[],
): { path: readonly PathSegment[]; message: string }[] {
  const signing: OidcRoute[] = [];
  for (const [index, route] of routes.entries()) {
    const oidc = route.access?.auth?.oidc;
    if (oidc !== undefined) signing.push({ index, route, oidc });
  }
  const warnings: { path: readonly PathSegment[]; message: string }[] = [];
  for (const [at, later] of signing.entries()) {
    const earlier = signing
      .slice(0, at)
      .find(
        (one) =>
          one.oidc.cookieName === later.oidc.cookieName &&
          otherSignIn(one.oidc, later.oidc) !== undefined &&
          mayShareHost(one.route.host, later.route.host),
      );
    if (earlier === undefined) continue;
    warnings.push({
      path: ['routes', later.index, 'auth', 'oidc', 'cookie', 'name'],
      message: `"${later.oidc.cookieName}", the session cookie of route ${earlier.route.name} too, on a host both may serve, for another sign-in (${otherSignIn(earlier.oidc, later.oidc)}): a browser keeps one cookie of that name for a host, so a session one route made is refused by the other, and a user going between them signs in again each time; give each route its own cookie.name`,
    });
  }
  return warnings;
}

/** How `later`'s sign-in differs from `earlier`'s ("client_id b, not a"), or undefined: the same one. */
function otherSignIn(earlier: OidcAuthConfig, later: OidcAuthConfig): string | undefined {
  if (earlier.issuer !== later.issuer) return `issuer ${later.issuer}, not ${earlier.issuer}`;
  if (earlier.clientId !== later.clientId) return `client_id ${later.clientId}, not ${earlier.clientId}`;
  return undefined;
}

/** Whether one browser host may be served by both (no host: any; "*.example.com": its subdomains). */
function mayShareHost(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || a === b) return true;
  const under = (wild: string, host: string) => wild.startsWith('*.') && host.endsWith(wild.slice(1));
  return under(a, b) || under(b, a);
}

/**
 * A session cookie named `__Host-…` or `__Secure-…` on a route that answers over plain http: the
 * gateway sets Secure only on answers over TLS (session-cookie.ts), so there a browser keeps
 * neither the flow cookie nor the session, and no sign-in can finish.
 */
export function plainPrefixedCookie(
  config: GatewayConfig,
  route: RouteConfig,
  index: number,
): { path: readonly PathSegment[]; message: string } | undefined {
  const name = route.access?.auth?.oidc?.cookieName;
  if (name === undefined || !SECURE_ONLY.test(name)) return undefined;
  const plain = plainListenerOf(config, route);
  if (plain === undefined) return undefined;
  return {
    path: ['routes', index, 'auth', 'oidc', 'cookie', 'name'],
    message: `"${name}" is kept by a browser only when set with Secure (RFC 6265bis §4.1.3), which the gateway sets only on answers over TLS, and this route answers over plain http too (listener '${plain}'): there no sign-in can finish (its flow cookie is never kept); bind the route to the TLS listener (match.scheme: https, or match.listener), or, with a TLS terminator in front of this listener, say so (trust_forwarded_from, or the listener's proxy_protocol)`,
  };
}
