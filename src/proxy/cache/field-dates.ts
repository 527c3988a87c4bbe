import type CachePolicy from 'http-cache-semantics';
import { httpDate } from '../../core/http-date.ts';

/**
 * The dates a stored answer's freshness is read from (RFC 9111 §4.2): Expires, Date and
 * Last-Modified, each an HTTP-date (RFC 9110 §5.6.7) in any of its three forms. The library
 * reads them with Date.parse, which takes far more (`2050`, `… 02:01:18 UTC`, a missing comma,
 * a one-digit hour) and reads an RFC 850 date's two-digit year as a 1900s one.
 */

/** The names of a date in the case HTTP-date writes them (`THU` and `aug` name a day and a month too). */
function named(text: string): string {
  return text.replace(/[A-Za-z]+/g, (word) =>
    word.length === 3 && word.toUpperCase() === 'GMT'
      ? 'GMT'
      : word[0].toUpperCase() + word.slice(1).toLowerCase(),
  );
}

/** An HTTP-date field's value (ms since the epoch), its names in any case; NaN for anything else. */
export function fieldDate(value: CachePolicy.Headers[string]): number {
  if (typeof value !== 'string') return Number.NaN;
  return httpDate(named(value.trim()));
}

/**
 * The fields as the library is to read the answer's freshness from them: an Expires that is no
 * HTTP-date as `0`, a time in the past (RFC 9111 §5.3: a cache "MUST interpret invalid date
 * formats … as representing a time in the past"); a Date or Last-Modified that is none left out
 * (the answer's age counts from when it came, and no heuristic is read from its modification); and
 * each that is one in the form the library reads as it is meant. The same fields when each is as
 * the library would read it already. Only freshness is read from this copy: what goes out stays as it came.
 */
export function datesRead(headers: CachePolicy.Headers): CachePolicy.Headers {
  let out: CachePolicy.Headers | undefined;
  for (const name of DATED) {
    const value = headers[name];
    if (value === undefined) continue;
    const at = fieldDate(value);
    const read = Number.isNaN(at) ? (name === 'expires' ? '0' : undefined) : new Date(at).toUTCString();
    if (read === value) continue;
    out ??= Object.assign(Object.create(null), headers) as CachePolicy.Headers;
    if (read === undefined) delete out[name];
    else out[name] = read;
  }
  return out ?? headers;
}

const DATED = ['expires', 'date', 'last-modified'] as const;
