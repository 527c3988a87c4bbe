/**
 * Retry-After (RFC 9110 §10.2.3) as a wait in milliseconds from `now`: either form,
 * delay-seconds or an HTTP-date. A date already past is no wait at all; a value that is
 * neither form is ignored (undefined), as the header was never sent.
 */
import { trimOws } from '../ows.ts';

/** 2^31 seconds (68 years): every longer wait (delay-seconds, or a date further off) is read as this one. */
const MAX_DELAY_SECONDS = 2 ** 31;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** The three forms RFC 9110 §5.6.7 obliges a recipient to accept, all of them GMT. */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/** Milliseconds since the epoch of a GMT date, or NaN when no such date or time exists. */
function utc(year: number, month: string, day: number, hour: number, minute: number, second: number): number {
  const m = MONTHS.indexOf(month);
  const at = Date.UTC(year, m, day, hour, minute, second);
  const check = new Date(at);
  return check.getUTCDate() === day && check.getUTCMonth() === m && hour < 24 && minute < 60 && second < 61
    ? at
    : Number.NaN;
}

/** An HTTP-date (RFC 9110 §5.6.7) in any of its three forms, read as GMT; NaN for anything else. */
function httpDate(text: string, now: number): number {
  let match = IMF_FIXDATE.exec(text);
  if (match) return utc(Number(match[3]), match[2], Number(match[1]), +match[4], +match[5], +match[6]);
  match = ASCTIME.exec(text);
  if (match) return utc(Number(match[6]), match[1], Number(match[2]), +match[3], +match[4], +match[5]);
  match = RFC850.exec(text);
  if (!match) return Number.NaN;
  // A two-digit year more than 50 years ahead is the most recent past year with those digits.
  const thisYear = new Date(now).getUTCFullYear();
  let year = thisYear - (thisYear % 100) + Number(match[3]);
  if (year > thisYear + 50) year -= 100;
  return utc(year, match[2], Number(match[1]), +match[4], +match[5], +match[6]);
}

export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = trimOws(value);
  // delay-seconds past any clock is still "not for a very long time", not "no header": read as
  // 2^31 s, the value RFC 9111 §1.2.2 gives a delta-seconds too large to represent.
  if (/^\d+$/.test(text)) return Math.min(Number(text), MAX_DELAY_SECONDS) * 1000;
  const at = httpDate(text, now);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_DELAY_SECONDS * 1000);
}
