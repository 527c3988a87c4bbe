import { keyAuthority } from './key-authority.ts';

/**
 * A stored answer's key: the target URI as the upstream is told it (RFC 9111 §4): host (in its
 * normal form: keyAuthority), path and query, then the scheme (the upstream's answer may depend on it: a redirect of http to
 * https, stored, would loop for https clients), then, on a route split between upstreams (a
 * canary), the side drawn: one side's answer never answers the other's requests (a canary's
 * page would reach every user, not its share). Before the side, what a trusted proxy told the
 * upstream of the client's host, port and prefix (`forwarded`: forwarded-key.ts), which the
 * upstream builds its links from. Purges match its start, `host /path?query`.
 */
export function cacheKey(
  authority: string,
  path: string,
  scheme: string,
  side?: string,
  forwarded = '',
): string {
  const key = `${keyAuthority(authority, scheme)} ${path} ${scheme}${forwarded === '' ? '' : ` ${forwarded}`}`;
  return side === undefined ? key : `${key} ${side}`;
}
