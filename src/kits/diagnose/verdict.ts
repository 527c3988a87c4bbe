/**
 * The verdict in the taxonomy's terms: the shape, the Proxy-Status error type and the status
 * Candor would answer, all read from FAILURES through the Failure record; or, when the
 * upstream answered, its own status passed through.
 */
import { Failure } from '../../core/failure/failure.ts';
import { readProxyStatus } from '../../core/failure/proxy-status.ts';
import { FAILURE_TYPES, FAILURES, type FailureKind, type FailureType } from '../../core/failure/taxonomy.ts';
import type { UpstreamHead } from '../../upstream/connections/exchange-contract.ts';
import { adviseAnswer, adviseFix, deniedFix, madeByProxy, malformedProxyStatus } from './advice.ts';
import { fieldValues } from './answer-reader.ts';
import type { ProbeContext } from './context.ts';
import type { FailureSummary, Verdict } from './types.ts';

function summarize(failure: Failure): FailureSummary {
  return {
    type: failure.type,
    shape: failure.shape,
    flag: failure.flag,
    status: failure.status,
    stage: failure.stage,
    details: failure.details,
    rcode: failure.params.rcode,
    alertMessage: failure.params.alertMessage,
  };
}

/**
 * The gateway's own answer whose Proxy-Status member names no error (RFC 9209 has no type for
 * it: a 421, the request on a connection made for another host): the type of that status whose
 * member carries none, if the taxonomy has one.
 */
function ownTypeWithoutError(status: number): FailureType | undefined {
  return FAILURE_TYPES.find((type) => {
    const kind: FailureKind = FAILURES[type];
    return kind.proxyStatus === null && kind.status === status;
  });
}

export function decideVerdict(context: ProbeContext, failure: Failure | undefined): Verdict {
  const { head } = context;
  const identified = context.identification?.what ?? null;
  const receivedStatus = head?.status ?? null;
  if (failure) return failureVerdict(context, failure, receivedStatus, identified);
  const status = receivedStatus ?? 0;
  const fromGateway =
    context.plan.viaGateway && head ? gatewayVerdict(head, status, receivedStatus, identified) : undefined;
  return fromGateway ?? answerVerdict(context, status, receivedStatus, identified);
}

/** The probe failed: what Candor answers for that failure. */
function failureVerdict(
  context: ProbeContext,
  failure: Failure,
  receivedStatus: number | null,
  identified: string | null,
): Verdict {
  const cut = failure.stage === 'body_streaming' && receivedStatus !== null;
  // An upstream that holds waits out a refusal (request-hold.ts): its answer is the hold's 503.
  const { holdMs } = context.plan;
  const held = holdMs !== undefined && failure.stage === 'not_sent' && failure.type === 'connection_refused';
  const answer = cut
    ? `Candor passes the ${receivedStatus} head on, then aborts the transfer (logged as ${failure.type})`
    : held
      ? `Candor holds the request up to ${holdMs} ms (hold.timeout) for a target to take it, then answers ${FAILURES.destination_unavailable.status} destination_unavailable with Retry-After`
      : `Candor answers ${failure.status}`;
  return {
    outcome: 'failure',
    status: cut ? receivedStatus : held ? FAILURES.destination_unavailable.status : failure.status,
    receivedStatus,
    failure: summarize(failure),
    identified,
    summary: `${failure.shape} / ${failure.type} → ${answer}`,
    fix: adviseFix(context, failure),
  };
}

/**
 * Through a gateway, its Proxy-Status says whether it made this answer or passed one on: the
 * failure it reports, or undefined for an answer it passed on.
 */
function gatewayVerdict(
  head: UpstreamHead,
  status: number,
  receivedStatus: number | null,
  identified: string | null,
): Verdict | undefined {
  const member = readProxyStatus(fieldValues(head, 'proxy-status').join(', ') || undefined);
  // A member with no error and no received-status is the gateway's own answer all the same.
  const ownType =
    member !== undefined && member.error === undefined && member.receivedStatus === undefined
      ? ownTypeWithoutError(status)
      : undefined;
  const type = member?.error ?? ownType;
  if (member !== undefined && type !== undefined) {
    const reported = new Failure(type, member.details ?? '(no details)', { status });
    const hop = member.nextHop ? ` (next-hop "${member.nextHop}")` : '';
    return {
      outcome: 'failure',
      status,
      receivedStatus,
      failure: summarize(reported),
      identified,
      summary: `the gateway answers ${status}: ${reported.shape} / ${reported.type}${hop}, from its Proxy-Status`,
      fix: `the gateway reports "${reported.details}". ${
        type === 'http_request_denied'
          ? deniedFix(status, fieldValues(head, 'retry-after'))
          : reported.kind.fix
      }`,
    };
  }
  // An error type this version does not know (a newer Candor's, or another proxy's): the
  // answer was made by a proxy all the same, never the upstream's own passed through.
  if (member?.unknownError !== undefined)
    return {
      outcome: 'failure',
      status,
      receivedStatus,
      failure: null,
      identified,
      summary: `the gateway answers ${status}: error=${member.unknownError}, a Proxy-Status type this version does not know, from its Proxy-Status (made by "${member.proxy}", not the upstream's own answer)`,
      fix: `the gateway reports "${member.details ?? '(no details)'}". Read the error type in RFC 9209's registry or the gateway's own documentation.`,
    };
  return undefined;
}

/** The upstream's own answer, which Candor passes through. */
function answerVerdict(
  context: ProbeContext,
  status: number,
  receivedStatus: number | null,
  identified: string | null,
): Verdict {
  const { head } = context;
  const made = head ? madeByProxy(head, status) : undefined;
  // A Proxy-Status no reader can parse says nothing: told as such, never guessed at.
  const unread = head ? malformedProxyStatus(head) : undefined;
  const said = unread === undefined ? '' : ` (its Proxy-Status is malformed, not read: ${unread})`;
  return {
    outcome: status >= 500 ? 'upstream_error' : 'ok',
    status,
    receivedStatus,
    failure: null,
    identified,
    summary:
      status >= 500
        ? `the upstream answers, with its own ${status}${made ? ` (made by the proxy "${made.proxy}" there: ${made.error}${made.nextHop ? ` for its next hop "${made.nextHop}"` : ''}${made.passedOnBy === undefined ? '' : `, passed on by "${made.passedOnBy}"`}, from its Proxy-Status)` : ''}${said} → Candor passes it through (Proxy-Status received-status=${status})`
        : made?.error
          ? // A proxy there (the gateway itself, probed at its public URL) refused the request
            // by a rule of its own: no upstream answered it, whatever its status.
            `the target answers ${status}, made by the proxy "${made.proxy}" there (${made.error}${made.passedOnBy === undefined ? '' : `, passed on by "${made.passedOnBy}"`}, from its Proxy-Status), not by an upstream behind it → Candor passes it through`
          : `the upstream answers ${status}${said} → Candor passes it through`,
    fix: adviseAnswer(context, status),
  };
}
