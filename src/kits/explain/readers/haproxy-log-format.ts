import type { LogReader } from '../log-reader.ts';
import type { LogRecord } from '../log-record.ts';
import { localTime, monthIndex, parseCommonLogTime } from '../log-time.ts';
import { fieldsOf, type HaproxyFormat, parseHaproxyFormat } from './haproxy-format.ts';
import { bsdPrefix, healthEvent, isAboutItself, isoPrefix, type Stamped } from './haproxy-health.ts';
import { haproxyFailure } from './haproxy-reader.ts';

/** A number as the format wrote it (hexadecimal under +X), or undefined for none. */
function numberOf(value: string | undefined, hex: boolean): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = hex ? Number.parseInt(value, 16) : Number(value.replace(/^\+/, ''));
  return Number.isFinite(n) ? n : undefined;
}

/** "21/Nov/2026:13:11:00.596" (%tr, %t: local, no zone). */
function localMsTime(text: string): number | undefined {
  const m = /^(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d)\.(\d{3})$/.exec(text);
  const month = m ? monthIndex(m[2]) : undefined;
  if (!m || month === undefined) return undefined;
  return localTime(+m[3], month, +m[1], +m[4], +m[5], +m[6], +m[7]);
}

/** The request's time from the format's own date, best resolution first; undefined with none. */
function timeOf(fields: ReadonlyMap<string, string>, hex: ReadonlySet<string>): number | undefined {
  for (const tag of ['tr', 't']) {
    const value = fields.get(tag);
    if (value !== undefined) return localMsTime(value);
  }
  for (const tag of ['trg', 'trl', 'T', 'Tl']) {
    const value = fields.get(tag);
    if (value !== undefined) return parseCommonLogTime(value);
  }
  const seconds = numberOf(fields.get('Ts'), hex.has('Ts'));
  if (seconds === undefined) return undefined;
  return seconds * 1000 + (numberOf(fields.get('ms'), false) ?? 0);
}

const DATES = ['tr', 't', 'trg', 'trl', 'T', 'Tl', 'Ts'];
const positive = (n: number | undefined) => (n !== undefined && n > 0 ? n : 0);

/** A syslog or journald tag after the stamp: "haproxy[2814]: ", "host haproxy[2814]: ". */
const TAG = /^(?:\S+ )?\S+\[\d+\]$/;

/** The stamp a line is behind (docker -t, journald, syslog) and the message after it and its tag. */
function split(line: string, year: number | undefined): { stamp?: Stamped; message: string } {
  const stamp = isoPrefix(line) ?? bsdPrefix(line, year);
  if (stamp === undefined) return { message: line };
  let message = line.slice(stamp.rest);
  const tag = message.indexOf(']: ');
  if (tag !== -1 && tag < 120 && TAG.test(message.slice(0, tag + 1))) message = message.slice(tag + 3);
  return { stamp, message };
}

/**
 * What a timed-out request waited after its connect, where the format has the timers to say
 * it: Ta less TR, Tw and Tc (Ta starts when the request's first byte came), or Tt less Tq
 * (which holds the handshake and idle times Tt counts too), Tw and Tc; undefined otherwise.
 */
function timeoutWait(timer: (tag: string) => number | undefined): number | undefined {
  const [tw, tc] = [timer('Tw'), timer('Tc')];
  if (tw === undefined || tc === undefined) return undefined;
  const ta = timer('Ta');
  const tR = timer('TR');
  if (ta !== undefined && tR !== undefined) return ta - positive(tR) - positive(tw) - positive(tc);
  const [tt, tq] = [timer('Tt'), timer('Tq')];
  if (tt !== undefined && tq !== undefined) return tt - positive(tq) - positive(tw) - positive(tc);
  return undefined;
}

/** What a format leaves out, told once in the report. */
function blindSpot(format: HaproxyFormat, tags: ReadonlySet<string>): string {
  const told: string[] = [];
  if (!tags.has('tsc') && !tags.has('ts'))
    told.push(
      `log-format ${format.name} has no %tsc (or %ts): its 5xx have no cause, and who made them is not known`,
    );
  if (!tags.has('b') && !tags.has('s')) told.push(`log-format ${format.name} has no %b or %s: no upstreams`);
  if (!tags.has('Tr')) told.push(`log-format ${format.name} has no %Tr: no waits, so no timeout suggestion`);
  if (!DATES.some((d) => tags.has(d)))
    told.push(
      `log-format ${format.name} has no date (%tr, %trg, %Ts…): its lines are placed at the time of their docker, journald or syslog stamp, and without one are read without a timeline (no storms)`,
    );
  else if (tags.has('tr') || tags.has('t'))
    told.push('its %tr dates have no zone (read as local time: set TZ to match)');
  told.push(
    'its health lines (HAProxy\'s "Server be/s is DOWN" beside the access lines) are on the timeline only behind a docker -t, journald or syslog stamp (without one they are told in the order they came, next to no storm); HAProxy logs a failed TLS handshake to a server as a refused connection (SC)',
  );
  return `${told.join('; ')}.`;
}

/**
 * A reader for lines written in a HAProxy `log-format`, raw or behind a docker -t, journald or
 * syslog stamp, and HAProxy's own health lines among them (stderr's "[WARNING] … Server be/s is
 * DOWN", its log target's untagged copy): read as the httplog reader reads its fields (the
 * termination state %tsc gives the failure, %Tr the wait, %b/%s the upstream and target, %rc
 * the retries, which HAProxy does not name).
 */
export function haproxyFormatReader(format: HaproxyFormat, id: string, title: string): LogReader {
  const pieces = parseHaproxyFormat(format.text);
  const tags = new Set(pieces.flatMap((p) => (p.kind === 'value' && p.tag ? [p.tag] : [])));
  const hex = new Set(pieces.flatMap((p) => (p.kind === 'value' && p.tag && p.hex ? [p.tag] : [])));
  let year: number | undefined;
  return {
    format: id,
    title,
    sniff(line) {
      const { message } = split(line, year);
      return isAboutItself(message) || fieldsOf(pieces, message) !== undefined;
    },
    read(line): LogRecord | undefined {
      const { stamp, message } = split(line, year);
      // Without a stamp a health line has no time: it is still told, in the order it came.
      if (isAboutItself(message)) return healthEvent(message, stamp?.time ?? Number.NaN);
      const fields = fieldsOf(pieces, message);
      if (fields === undefined) return undefined;
      const logged = numberOf(fields.get('ST'), hex.has('ST'));
      if (logged === undefined || !Number.isInteger(logged)) return undefined;
      const status = logged < 0 ? 0 : logged;
      const own = timeOf(fields, hex);
      if (own !== undefined) year = new Date(own).getFullYear();
      // No date in the format: the stamp's; none at all: no timeline (LogRecord.time).
      const time = own ?? stamp?.time ?? Number.NaN;
      const backend = fields.get('b');
      const server = fields.get('s');
      const state = fields.get('tsc') ?? fields.get('ts');
      const timer = (tag: string) => numberOf(fields.get(tag), hex.has(tag));
      const tr = timer('Tr');
      const failure =
        state === undefined
          ? undefined
          : haproxyFailure(state, status, server ?? '', tr === undefined ? undefined : tr >= 0);
      const waitMs =
        failure === 'http_response_timeout'
          ? timeoutWait(timer)
          : tr !== undefined && tr >= 0
            ? tr
            : undefined;
      const retries = positive(timer('rc'));
      const named = server !== undefined && server !== '<NOSRV>' && server !== '-';
      const id = fields.get('ID');
      return {
        kind: 'request',
        time,
        status,
        // No backend chosen: HAProxy writes the frontend's name as %b (`fe_main fe_main/<NOSRV>`).
        upstream:
          backend !== undefined &&
          backend !== '' &&
          backend !== '-' &&
          !(
            server === '<NOSRV>' &&
            [fields.get('ft'), fields.get('f')].some((f) => f === backend || f === `${backend}~`)
          )
            ? backend
            : undefined,
        target: named ? (backend ? `${backend}/${server}` : server) : undefined,
        failure,
        waitMs,
        // C: the client left; c is HAProxy's client timeout, which cut a client still there.
        clientAborted: state?.[0] === 'C' || undefined,
        // In the data phase after the server's head came (a D with no head is the upload's).
        ...(state?.[0] === 'C' && (state[1] === 'D' || state[1] === 'L') && tr !== undefined && tr >= 0
          ? { clientLeftMidAnswer: true as const }
          : {}),
        // As the httplog reader: the termination state names every answer HAProxy made itself.
        producedBy:
          status < 500 || state === undefined
            ? server === '<NOSRV>' && status >= 500
              ? 'proxy'
              : undefined
            : failure !== undefined
              ? 'proxy'
              : state[0] === '-'
                ? 'upstream'
                : undefined,
        untypedRetries: retries > 0 ? retries : undefined,
        requestId: id !== undefined && id !== '' && id !== '-' ? id : undefined,
      };
    },
    blindSpot: blindSpot(format, tags),
  };
}
