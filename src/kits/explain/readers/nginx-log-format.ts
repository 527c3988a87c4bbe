import type { LogReader } from '../log-reader.ts';
import type { LogRecord, Producer } from '../log-record.ts';
import { parseCommonLogTime } from '../log-time.ts';

/**
 * An nginx `log_format` (https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format):
 * its name, its `escape=` parameter, and its string parts joined.
 */
export interface LogFormat {
  readonly name: string;
  readonly escape: 'default' | 'json' | 'none';
  readonly text: string;
}

/** nginx's predefined format, used when `access_log` names none. */
export const COMBINED: LogFormat = {
  name: 'combined',
  escape: 'default',
  text: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"',
};

/** Variables whose value is one of nginx's per-attempt lists: "a, b" (one group), "a : b" (two). */
const LISTS = new Set([
  'upstream_addr',
  'upstream_status',
  'upstream_connect_time',
  'upstream_header_time',
  'upstream_response_time',
  'upstream_response_length',
  'upstream_bytes_received',
  'upstream_bytes_sent',
]);

/** Variables whose value never holds a space (so a space may follow them). */
const TOKENS = new Set([
  'remote_addr',
  'remote_port',
  'remote_user',
  'request_id',
  'req_id',
  'status',
  'body_bytes_sent',
  'bytes_sent',
  'request_length',
  'request_time',
  'msec',
  'time_iso8601',
  'connection',
  'connection_requests',
  'host',
  'server_name',
  'server_port',
  'scheme',
  'request_method',
  'server_protocol',
  'proxy_upstream_name',
  'proxy_alternative_upstream_name',
]);

const SHAPES: Readonly<Record<string, string>> = {
  time_local: '\\d\\d/\\w{3}/\\d{4}:\\d\\d:\\d\\d:\\d\\d [+-]\\d{4}',
  time_iso8601: '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(?:Z|[+-]\\d\\d:\\d\\d)',
  msec: '\\d+\\.\\d{3}',
  status: '\\d{3}',
};

const LIST = '[^\\s,]*(?:(?:, | : )[^\\s,]*)*';
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A format compiled into one anchored expression; `names[i]` is group i + 1's variable. */
interface CompiledFormat {
  readonly pattern: RegExp;
  readonly names: readonly string[];
  readonly format: LogFormat;
}

/** The variables and the literal text between them ("$var" and "${var}"). */
function pieces(text: string): Array<{ variable?: string; literal?: string }> {
  const out: Array<{ variable?: string; literal?: string }> = [];
  const re = /\$(?:\{(\w+)\}|(\w+))/g;
  let at = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > at) out.push({ literal: text.slice(at, m.index) });
    out.push({ variable: m[1] ?? m[2] });
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push({ literal: text.slice(at) });
  return out;
}

/**
 * Pairs of variables written side by side with nothing between them where the line cannot say
 * where the first ends ("$upstream_status$upstream_addr": "503127.0.0.1:8080"), as "$a$b".
 * The first ends for certain only when its value has a fixed shape ($status, the times).
 */
function runTogether(format: LogFormat): string[] {
  const parts = pieces(format.text);
  const pairs: string[] = [];
  for (let i = 0; i + 1 < parts.length; i++) {
    const [a, b] = [parts[i].variable, parts[i + 1].variable];
    if (a !== undefined && b !== undefined && !SHAPES[a]) pairs.push(`$${a}$${b}`);
  }
  return pairs;
}

/** The variables of `pairs` (see runTogether): explain does not read them. */
const unsplit = (pairs: readonly string[]) => new Set(pairs.flatMap((pair) => pair.slice(1).split('$')));

/** Turns a format into a parser: each variable a group, shaped by what may follow it. */
export function compileFormat(format: LogFormat): CompiledFormat {
  const parts = pieces(format.text);
  const names: string[] = [];
  let source = '^';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part.literal !== undefined) {
      source += escapeRegExp(part.literal);
      continue;
    }
    const name = part.variable as string;
    const next = parts[i + 1]?.literal ?? '';
    const stop = next[0];
    let value: string;
    if (SHAPES[name]) value = SHAPES[name];
    else if (LISTS.has(name)) value = LIST;
    else if (stop === undefined) value = '.*';
    else if (stop === '"' && format.escape === 'json') value = '(?:[^"\\\\]|\\\\.)*';
    else if (stop === ' ' && !TOKENS.has(name)) value = '.*?';
    else value = `[^${escapeRegExp(stop)}]*`;
    // A variable next to another (no literal between) cannot be told apart: the first takes none.
    if (parts[i + 1]?.variable !== undefined) value = `${value.replace(/\*$/, '*?')}`;
    source += `(${value})`;
    names.push(name);
  }
  return { pattern: new RegExp(`${source}$`), names, format };
}

/** "a, b : c" → ["a", "b", "c"]; "-" (no upstream) → []. */
export function listValues(value: string | undefined): string[] {
  if (value === undefined || value === '' || value === '-') return [];
  return value.split(/, | : /);
}

function lastOf(value: string | undefined): string | undefined {
  const values = listValues(value);
  const last = values[values.length - 1];
  return last === undefined || last === '-' || last === '' ? undefined : last;
}

function seconds(value: string | undefined): number | undefined {
  const text = lastOf(value);
  if (text === undefined) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n * 1000 : undefined;
}

/**
 * A value as nginx's default escaping wrote it (`"`, `\` and every byte outside printable ASCII
 * as \xHH) back to the text its error log writes raw: the bytes of a run of \xHH are one UTF-8
 * sequence ("caf\xC3\xA9" is "café"), as the error log's line is read.
 */
export function nginxUnescape(value: string): string {
  if (!value.includes('\\x')) return value;
  return value.replace(/(?:\\x[0-9A-Fa-f]{2})+/g, (run) =>
    Buffer.from(run.replaceAll('\\x', ''), 'hex').toString('utf8'),
  );
}

/** nginx's default escaping writes `"`, `\` and control bytes as \xHH; JSON escaping as JSON does. */
function unescaped(value: string, escaping: LogFormat['escape']): string {
  if (!value.includes('\\')) return value;
  if (escaping === 'json') {
    try {
      return JSON.parse(`"${value}"`);
    } catch {
      return value;
    }
  }
  if (escaping === 'none') return value;
  return nginxUnescape(value);
}

/**
 * Who produced a 5xx, as far as the line is certain: nginx itself when no upstream was tried
 * (`$upstream_addr` "-": a `return`, a limit) or when the last attempt got no response head
 * (`$upstream_header_time` or `$upstream_connect_time` "-", when the format has them: the
 * upstream sent no status at all);
 * otherwise the upstream when the last `$upstream_status` is the status. nginx writes its own
 * 502 or 504 there too when it got no answer, so that word is taken only when the error log,
 * read with it, has no line for the request (read-logs and the matcher see to that), and for a
 * 502 or 504 only when `$upstream_header_time` shows the upstream's head came.
 */
export function nginxProducer(
  status: number,
  address: string | undefined,
  upstreamStatus: string | undefined,
  headerTime: string | undefined,
  connectTime?: string,
): Producer | undefined {
  if (status < 500) return undefined;
  if (address !== undefined && listValues(address).length === 0) return 'proxy';
  // "-": the last attempt never got its head (or never sent the request: nginx sets the
  // connect time once the request goes out, a reused connection included).
  if (headerTime !== undefined && lastOf(headerTime) === undefined) return 'proxy';
  if (connectTime !== undefined && lastOf(connectTime) === undefined) return 'proxy';
  if (lastOf(upstreamStatus) !== String(status)) return undefined;
  // nginx writes its own 502 and 504 there too: the upstream's only when its head came (no
  // error line is no proof: the error log may not cover the time, or its level hide the line).
  if ((status === 502 || status === 504) && lastOf(headerTime) === undefined) return undefined;
  return 'upstream';
}

/**
 * The failure an nginx access line names by itself: "009", which nginx logs when it passed an
 * upstream's answer with no HTTP status line on as HTTP/0.9 (its error log: "upstream sent no
 * valid HTTP/1.0 header"; nginx 1.22, an SSH banner, a JSON body or Redis's reply behind
 * proxy_pass): the upstream did not speak HTTP, Candor's 502 http_protocol_error. A client's own
 * HTTP/0.9 request ("GET /", no version) may be logged 009 too, so only one with a version.
 */
export function nginxLineFailure(
  status: number,
  request: string | undefined,
): 'http_protocol_error' | undefined {
  return status === 9 && (request === undefined || / HTTP\/\d/.test(request))
    ? 'http_protocol_error'
    : undefined;
}

/** The record of one line's fields (variable → value). */
export function recordOfLine(
  fields: ReadonlyMap<string, string>,
  escaping: LogFormat['escape'],
  timed = true,
): LogRecord | undefined {
  const status = Number(fields.get('status'));
  if (!Number.isInteger(status)) return undefined;
  // A format without a time variable is read without a timeline (NaN: see LogRecord.time).
  const time = timed ? timeOf(fields) : Number.NaN;
  if (time === undefined) return undefined;
  const address = fields.get('upstream_addr');
  const addresses = listValues(address);
  const target = lastOf(address);
  const client = fields.get('remote_addr');
  const line = fields.get('request');
  const id = fields.get('request_id') ?? fields.get('req_id');
  const group = fields.get('proxy_upstream_name');
  return {
    kind: 'request',
    time,
    status,
    upstream: group !== undefined && group !== '' && group !== '-' ? group : target,
    target,
    joinKey:
      client !== undefined && line !== undefined ? `${client} ${unescaped(line, escaping)}` : undefined,
    requestId: id !== undefined && id !== '' && id !== '-' ? id : undefined,
    waitMs: seconds(fields.get('upstream_header_time')) ?? seconds(fields.get('upstream_response_time')),
    failure: nginxLineFailure(status, line),
    clientAborted: status === 499 || undefined,
    producedBy: nginxProducer(
      status,
      address,
      fields.get('upstream_status'),
      fields.get('upstream_header_time'),
      fields.get('upstream_connect_time'),
    ),
    attempts: addresses.length > 1 ? addresses.length : undefined,
  };
}

let lastLocal = '';
let lastLocalMs: number | undefined;

/** The line's time: `$msec` first (milliseconds), then `$time_iso8601`, then `$time_local`. */
function timeOf(fields: ReadonlyMap<string, string>): number | undefined {
  const msec = fields.get('msec');
  if (msec !== undefined) {
    const ms = Number(msec) * 1000;
    return Number.isFinite(ms) ? Math.round(ms) : undefined;
  }
  const iso = fields.get('time_iso8601');
  if (iso !== undefined) {
    const ms = Date.parse(iso);
    return Number.isNaN(ms) ? undefined : ms;
  }
  const local = fields.get('time_local');
  if (local === undefined) return undefined;
  if (local !== lastLocal) {
    lastLocal = local;
    lastLocalMs = parseCommonLogTime(local);
  }
  return lastLocalMs;
}

const TIMES = ['time_local', 'time_iso8601', 'msec'];

/** Whether a format writes a time explain reads: without one, its lines are read without a timeline. */
function hasTime(format: LogFormat): boolean {
  const names = new Set(pieces(format.text).flatMap((p) => (p.variable ? [p.variable] : [])));
  return TIMES.some((t) => names.has(t));
}

/** Why a format cannot be read at all (no status), or undefined. */
export function unreadable(format: LogFormat): string | undefined {
  const names = new Set(pieces(format.text).flatMap((p) => (p.variable ? [p.variable] : [])));
  const pairs = runTogether(format);
  const lost = unsplit(pairs);
  const times = ['time_local', 'time_iso8601', 'msec'].filter((t) => names.has(t));
  if (lost.has('status') || (times.length > 0 && times.every((t) => lost.has(t))))
    return `log_format ${format.name} writes ${pairs.join(', ')} with nothing between them: explain cannot tell where one ends, and cannot read it`;
  return names.has('status') ? undefined : `log_format ${format.name} has no $status: explain cannot read it`;
}

/** What a format leaves out, told once in the report. */
function blindSpot(format: LogFormat, names: ReadonlySet<string>): string {
  const told = [
    "nginx writes its own status into $upstream_status when it got no answer (502, 504): a 5xx is the upstream's own only when the error log, read with it, has no line for the request; without the error log nginx's 5xx cannot be told from the upstream's",
  ];
  const pairs = runTogether(format);
  if (pairs.length > 0)
    told.push(
      `log_format ${format.name} writes ${pairs.join(', ')} with nothing between them: explain cannot tell where one ends, so it reads none of them`,
    );
  if (!names.has('upstream_addr'))
    told.push(`log_format ${format.name} has no $upstream_addr: no upstreams, and retries are not seen`);
  if (!names.has('upstream_header_time') && !names.has('upstream_response_time'))
    told.push(`log_format ${format.name} has no $upstream_header_time: no waits, so no timeout suggestion`);
  if (!TIMES.some((t) => names.has(t)))
    told.push(
      `log_format ${format.name} has no time ($time_local, $time_iso8601 or $msec): its lines are counted without a timeline, so no storms (they need times), and they are not joined with the error log's (whose failures are counted as attempts by upstream)`,
    );
  else if (!names.has('remote_addr') || !names.has('request'))
    told.push(
      `log_format ${format.name} lacks $remote_addr or $request: its lines cannot be joined with the error log's`,
    );
  return `${told.join('; ')}.`;
}

/** A reader for lines written in `format`, under the format id `id`. */
export function nginxFormatReader(format: LogFormat, id: string, title: string): LogReader {
  const compiled = compileFormat(format);
  const { pattern, names } = compiled;
  // Variables run together with another are not read (an empty $upstream_addr would say "no
  // upstream tried"): as if the format did not have them.
  const lost = unsplit(runTogether(format));
  const read = new Set(names.filter((name) => !lost.has(name)));
  const timed = hasTime(format);
  return {
    format: id,
    title,
    sniff: (line) => pattern.test(line),
    read(line): LogRecord | undefined {
      const m = pattern.exec(line);
      if (!m) return undefined;
      const fields = new Map<string, string>();
      for (let i = 0; i < names.length; i++) if (!lost.has(names[i])) fields.set(names[i], m[i + 1]);
      return recordOfLine(fields, format.escape, timed);
    },
    causesIn: 'nginx-error',
    blindSpot: blindSpot(format, read),
  };
}
