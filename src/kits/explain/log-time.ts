/** Dates as the proxies write them. */

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

export function monthIndex(name: string): number | undefined {
  return MONTHS[name];
}

/**
 * A wall-clock time with no zone (nginx's error log, HAProxy's accept date): read in the local
 * zone, as the machine that wrote it would have (set TZ to match it).
 */
export function localTime(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms = 0,
): number {
  return new Date(year, month, day, hour, minute, second, ms).getTime();
}

/** `10/Oct/2000:13:55:36 -0700` (nginx's $time_local, Apache's %t). */
export function parseCommonLogTime(text: string): number | undefined {
  const m = /^(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  const month = m ? monthIndex(m[2]) : undefined;
  if (!m || month === undefined) return undefined;
  const offsetMinutes = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  const utc = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  return utc - offsetMinutes * 60_000;
}
