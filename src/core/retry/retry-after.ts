/**
 * Retry-After (RFC 9110 §10.2.3) as a wait in milliseconds from `now`: either form,
 * delay-seconds or an HTTP-date, or a list of delay-seconds (the field sent twice). A date already
 * past is no wait at all; a value that is none of these is ignored (undefined), as the header was
 * never sent.
 */
import { httpDate } from '../http-date.ts';
import { trimOws } from '../ows.ts';

/** 2^31 seconds (68 years): every longer wait (delay-seconds, or a date further off) is read as this one. */
const MAX_DELAY_SECONDS = 2 ** 31;

export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = trimOws(value);
  // delay-seconds past any clock is still "not for a very long time", not "no header": read as
  // 2^31 s, the value RFC 9111 §1.2.2 gives a delta-seconds too large to represent.
  if (/^\d+$/.test(text)) return Math.min(Number(text), MAX_DELAY_SECONDS) * 1000;
  // The field sent twice (a proxy on the way added its own), joined as fetch and RFC 9110 §5.3
  // join fields: a list is neither form, but each member asks for a wait, and read as no header
  // the origin that asked for a minute was sent the request again at once. The longest wait
  // asks the least of it. (A list of dates is left unread: an HTTP-date holds a comma itself.)
  if (/^\d+(?:[\t ]*,[\t ]*\d+)+$/.test(text))
    return Math.min(Math.max(...text.split(',').map(Number)), MAX_DELAY_SECONDS) * 1000;
  const at = httpDate(text, now);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_DELAY_SECONDS * 1000);
}
