/** Checks of a route's OpenID Connect sign-in (`auth.oidc`) that the schema cannot make: its secrets there, its own paths the route's. */

import { itemsOf, mappingAt, stringAt } from './raw-access.ts';
import type { Report } from './report.ts';
import { type SecretPresence, secretAbsent } from './secrets.ts';

/** The least length of the cookie secret: shorter is a key that can be guessed. */
const MIN_COOKIE_SECRET = 32;

export function checkOidc(
  document: unknown,
  env: NodeJS.ProcessEnv,
  report: Report,
  secrets: SecretPresence = 'required',
): void {
  const root = document !== null && typeof document === 'object' ? (document as Record<string, unknown>) : {};
  for (const [index, route] of itemsOf(root.routes)) {
    const at = ['routes', index, 'auth', 'oidc'];
    const oidc = mappingAt(mappingAt(route, 'auth'), 'oidc');
    if (oidc === undefined) continue;
    const variable = (name: string | undefined, field: (string | number)[], least: number) => {
      if (name === undefined) return;
      if (secrets === 'may-be-absent' && secretAbsent({ env: name }, env)) return;
      const value = env[name] ?? '';
      if (value.trim() === '') report(field, `the variable ${name} is not set`);
      else if (value.length < least)
        report(
          field,
          `the variable ${name} holds ${value.length} characters: the session cookie's secret needs ${least} or more`,
        );
    };
    variable(stringAt(oidc, 'client_secret_env'), [...at, 'client_secret_env'], 1);
    variable(
      stringAt(mappingAt(oidc, 'cookie'), 'secret_env'),
      [...at, 'cookie', 'secret_env'],
      MIN_COOKIE_SECRET,
    );
    // As a JWKS URL's (access-checks.ts): fetch refuses one with credentials, so discovery could
    // never work, and GET /config would show the password.
    const issuer = URL.parse(stringAt(oidc, 'issuer') ?? '');
    if (issuer !== null && (issuer.username !== '' || issuer.password !== ''))
      report(
        [...at, 'issuer'],
        "a URL with credentials (user:password@) is one the Fetch standard refuses to fetch: the gateway could never read the provider's discovery document; give the issuer as its ID tokens name it, with none",
      );
    // The sign-in's own paths must reach this route: under its path prefix, and not one another.
    const prefix = stringAt(mappingAt(route, 'match'), 'path') ?? '/';
    const paths = ['redirect_path', 'logout_path'].map(
      (key) =>
        [
          key,
          stringAt(oidc, key) ?? (key === 'redirect_path' ? '/oauth2/callback' : '/oauth2/sign_out'),
        ] as const,
    );
    for (const [key, path] of paths)
      if (!under(path, prefix))
        report(
          [...at, key],
          `${path} is not under the route's path ${prefix}: the provider's answer would never reach this route`,
        );
    if (paths[0][1] === paths[1][1]) report([...at, 'logout_path'], 'the logout path is the redirect path');
  }
}

/** Whether `path` is one the route's prefix matches (the prefix itself, or below it at a segment). */
function under(path: string, prefix: string): boolean {
  if (prefix === '/' || path === prefix) return true;
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return path.startsWith(base);
}
