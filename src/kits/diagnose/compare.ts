/**
 * Direct against through-the-gateway: the second step of the first ten minutes. If the
 * upstream answers directly but not through the gateway, the gateway's view differs (its
 * config, timeouts or network path); if both fail alike, the upstream is at fault.
 */
import type { FailureType } from '../../core/failure/taxonomy.ts';
import { formatMs } from './plan.ts';
import type { TargetReport } from './types.ts';

export interface Comparison {
  /** Which hop the difference points at. */
  readonly differs: 'gateway' | 'upstream' | 'none';
  readonly summary: string;
}

/**
 * What a gateway answers by a rule of its own, without sending the request to the upstream (an
 * access rule, a rate limit, a maintenance, no route, a request it refuses): the upstream's
 * reachability from it, its timeouts and network path, are not in question.
 */
const GATEWAY_RULES: ReadonlySet<FailureType> = new Set<FailureType>([
  'http_request_denied',
  'proxy_internal_response',
  'destination_not_found',
  'only_if_cached',
  'proxy_loop_detected',
  'http_request_error',
  'misdirected_request',
]);

function describe(report: TargetReport): string {
  const { verdict } = report;
  if (verdict.failure) return `${verdict.status ?? ''} ${verdict.failure.type}`.trim();
  return `${verdict.status}`;
}

/** A probe that failed on a target speaking only the protocol the probe (the upstream's `protocol`) did not use. */
function speaksOnlyTheOther({ protocol, protocols }: TargetReport): boolean {
  if (protocols === undefined) return false;
  return protocol === 'http1'
    ? protocols.http1 === false && protocols.h2 === true
    : protocols.h2 === false && protocols.http1 === true;
}

function ttfbOf(report: TargetReport): number | undefined {
  for (const step of report.steps) if (step.step === 'response' && step.ok) return step.facts.ttfbMs;
  return undefined;
}

export function compare(direct: readonly TargetReport[], via: TargetReport): Comparison {
  const viaFailed = via.verdict.outcome === 'failure';
  const answered = direct.filter((report) => report.verdict.outcome !== 'failure');
  const failed = direct.filter((report) => report.verdict.outcome === 'failure');
  const directText = direct.map(describe).join(', ');
  if (viaFailed && via.verdict.receivedStatus === null)
    return {
      differs: 'gateway',
      summary: `the gateway itself does not answer (${describe(via)}): check that it runs and listens at ${via.url}.`,
    };
  const type = via.verdict.failure?.type;
  if (viaFailed && answered.length > 0 && type !== undefined && GATEWAY_RULES.has(type))
    return {
      differs: 'gateway',
      summary: `direct is fine (${directText}) but the gateway answers ${describe(via)} by a rule of its own, without sending the request to the upstream: the route's rules decide it (its access rules, rate limit, maintenance, or no route for this request), not its timeouts or its network path. See the fix above.`,
    };
  if (viaFailed && answered.length > 0) {
    const slow = via.verdict.failure?.shape === 'slow';
    const ttfb = ttfbOf(answered[0]);
    const measured =
      slow && ttfb !== undefined
        ? ` Directly the upstream answered in ${formatMs(ttfb)}; compare with the gateway's timeouts.`
        : '';
    return {
      differs: 'gateway',
      summary: `direct is fine (${directText}) but through the gateway it is ${describe(via)}: the gateway's view differs. Check its config (the route and the upstream's targets), its timeouts and its network path to the upstream.${measured}`,
    };
  }
  if (viaFailed) {
    const same = failed.every((report) => report.verdict.failure?.type === via.verdict.failure?.type);
    // Alike because the target speaks only the protocol the upstream is not set to: the fix is
    // the gateway's `protocol` setting, so "the upstream is at fault, not the gateway" would
    // send the reader away from it.
    if (same && failed.some(speaksOnlyTheOther))
      return {
        differs: 'upstream',
        summary: `both fail the same way (${via.verdict.failure?.type}): the target does not speak the protocol the gateway's upstream is set to: change the upstream's protocol in the gateway's config (the fix above), or what the target speaks.`,
      };
    return same
      ? {
          differs: 'upstream',
          summary: `both fail the same way (${via.verdict.failure?.type}): the upstream is at fault, not the gateway.`,
        }
      : {
          differs: 'upstream',
          summary: `both fail, differently (direct: ${directText}; through the gateway: ${describe(via)}): start with the upstream, then the gateway's settings for it.`,
        };
  }
  if (failed.length === direct.length)
    return {
      differs: 'gateway',
      summary: `the gateway gets an answer (${describe(via)}) but the direct probe fails (${directText}): the gateway reaches the upstream another way (another network or resolver), or its route points elsewhere.`,
    };
  if (answered.some((report) => report.verdict.status === via.verdict.status))
    return { differs: 'none', summary: `the gateway and the upstream agree: ${describe(via)} both ways.` };
  return {
    differs: 'gateway',
    summary: `direct answers ${directText}, through the gateway ${describe(via)}: the gateway's route (path, host, prefix) sends the request elsewhere or changes it.`,
  };
}
