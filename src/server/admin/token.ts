import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether an Authorization header carries the admin token: "Bearer <token>". Both sides are
 * hashed before the constant-time comparison, so neither the token's content nor its length
 * leaks through timing.
 */
export function bearerMatches(authorization: string | undefined, token: string): 'ok' | 'missing' | 'wrong' {
  if (authorization === undefined || authorization === '') return 'missing';
  const presented = bearerTokenOf(authorization);
  if (presented === undefined) return 'wrong';
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(token)) ? 'ok' : 'wrong';
}

/** The token an Authorization header presents as "Bearer <token>" (RFC 6750 §2.1), or undefined. */
export function bearerTokenOf(authorization: string | undefined): string | undefined {
  return authorization === undefined ? undefined : /^Bearer +(\S+) *$/i.exec(authorization)?.[1];
}
