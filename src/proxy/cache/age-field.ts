import CachePolicy from 'http-cache-semantics';
import { trimOws } from '../../core/ows.ts';
import { fieldDate } from './field-dates.ts';

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

/**
 * The policy with its age as RFC 9111 §4.2.3 counts it: corrected_initial_age =
 * max(apparent_age, corrected_age_value), where apparent_age = max(0, response_time - date_value)
 * (the origin's Date: an answer it says it made 100 s ago is that old on arrival) and
 * corrected_age_value = age_value + response_delay (an answer an upstream took its time over is
 * that much older: `Age: 9, max-age=10` after two seconds is stale). The library counts age as
 * the Age field plus the time since `t` (when the answer came), Date left out: `t` is moved back
 * by what the corrected initial age adds to the Age, the fields (what goes out) stay as they came.
 * A Date missing or unreadable, or in the future, adds nothing; `askedAt` 0 (unknown), no delay.
 * Date counts from the end of the second it names (its resolution): below a second, nothing.
 */
export function agedFromAsking(policy: CachePolicy, askedAt = 0): CachePolicy {
  const stored = policy.toObject();
  const came = stored.t;
  const delay = askedAt > 0 && askedAt < came ? came - askedAt : 0;
  // An HTTP-date alone (field-dates.ts): `Date: 2026`, which Date.parse reads, made an answer months old.
  const dated = fieldDate(stored.resh.date);
  // An HTTP-date names a whole second (RFC 9110 §5.6.7): the answer was made within it, so the
  // apparent age counts from its end. From its start, the truncation alone made a just-made answer
  // up to a second old (`Age: 1`, a ttl one short) on every hit of a well-clocked origin.
  const apparent = Number.isNaN(dated) ? 0 : Math.max(0, came - (dated + 1000));
  // An Age that is no number of seconds counts as none here: freshness.ts makes the answer stale.
  const ageValue = unreadableAge(stored.resh) ? 0 : Number(stored.resh.age ?? 0) * 1000;
  const added = Math.max(delay, apparent - ageValue);
  if (added <= 0) return policy;
  // One without Date still has the time it came as its Date (RFC 9110 §6.6.1), not the moved `t`.
  const resh = stored.resh.date === undefined ? withDate(stored.resh, came) : stored.resh;
  return CachePolicy.fromObject({ ...stored, resh, t: came - added });
}

/** The fields with this time (ms since the epoch) as their Date; no prototype, as headersOf's. */
export function withDate(headers: CachePolicy.Headers, time: number): CachePolicy.Headers {
  return Object.assign(Object.create(null), headers, { date: new Date(time).toUTCString() });
}
