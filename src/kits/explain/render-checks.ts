import { isAuthHopPlace } from './log-record.ts';
import type { Report } from './report.ts';

/**
 * The "What to check first" section of `candor explain`'s text: each failure shape's likely
 * cause and first check, and the checks for what the failure table cannot place.
 */
export function checks(report: Report): string {
  const lines: string[] = [];
  for (const shape of report.shapes) {
    if (shape.shape === 'client') continue;
    lines.push(`  ${shape.shape} (${shape.count}): ${shape.headline}`);
    lines.push(`    likely: ${shape.likelyCause}`);
    lines.push(`    check:  ${shape.firstCheck}`);
    for (const t of shape.alsoCheck) {
      const named = t.upstreams.filter((u) => u !== '-');
      const where = named.length > 3 ? [...named.slice(0, 3), '…'] : named;
      const label = t.case === '' ? t.type : `${t.type} ${t.case}`;
      lines.push(`    also:   ${[`${label} (${t.count}`, ...where].join(', ')}): ${t.check}`);
    }
    const hops = new Map<string, number>();
    for (const t of shape.types)
      for (const u of t.upstreams)
        if (isAuthHopPlace(u.upstream)) hops.set(u.upstream, (hops.get(u.upstream) ?? 0) + u.count);
    for (const [hop, count] of hops)
      lines.push(
        `    where:  ${count} at ${hop.startsWith('auth:') ? `auth hop ${hop}` : `the ${hop}`}: the route's forward-auth service or JWKS endpoint failed, not its upstream (see the route's auth)`,
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
  for (const { upstream, count } of report.health.circuitOpen) {
    if (told.has(upstream)) continue;
    lines.push(
      `  ${upstream}'s circuit opened (${count === 1 ? 'once' : `${count} times`}): every request to it got the gateway's 503 while it was open`,
    );
    lines.push(
      `    check:  the Health section: the failure that opened it, and which targets were ejected before it; then those targets' own logs`,
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
  for (const p of report.pluginOwn5xx) {
    lines.push(
      `  ${p.plugin}'s own 5xx (${p.count}): the plugin answered these requests itself (the log's answered_by), before any upstream was asked; nothing failed`,
    );
    lines.push("    check:  the plugin's code: why its onRequest answers with a 5xx");
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
