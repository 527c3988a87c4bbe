/**
 * Two OpenID Connect routes of different sign-ins (issuer or client_id) that keep their
 * sessions under one cookie name on a host both may serve: the cookie is the host's (Path=/, no
 * Domain: session-cookie.ts), a browser holds one of a name, and each route refuses a session
 * the other made (it was signed in elsewhere), so a user going between them signs in again each
 * time, each sign-in pushing out the other's session. Told by `candor check` (warnings.ts).
 */
import type { OidcAuthConfig } from './access-config.ts';
import type { RouteConfig } from './route-config.ts';
import type { PathSegment } from './schema.ts';

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
