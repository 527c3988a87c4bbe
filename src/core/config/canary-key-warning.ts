/**
 * A canary keyed by something its client writes (issue 56 item 2): `hash_key: header:NAME` or
 * `cookie:NAME` that no auth rule of the route wrote. A key counts one request a step in each
 * process (proxy/select/split.ts), but a client that writes its own key writes as many as it
 * likes: it learns which land on the canary and sends its failing requests there under a new
 * one each time (rolling back a canary as good as its baseline), or its good ones (diluting a
 * bad canary until it is promoted). Warned, not refused: keeping a user on one side is a fair
 * wish where the clients are trusted, or the key is the gateway's (claims_to_headers, copy_headers, identity_header).
 */
import type { RouteConfig } from './route-config.ts';
import type { PathSegment } from './schema.ts';

/** The warning for route `index` (warnings.ts's FieldWarning), or undefined when its key is not the client's to write. */
export function steerableCanaryKey(
  route: RouteConfig,
  index: number,
): { readonly path: readonly PathSegment[]; readonly message: string } | undefined {
  const key = route.hashKey;
  if (route.canary === undefined || key === undefined || key.kind === 'client') return undefined;
  const auth = route.access?.auth;
  if (key.kind === 'header') {
    const written = [
      ...(auth?.jwt?.claimsToHeaders.map((c) => c.header.toLowerCase()) ?? []),
      ...(auth?.oidc?.claimsToHeaders.map((c) => c.header.toLowerCase()) ?? []),
      ...(auth?.forward?.copyHeaders ?? []),
      ...(auth?.identityHeader === undefined ? [] : [auth.identityHeader]),
    ];
    if (written.includes(key.name)) return undefined;
  }
  const what = key.kind === 'header' ? `the ${key.name} header` : `the ${key.name} cookie`;
  return {
    path: ['routes', index, 'hash_key'],
    message: `${what} is written by the client: one that writes a new value at each request learns which land on the canary and sends its failing requests there only (rolling back a canary as good as its baseline), or its good ones (promoting a bad one); key the canary on what the gateway vouches for: a header the route's auth writes (claims_to_headers, copy_headers), or client`,
  };
}
