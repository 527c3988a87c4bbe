/**
 * Routes of the config whose own `timeouts.response` (or the per-try wait it bounds) is shorter
 * than the head the probe waited for: the gateway answers their requests 504, whatever the
 * upstream's own timeout, which the probe waits by. An answer those routes cut is not "none
 * needed" for them.
 */
import type { GatewayConfig } from '../../core/config/types.ts';
import type { TargetReport } from './types.ts';

/** The report with the routes that cut its answer named, when there are any. */
export function withRouteWaits(report: TargetReport, config: GatewayConfig | undefined): TargetReport {
  if (config === undefined || report.upstream === null || report.verdict.outcome !== 'ok') return report;
  const upstream = report.upstream;
  let ttfb: number | undefined;
  for (const step of report.steps) if (step.step === 'response' && step.ok) ttfb = step.facts.ttfbMs;
  if (ttfb === undefined) return report;
  const cut: string[] = [];
  for (const route of config.routes) {
    // A route's timeouts are kept for every upstream of the config: only those it sends to count.
    const sendsTo =
      route.upstream === upstream ||
      route.canary?.upstream === upstream ||
      (route.split?.some((side) => side.upstream === upstream) ?? false);
    if (!sendsTo) continue;
    const head = route.timeouts?.[upstream]?.exchange.head;
    if (head !== undefined && head < ttfb) cut.push(`route "${route.name}" (timeouts.response ${head} ms)`);
  }
  if (cut.length === 0) return report;
  const named = cut.map((one) => one.slice(0, one.indexOf(' ('))).join(', ');
  const fixed = report.verdict.fix.startsWith('none needed') ? '' : ` ${report.verdict.fix}`;
  return {
    ...report,
    verdict: {
      ...report.verdict,
      summary: `${report.verdict.summary}; but ${named} answers 504 for it: its head came after ${Math.round(ttfb)} ms`,
      fix: `the head came after ${Math.round(ttfb)} ms, past the wait of ${cut.join(', ')}: the gateway answers that route's requests 504 http_response_timeout. Find what makes the upstream that slow there, or raise the route's timeouts.response if the work is legitimately that slow.${fixed}`,
    },
  };
}
