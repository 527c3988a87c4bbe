import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether an Authorization header carries the admin token: "Bearer <token>". Both sides are
 * hashed before the constant-time comparison, so neither the token's content nor its length
 * leaks through timing.
 */
export function bearerMatches(authorization: string | undefined, token: string): 'ok' | 'missing' | 'wrong' {
  if (authorization === undefined || authorization === '') return 'missing';
  const match = /^Bearer +(\S+) *$/i.exec(authorization);
  if (!match) return 'wrong';
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(match[1]), digest(token)) ? 'ok' : 'wrong';
}
