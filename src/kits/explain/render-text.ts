import { grpcStatusText } from '../../core/failure/grpc-codes.ts';
import { printable } from '../../core/printable.ts';
import { MAX_LINE } from './line-stream.ts';
import { checks } from './render-checks.ts';
import { health, storm } from './render-storms.ts';
import { timeoutText } from './render-timeouts.ts';
import type { PlaceRow, Report } from './report.ts';
import { clock, limited, percent, plural, readableDuration, table } from './text-table.ts';

const bucket = (seconds: number) =>
  seconds < 60 ? `${seconds} s` : seconds < 3600 ? `${seconds / 60} min` : `${seconds / 3600} h`;

function header(report: Report): string {
  const span =
    report.from && report.to
      ? `, ${clock(report.from, true)} → ${clock(report.to, report.from.slice(0, 10) !== report.to.slice(0, 10))} UTC (${readableDuration(Date.parse(report.to) - Date.parse(report.from))})`
      : '';
  const attempts = report.failedAttempts > 0 ? ` and ${plural(report.failedAttempts, 'failed attempt')}` : '';
  const files = table(
    report.files.map((f) => [
      f.path,
      f.format + (f.gzip ? ' (gzip)' : ''),
      `${f.lines} lines`,
      `${f.parsed} parsed`,
      `${f.skipped} skipped${f.tooLong > 0 ? ` (${f.tooLong} over ${MAX_LINE / 1024} KiB, not read)` : ''}`,
      `${f.records} records`,
    ]),
    [2, 3, 4, 5],
  );
  return `candor explain: ${plural(report.requests, 'request')}${attempts}${span}\n${files}`;
}

/** A logged status as written: 0 (HAProxy's -1, no answer sent) "none", nginx's HTTP/0.9 "009". */
const statusText = (status: number) => (status === 0 ? 'none' : status === 9 ? '009' : String(status));

function statuses(report: Report): string {
  const rows = report.statuses.map((s) => [
    statusText(s.status),
    String(s.count),
    percent(s.count, report.requests),
  ]);
  return `Statuses\n${table(rows, [1, 2])}`;
}

function failures(report: Report): string {
  const rows: string[][] = [['', 'count', 'status', 'logged as', 'where']];
  for (const shape of report.shapes) {
    rows.push([`${shape.shape}: ${shape.headline}`, String(shape.count), '', '', '']);
    for (const t of shape.types) {
      const logged = t.loggedStatuses.map((s) => `${statusText(s.status)}×${s.count}`);
      for (const g of t.grpcStatuses) logged.push(`gRPC ${grpcStatusText(g.status)}×${g.count}`);
      if (t.attempts > 0) logged.push(`attempt×${t.attempts}`);
      const where = t.upstreams.slice(0, 3).map((u) => `${u.upstream} (${u.count})`);
      if (t.upstreams.length > 3) where.push('…');
      rows.push([`  ${t.type}`, String(t.count), t.answered.join(', '), logged.join(' '), where.join(', ')]);
    }
  }
  if (report.upstreamOwn5xx > 0)
    rows.push(["upstream's own 5xx, passed through", String(report.upstreamOwn5xx), '', '', '']);
  if (report.upstreamOwn5xxStale > 0)
    rows.push([
      "upstream's own 5xx, a stored answer sent instead",
      String(report.upstreamOwn5xxStale),
      '',
      '',
      '',
    ]);
  for (const p of report.pluginOwn5xx)
    rows.push([`${p.plugin}'s own 5xx answer (no failure)`, String(p.count), '', '', p.plugin]);
  if (report.unexplained5xx > 0)
    rows.push(['5xx, cause unknown (no failure in these logs)', String(report.unexplained5xx), '', '', '']);
  if (report.unknownTypes.length > 0) {
    const count = report.unknownTypes.reduce((sum, t) => sum + t.count, 0);
    rows.push(['error types this version does not know', String(count), '', '', '']);
    for (const t of report.unknownTypes) rows.push([`  ${t.type}`, String(t.count), '', '', '']);
  }
  if (report.untypedRetries > 0)
    rows.push(['retried attempts, failure not logged', String(report.untypedRetries), '', '', '']);
  const leftBefore = report.clientAborted - report.clientAbortedMidAnswer;
  if (leftBefore > 0) rows.push(['client left before the answer', String(leftBefore), '', '', '']);
  if (report.clientAbortedMidAnswer > 0)
    rows.push(["client left during the answer's body", String(report.clientAbortedMidAnswer), '', '', '']);
  const noServer = report.health.noServer;
  if (noServer.length > 0) {
    const times = noServer.reduce((sum, b) => sum + b.count, 0);
    const where = noServer.map((b) => `${b.upstream} (${b.count})`).join(', ');
    rows.push(['backend left with no server (health lines)', String(times), '', '', where]);
  }
  const circuits = report.health.circuitOpen;
  if (circuits.length > 0) {
    const times = circuits.reduce((sum, c) => sum + c.count, 0);
    const where = circuits.map((c) => `${c.upstream} (${c.count})`).join(', ');
    rows.push(["circuit opened (the gateway's lines)", String(times), '', '', where]);
  }
  if (rows.length === 1) return 'Failures\n  none';
  return `Failures by shape and type\n${table(rows, [1, 2])}`;
}

/**
 * Requests by the protocol their clients spoke, when the lines name it and it is not HTTP/1.1
 * alone (then it says nothing): where the 5xx and the failures were, over HTTP/2 or not.
 */
function protocols(report: Report): string {
  const rows = report.protocols;
  if (rows.length === 0 || (rows.length === 1 && rows[0].protocol === 'HTTP/1.1')) return '';
  const head = ['', 'requests', '5xx', 'failures'];
  const body = rows.map((p) => [p.protocol, String(p.requests), String(p.errors5xx), String(p.failures)]);
  return `Protocols the clients spoke\n${table([head, ...body], [1, 2, 3])}`;
}

/** gRPC requests by the status their clients read, and who set it. */
function grpc(report: Report): string {
  if (report.grpc.length === 0) return '';
  const total = report.grpc.reduce((sum, g) => sum + g.requests, 0);
  const head = ['', 'requests', 'by the gateway', 'from the upstream'];
  const body = report.grpc.map((g) => [g.name, String(g.requests), String(g.byProxy), String(g.byUpstream)]);
  return [
    `gRPC statuses the clients read (${plural(total, 'request')})\n${table([head, ...body], [1, 2, 3])}`,
    "  by the gateway: its Trailers-Only answer to a failure above; from the upstream: the upstream's own grpc-status, passed through",
  ].join('\n');
}

/** The 401s and 403s by route and method, and how many the proxy's access rules made. */
function refusals(report: Report): string {
  if (report.refusals.length === 0) return '';
  const { rows, more } = limited(report.refusals, (r) => [
    r.route || '-',
    r.method || '-',
    String(r.unauthorized),
    String(r.forbidden),
    // A log that does not say who refused is not read as the upstream's: `?`, never a 0 it cannot know.
    r.makerUnknown > 0 ? '?' : String(r.byProxy),
  ]);
  const head = ['route', 'method', '401', '403', 'by the gateway'];
  const unknown = report.refusals.some((r) => r.makerUnknown > 0)
    ? '\n  ?: the log does not say whether the gateway or the upstream refused'
    : '';
  return [
    `Refused (401, 403) by route and method\n${table([head, ...rows], [2, 3, 4])}${more}`,
    `  by the gateway: its access rules answered (the log's auth: denied); the rest are the upstream's own${unknown}`,
  ].join('\n');
}

/** Who produced the 5xx, per file: the proxy, the upstream (passed through), or the log cannot tell. */
function producers(report: Report): string {
  const total = report.files.reduce(
    (sum, f) => sum + f.errors5xx.byProxy + f.errors5xx.passedThrough + f.errors5xx.cannotTell,
    0,
  );
  if (total === 0) return '';
  const rows = [['', '', 'made by the proxy', 'passed through from the upstream', 'cannot tell']];
  for (const f of report.files) {
    const s = f.errors5xx;
    if (s.byProxy + s.passedThrough + s.cannotTell === 0) continue;
    rows.push([f.path, f.format, String(s.byProxy), String(s.passedThrough), String(s.cannotTell)]);
  }
  const lines = [`Who made the 5xx\n${table(rows, [2, 3, 4])}`];
  if (report.errors5xx.cannotTell > 0)
    lines.push(
      '  cannot tell: the log does not say whether the proxy or the upstream answered (see Notes); explain does not guess',
    );
  return lines.join('\n');
}

function places(title: string, list: readonly PlaceRow[], withDate: boolean): string {
  const { rows, more } = limited(list, (p) => [
    p.name,
    String(p.requests),
    String(p.errors5xx),
    String(p.failures),
    p.first5xx ? clock(p.first5xx, withDate) : '-',
    p.last5xx ? clock(p.last5xx, withDate) : '-',
    p.topType ?? '',
  ]);
  const head = ['', 'requests', '5xx', 'failures', 'first', 'last', 'mostly'];
  return `${title}\n${table([head, ...rows], [1, 2, 3])}${more}`;
}

/** The report for people, as plain text. */
export function renderText(report: Report): string {
  const withDate = report.from !== undefined && report.from.slice(0, 10) !== report.to?.slice(0, 10);
  // A file read for its health lines alone has no requests: no statuses, upstreams or storms to show.
  const requests = report.requests > 0 || report.failedAttempts > 0;
  // An error log alone has failed attempts and no statuses: no heading over an empty table.
  const sections = report.statuses.length > 0 ? [header(report), statuses(report)] : [header(report)];
  const spoken = protocols(report);
  if (spoken) sections.push(spoken);
  sections.push(failures(report));
  const grpcStatuses = grpc(report);
  if (grpcStatuses) sections.push(grpcStatuses);
  const made = producers(report);
  if (made) sections.push(made);
  const refused = refusals(report);
  if (refused) sections.push(refused);
  if (requests) sections.push(places('Upstreams', report.upstreams, withDate));
  const sameAsUpstreams = report.targets.every((t) => report.upstreams.some((u) => u.name === t.name));
  if (report.targets.length > 0 && !sameAsUpstreams)
    sections.push(places('Targets', report.targets, withDate));
  if (report.health.events > 0) sections.push(health(report, withDate));
  const untimed =
    report.untimed > 0
      ? `\n  ${report.untimed} of the ${report.requests} requests have no time (their log_format writes none): storms need times, so they are in none`
      : '';
  // The error log's attempts have times of their own: a storm of them is shown even when no
  // request has one.
  if (requests || report.storms.length > 0)
    sections.push(
      report.storms.length > 0
        ? `Storms (buckets of ${bucket(report.bucketSeconds)})\n${report.storms.map((s) => storm(s, withDate)).join('\n')}${untimed}`
        : report.untimed === report.requests && report.requests > 0
          ? 'Storms\n  none found: no request has a time (the log_format writes none), and storms need times'
          : `Storms (buckets of ${bucket(report.bucketSeconds)})\n  none: no upstream's 5xx rose well above its usual rate${untimed}`,
    );
  if (report.timeouts.length > 0) sections.push(`Timeouts\n${report.timeouts.map(timeoutText).join('\n')}`);
  const advice = checks(report);
  if (advice) sections.push(advice);
  if (report.notes.length > 0) sections.push(`Notes\n${report.notes.map((n) => `  - ${n}`).join('\n')}`);
  // Upstream names, targets, reasons and paths come from the logs: none may drive the terminal.
  return printable(`${sections.join('\n\n')}\n`);
}
