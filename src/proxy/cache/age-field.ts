import type CachePolicy from 'http-cache-semantics';
import { trimOws } from '../../core/ows.ts';

/** delta-seconds (RFC 9111 §1.2.2): digits, nothing else. */
const DELTA_SECONDS = /^\d+$/;

/**
 * The fields with an Age the store can count from (RFC 9111 §5.1: delta-seconds, one value):
 * the first of several. One whose first value is no number of seconds (`-5`, `soon`) stays as
 * it came: it says nothing of how old the answer is, and the answer is stale (§5.1: a cache
 * "SHOULD consider the response to be stale"; freshness.ts reads it so, unreadableAge), never
 * fresh for its whole max-age, nor, as the library took `-5`, for 5 s longer than it says.
 */
export function withReadableAge(headers: CachePolicy.Headers): CachePolicy.Headers {
  const age = headers.age;
  if (age === undefined) return headers;
  const first = trimOws(String(age).split(',')[0]);
  if (first === age || !DELTA_SECONDS.test(first)) return headers;
  const out: CachePolicy.Headers = Object.assign(Object.create(null), headers);
  out.age = first;
  return out;
}

/** The stored fields have an Age that is no number of seconds (withReadableAge left it as it came). */
export function unreadableAge(headers: CachePolicy.Headers): boolean {
  const age = headers.age;
  return age !== undefined && !DELTA_SECONDS.test(String(age));
}
