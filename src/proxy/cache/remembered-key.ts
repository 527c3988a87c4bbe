import { createHash } from 'node:crypto';

/** Keys longer than this are remembered by their digest. */
const LONGEST_KEPT = 128;

/**
 * A key as a table that only looks keys up (never lists them) remembers it: itself, or past
 * LONGEST_KEPT characters its SHA-256 (`#` and 43 characters of base64url: no key is spelled so,
 * every key holds a space after its host, cache-key.ts). A key is as long as the request's target
 * (up to `limits.uri_length`, 8 KiB by default), and the keys remembered are a client's to choose:
 * the 16,384 invalidations a route remembers (answer-cache.ts) held some 50 MiB of a worker's heap
 * after POSTs to long URLs, beside a `max_size` of 8 MiB that counted none of it.
 */
export function rememberedKey(key: string): string {
  return key.length <= LONGEST_KEPT ? key : `#${createHash('sha256').update(key).digest('base64url')}`;
}
