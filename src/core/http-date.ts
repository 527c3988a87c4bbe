/** HTTP-dates as RFC 9110 §5.6.7 defines them, read strictly. */

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

/**
 * An HTTP-date (RFC 9110 §5.6.7) in any of its three forms, read as GMT; NaN for anything else
 * (`Date.parse` takes `2026` or `Nov 3` as dates, which a recipient must not: §13.1.3, §13.1.4).
 * `now` places an RFC 850 date's two-digit year.
 */
export function httpDate(text: string, now: number = Date.now()): number {
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
