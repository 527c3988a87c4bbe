/**
 * What `candor explain` says of the gateway's refusals (`http_request_denied`): the one failure
 * type whose status is the rule's that refused, not the failure table's. Candor answers 401 for
 * missing or bad credentials, 403 for a client an IP list (or an auth service) refuses and 429
 * for a limit (DESIGN's table), and logs all three with that type; the table's 429 is the rate
 * limit's alone. Another proxy's deliberate refusal (HAProxy's `http-request deny`) is typed so
 * too, whatever status it was given.
 */
import { FAILURES, type FailureType } from '../../core/failure/taxonomy.ts';

/** The statuses Candor refuses a request with, by the rule that refused it. */
const DENIAL_STATUSES: readonly number[] = [401, 403, 429];

/**
 * The statuses a type's requests were answered with, as a report's row gives them: the failure
 * table's, or for a refusal those of the lines that Candor answers a refusal with (401, 403, 429
 * as logged: 401s and 403s are never called 429s), else the three (the lines name none of them).
 */
export function answeredStatuses(
  type: FailureType,
  logged: ReadonlyArray<{ readonly status: number }>,
  limitsOnly = false,
): number[] {
  if (type !== 'http_request_denied') return [FAILURES[type].status];
  // Every one a proxy's own limit (nginx's limit_req, logged 503): Candor answers a limit 429.
  if (limitsOnly) return [429];
  const seen = DENIAL_STATUSES.filter((status) => logged.some((s) => s.status === status));
  return seen.length > 0 ? seen : [...DENIAL_STATUSES];
}

/**
 * The fix the failure table gives a type, unless the lines' own statuses say it does not fit:
 * a proxy's deliberate refusal logged as 401, 403 or 404 (HAProxy's `http-request deny`, its
 * termination state P) is typed as a denial, but "wait for the time in Retry-After" is the
 * fix for a rate limit's 429 only.
 */
export function firstCheck(row: {
  readonly type: FailureType;
  readonly loggedStatuses: ReadonlyArray<{ readonly status: number }>;
  readonly upstreams?: ReadonlyArray<{ readonly upstream: string }>;
}): string {
  const plugins = pluginsAtFault(row);
  if (plugins !== undefined)
    return `A plugin's bug (${plugins.join(', ')} threw or overran its time in a hook), not the gateway's nor the upstream's, which no attempt reached: its error and stack are in the gateway's log at the request's id; fix the plugin, or give it on_error: continue if the request may go on without it.`;
  const rateLimited = row.loggedStatuses.some((s) => s.status === 429);
  if (row.type === 'http_request_denied' && !rateLimited) {
    const statuses = row.loggedStatuses.map((s) => s.status).join(', ');
    return `The proxy refused these requests on purpose (logged as ${statuses}, not a rate limit's 429): find the rule that matched them (a deny rule, an IP list, authentication); waiting will not change the answer.`;
  }
  return FAILURES[row.type].fix;
}

/** The plugins an internal error's places name when every one is a plugin's ("plugin:NAME"), else undefined. */
function pluginsAtFault(row: {
  readonly type: FailureType;
  readonly upstreams?: ReadonlyArray<{ readonly upstream: string }>;
}): string[] | undefined {
  const places = row.upstreams ?? [];
  if (row.type !== 'proxy_internal_error' || places.length === 0) return undefined;
  return places.every((p) => p.upstream.startsWith('plugin:')) ? places.map((p) => p.upstream) : undefined;
}
