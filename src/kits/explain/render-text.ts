import { grpcStatusText } from '../../core/failure/taxonomy.ts';
import { printable } from '../../core/printable.ts';
import type { StormHealth } from './health-report.ts';
import { MAX_LINE } from './line-stream.ts';
import { AUTH_HOP_PLACE } from './log-record.ts';
import type { PlaceRow, Report, StormRow } from './report.ts';
import { clock, duration, percent, rate, table } from './text-table.ts';
import { MIN_FOR_P99, type TimeoutFinding } from './timeout-advice.ts';

const MAX_ROWS = 15;

const bucket = (seconds: number) =>
  seconds < 60 ? `${seconds} s` : seconds < 3600 ? `${seconds / 60} min` : `${seconds / 3600} h`;

function limited<T>(rows: readonly T[], render: (row: T) => string[]): { rows: string[][]; more: string } {
  const shown = rows.slice(0, MAX_ROWS).map(render);
  const more = rows.length > MAX_ROWS ? `\n  … ${rows.length - MAX_ROWS} more (see --json)` : '';
  return { rows: shown, more };
}

function header(report: Report): string {
  const span =
    report.from && report.to
      ? `, ${clock(report.from, true)} → ${clock(report.to, report.from.slice(0, 10) !== report.to.slice(0, 10))} UTC (${duration(Date.parse(report.to) - Date.parse(report.from))})`
      : '';
  const attempts = report.failedAttempts > 0 ? ` and ${report.failedAttempts} failed attempts` : '';
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

function statuses(report: Report): string {
  const rows = report.statuses.map((s) => [
    s.status === 0 ? 'none' : s.status === 9 ? '009' : String(s.status),
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
      const logged = t.loggedStatuses.map((s) => `${s.status === 9 ? '009' : s.status}×${s.count}`);
      for (const g of t.grpcStatuses) logged.push(`gRPC ${grpcStatusText(g.status)}×${g.count}`);
      if (t.attempts > 0) logged.push(`attempt×${t.attempts}`);
      const where = t.upstreams.slice(0, 3).map((u) => `${u.upstream} (${u.count})`);
      if (t.upstreams.length > 3) where.push('…');
      rows.push([`  ${t.type}`, String(t.count), String(t.status), logged.join(' '), where.join(', ')]);
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
  if (report.unexplained5xx > 0)
    rows.push(['5xx, cause unknown (no failure in these logs)', String(report.unexplained5xx), '', '', '']);
  if (report.unknownTypes.length > 0) {
    const count = report.unknownTypes.reduce((sum, t) => sum + t.count, 0);
    rows.push(['error types this version does not know', String(count), '', '', '']);
    for (const t of report.unknownTypes) rows.push([`  ${t.type}`, String(t.count), '', '', '']);
  }
  if (report.untypedRetries > 0)
    rows.push(['retried attempts, failure not logged', String(report.untypedRetries), '', '', '']);
  if (report.clientAborted > 0)
    rows.push(['client left before the answer', String(report.clientAborted), '', '', '']);
  const noServer = report.health.noServer;
  if (noServer.length > 0) {
    const times = noServer.reduce((sum, b) => sum + b.count, 0);
    const where = noServer.map((b) => `${b.upstream} (${b.count})`).join(', ');
    rows.push(['backend left with no server (health lines)', String(times), '', '', where]);
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

function storm(s: StormRow, withDate: boolean): string {
  const types = s.types
    .slice(0, 3)
    .map((t) => `${t.type} ×${t.count}`)
    .join(', ');
  const lines = [
    `${s.upstream}: ${clock(s.began, withDate)} → ${clock(s.ended, withDate)} (${duration(s.seconds * 1000)}), ${s.errors} 5xx of ${s.requests} requests, peak ${rate(s.peakPerSecond)} (usually ${rate(s.baselinePerSecond)}): ${types}`,
  ];
  lines.push(`  ${placed(s.afterChange)}`);
  for (const c of s.changesDuring)
    lines.push(`  ${changeWords(c)} at ${clock(c.at, withDate)}, during the storm`);
  for (const h of s.health) lines.push(`  ${stormHealth(h, s, withDate)}`);
  return lines.map((l) => `  ${l}`).join('\n');
}

/** A change placed before a storm this long ago is named, but not suspected first. */
const SUSPECT_WITHIN_S = 30 * 60;

const changeWords = (c: { label: string; source: 'deploys' | 'log' }) =>
  c.source === 'deploys' ? `deploy ${c.label}` : c.label;

/** "storm began 47 s after reload sha256:… (upstream api: targets … joined): suspect it first …". */
function placed(after: StormRow['afterChange']): string {
  if (after === undefined)
    return 'no change recorded before it (no deploy in --deploys, no event line of a Candor log): look at the upstream itself first';
  const what = changeWords(after);
  // A deploy stamped just after the first 5xx of a log with 1 s resolution still started it.
  const when =
    after.seconds >= 0
      ? `${duration(after.seconds * 1000)} after ${what}`
      : `with ${what} (${duration(-after.seconds * 1000)} before it, within the log's time resolution)`;
  if (after.seconds > SUSPECT_WITHIN_S)
    return `storm began ${when}, the nearest change before it: too long before to suspect it first`;
  return after.source === 'deploys'
    ? `storm began ${when}: suspect the deploy first (roll back: if the storm stops, it was the deploy)`
    : `storm began ${when}: suspect this change first (undo it: if the storm stops, it was the change)`;
}

const STATE_WORDS = { down: 'DOWN', up: 'UP', 'no-server': 'had no server available' } as const;

/** "be_app/s1 DOWN 0.80 s before it: Layer4 connection problem (Connection refused)". */
function stormHealth(h: StormHealth, s: StormRow, withDate: boolean): string {
  const offsetMs = h.offsetSeconds * 1000;
  const endMs = Date.parse(s.ended) - Date.parse(s.began);
  const when =
    offsetMs < 0
      ? `${duration(-offsetMs)} before it`
      : offsetMs <= endMs
        ? `${duration(offsetMs)} into it`
        : `${duration(offsetMs - endMs)} after it ended`;
  const reason = h.reason && h.state !== 'no-server' ? `: ${h.reason}` : '';
  return `${h.name} ${STATE_WORDS[h.state]} ${when} (${clock(h.at, withDate)})${reason}`;
}

function health(report: Report, withDate: boolean): string {
  const { rows, more } = limited(report.health.changes, (h) => [
    h.name,
    h.state === 'no-server' ? 'no server' : STATE_WORDS[h.state],
    String(h.count),
    h.first === undefined ? 'no time' : clock(h.first, withDate),
    h.count > 1 && h.last !== undefined ? clock(h.last, withDate) : '',
    h.state === 'no-server' ? '' : (h.reason ?? ''),
  ]);
  const head = ['', 'state', 'count', 'first', 'last', 'reason'];
  const counted = report.health.changes.reduce((sum, h) => sum + h.count, 0);
  const kept = counted < report.health.events ? `, the first ${counted} counted below` : '';
  return `Health (the proxy's own lines: ${report.health.events} changes${kept})\n${table([head, ...rows], [2])}${more}`;
}

/**
 * The shortest and longest wait as the lines gave them (2001–2003 ms): "all waited" is a claim
 * about every line, so it quotes their extremes, never a rounded bucket of them.
 */
function exactRange(min: number, max: number): string {
  const ms = (value: number) => `${Number(value.toFixed(3))}`;
  if (min >= 100_000)
    return duration(min) === duration(max) ? duration(min) : `${duration(min)}–${duration(max)}`;
  return min === max ? `${ms(min)} ms` : `${ms(min)}–${ms(max)} ms`;
}

/** "1 request", "2 requests". */
function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** "grpc-timeout of 150 ms", "grpc-timeout of 100–250 ms". */
function deadlines(d: NonNullable<TimeoutFinding['clientDeadlines']>): string {
  return `grpc-timeout of ${d.minMs === d.maxMs ? d.minMs : `${d.minMs}–${d.maxMs}`} ms`;
}

/**
 * Where the client's deadlines cut the requests: " waiting for the response head" when all did
 * there (or before anything was sent, or mid-body), else each place with its count.
 */
function cutWhere(d: NonNullable<TimeoutFinding['clientDeadlines']>): string {
  const places = [
    [d.notSent, 'before anything was sent'],
    [d.head, 'waiting for the response head'],
    [d.body, 'while the response body streamed'],
  ] as const;
  const cut = places.filter(([n]) => n > 0);
  if (cut.length === 1) return ` ${cut[0][1]}`;
  return `: ${cut.map(([n, where]) => `${n} ${where}`).join(', ')}`;
}

/** One upstream's timeout finding, as the Timeouts section tells it. */
export function timeoutText(t: TimeoutFinding): string {
  const client = t.clientDeadlines;
  if (t.verdict === 'client_deadline' && client !== undefined)
    return [
      `${t.upstream}: ${plural(client.count, 'gRPC request')} ran out of the client's own deadline (${deadlines(client)})${cutWhere(client)}`,
      "  the client gave up before any timeout of the gateway: raise the client's deadline if the work is meant to take that long, or find what makes the upstream slower than it",
    ]
      .map((l) => `  ${l}`)
      .join('\n');
  const lines = [`${t.upstream}: ${plural(t.timeouts, 'request')} timed out waiting for the response head`];
  if (client !== undefined)
    lines.push(
      `  and ${plural(client.count, 'gRPC request')} ran out of the client's own deadline (${deadlines(client)})${cutWhere(client)}; not counted here, no gateway timeout would change them`,
    );
  if (t.waited && t.configuredMs !== undefined) {
    const [low, high] = [duration(t.waited.p10), duration(t.waited.p90)];
    const spread = low === high ? low : `${low}–${high} (p10–p90)`;
    lines.push(
      t.hugsTimeout
        ? `  they all waited ${exactRange(t.waited.min, t.waited.max)}: a timeout of about ${duration(t.configuredMs)} cut them`
        : `  their waits spread over ${spread}: more than one timeout may be at play`,
    );
  }
  const p99 = t.answeredP99Ms;
  // A p99 of fewer than MIN_FOR_P99 requests is their slowest one: it is named as such, and
  // no timeout is suggested from it.
  const measured =
    t.suggestedMs === undefined
      ? `slowest ${duration(p99 ?? 0)} of ${t.answered}`
      : `p99 ${duration(p99 ?? 0)} of ${t.answered}`;
  const tooFew = `    ${t.answered} answered requests are too few to suggest a value from: a p99 takes ${MIN_FOR_P99}`;
  const suggested = `about ${duration(t.suggestedMs ?? 0)} (p99 × 1.5, from ${t.answered} answered requests)`;
  switch (t.verdict) {
    case 'timeout_cuts_slow_work':
      lines.push(
        `  answered requests: ${measured}, close to the timeout: it cuts legitimately slow work`,
        t.suggestedMs === undefined
          ? '  → if the work is meant to take that long, raise the response timeout; otherwise find what makes it slow'
          : `  → if the work is meant to take that long, set the response timeout to ${suggested}; otherwise find what makes it slow`,
      );
      if (t.suggestedMs === undefined) lines.push(tooFew);
      break;
    case 'upstream_hangs':
      lines.push(
        `  answered requests: ${measured}, far below it: these requests hung, the timeout is not what failed`,
        t.suggestedMs === undefined
          ? '  → find what the upstream waits on'
          : `  → find what the upstream waits on; a response timeout of ${suggested} would fail hung requests sooner`,
      );
      if (t.suggestedMs === undefined) lines.push(tooFew);
      break;
    case 'nothing_to_compare':
      lines.push(
        t.answered === 0
          ? '  the upstream answered nothing in these logs: it hangs; the timeout is not the problem, what the upstream waits on is'
          : `  only ${t.answered} answered request${t.answered === 1 ? '' : 's'}: too few for a p99 to suggest a timeout from`,
      );
      break;
    case 'unmeasured':
      lines.push('  the log does not record how long they waited: no timeout to suggest (see Notes)');
      break;
  }
  return lines.map((l) => `  ${l}`).join('\n');
}

function checks(report: Report): string {
  const lines: string[] = [];
  for (const shape of report.shapes) {
    if (shape.shape === 'client') continue;
    lines.push(`  ${shape.shape} (${shape.count}): ${shape.headline}`);
    lines.push(`    likely: ${shape.likelyCause}`);
    lines.push(`    check:  ${shape.firstCheck}`);
    const hops = new Map<string, number>();
    for (const t of shape.types)
      for (const u of t.upstreams)
        if (u.upstream.startsWith(AUTH_HOP_PLACE))
          hops.set(u.upstream, (hops.get(u.upstream) ?? 0) + u.count);
    for (const [hop, count] of hops)
      lines.push(
        `    where:  ${count} at the ${hop}: the route's forward-auth service or JWKS endpoint failed, not its upstream (see the route's auth)`,
      );
  }
  // Where the access lines already show the proxy's 503s for it, the gateway row above says it.
  const told = new Set(
    report.shapes.flatMap((s) =>
      s.types
        .filter((t) => t.type === 'destination_unavailable')
        .flatMap((t) => t.upstreams.map((u) => u.upstream)),
    ),
  );
  for (const { upstream } of report.health.noServer) {
    if (told.has(upstream)) continue;
    lines.push(`  ${upstream} had no server left: every request to it got the proxy's 503 meanwhile`);
    lines.push(
      `    check:  the Health section: why each of ${upstream}'s servers went DOWN, and whether it came back`,
    );
  }
  if (report.staleAnswers.length > 0) {
    const count = report.staleAnswers.reduce((sum, s) => sum + s.count, 0);
    const causes = report.staleAnswers.map((s) => `${s.cause} ×${s.count}`).join(', ');
    lines.push(
      `  stale answers (${count}): a stored answer went to the client (a 200) in place of a failure: ${causes}`,
    );
    lines.push(
      '    check:  the upstream still failed: its own logs at these times; the cache hid it from the clients, it did not mend it',
    );
  }
  if (report.upstreamOwn5xx > 0) {
    lines.push(
      `  upstream's own 5xx (${report.upstreamOwn5xx}): the gateway passed the upstream's answer through`,
    );
    lines.push("    check:  the upstream's own logs at these times");
  }
  const upstreamGrpc = report.grpc.filter((g) => g.status !== 0 && g.byUpstream > 0);
  if (upstreamGrpc.length > 0) {
    const count = upstreamGrpc.reduce((sum, g) => sum + g.byUpstream, 0);
    const which = upstreamGrpc.map((g) => `${g.name} ×${g.byUpstream}`).join(', ');
    lines.push(
      `  the upstream's own gRPC errors (${count}): ${which}, passed through in the upstream's own answer (HTTP 200 as a rule), so no 5xx count above shows them`,
    );
    lines.push(
      "    check:  the upstream's own logs at these times: the gRPC status is its word, not the gateway's",
    );
  }
  if (report.unexplained5xx > 0) {
    lines.push(`  5xx, cause unknown (${report.unexplained5xx}): these logs do not say why`);
    const errorLog = report.files.some((f) => f.format === 'nginx-error');
    lines.push(
      errorLog && report.untimed > 0
        ? "    check:  the error log's failures above, by upstream: without a time in the log_format they cannot be joined to their requests (add $time_iso8601 or $msec to it)"
        : errorLog
          ? "    check:  the upstream's own logs at these times (the error log has no line for them); log $upstream_status and $upstream_header_time to tell who answered"
          : '    check:  the Notes below: where these logs keep their causes (nginx: give its error log too)',
    );
  }
  if (report.unknownTypes.length > 0) {
    const which = report.unknownTypes.map((t) => `${t.type} ×${t.count}`).join(', ');
    lines.push(`  error types this version does not know: ${which}`);
    lines.push(
      '    check:  these lines were written by another Candor version: its candor explain, or its docs, reads them',
    );
  }
  return lines.length > 0 ? `What to check first\n${lines.join('\n')}` : '';
}

/** The report for people, as plain text. */
export function renderText(report: Report): string {
  const withDate = report.from !== undefined && report.from.slice(0, 10) !== report.to?.slice(0, 10);
  // A file read for its health lines alone has no requests: no statuses, upstreams or storms to show.
  const requests = report.requests > 0 || report.failedAttempts > 0;
  const sections = requests ? [header(report), statuses(report)] : [header(report)];
  const spoken = protocols(report);
  if (spoken) sections.push(spoken);
  sections.push(failures(report));
  const grpcStatuses = grpc(report);
  if (grpcStatuses) sections.push(grpcStatuses);
  const made = producers(report);
  if (made) sections.push(made);
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
