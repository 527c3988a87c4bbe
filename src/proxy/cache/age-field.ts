import type CachePolicy from 'http-cache-semantics';
import { trimOws } from '../../core/ows.ts';

/**
 * The fields with an Age the store can count from (RFC 9111 §5.1: delta-seconds, one value):
 * the first of several, none when it is no number of seconds. The library took `Age: -5` as
 * -5: the hit went out with `Age: -5`, fresh 5 s longer than the upstream's max-age said.
 */
export function withReadableAge(headers: CachePolicy.Headers): CachePolicy.Headers {
  const age = headers.age;
  if (age === undefined) return headers;
  const first = trimOws(String(age).split(',')[0]);
  if (first === age && /^\d+$/.test(first)) return headers;
  const out: CachePolicy.Headers = Object.assign(Object.create(null), headers);
  if (/^\d+$/.test(first)) out.age = first;
  else delete out.age;
  return out;
}
