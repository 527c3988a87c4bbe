/**
 * A Proxy-Status value (RFC 9209) or an error type name, explained with the failure table's
 * words: what `candor explain --proxy-status` and `--error` print. The value is read by the one
 * reader Candor has (core/failure/proxy-status.ts), which diagnose and candor/client use too.
 */
import { Failure } from '../../core/failure/failure.ts';
import {
  type ProxyStatusMember,
  proxyStatusProblem,
  proxyStatusType,
  readProxyStatusMembers,
} from '../../core/failure/proxy-status.ts';
import { OTHER_REGISTERED_TYPES } from '../../core/failure/registered-types.ts';
import { FAILURE_TYPES, FAILURES, type FailureType, type Shape } from '../../core/failure/taxonomy.ts';
import { clientAdvice } from '../../core/failure/wording.ts';

export interface ExplainedType {
  readonly type: string;
  /** rfc9209: a registered type; candor: a type of Candor's own; unknown: neither (another proxy's). */
  readonly known: 'rfc9209' | 'candor' | 'unknown';
  /** False for a registered type Candor never writes (its status is RFC 9209's recommendation). */
  readonly candorWrites?: boolean;
  readonly title?: string;
  readonly meaning?: string;
  readonly status?: number;
  readonly shape?: Shape;
  readonly retryAfter?: boolean;
  readonly clientMayRetry?: boolean;
  readonly advice?: string;
  readonly fix?: string;
  /** For a type of Candor's own: the registered type its Proxy-Status carries (null: none). */
  readonly writtenAs?: string | null;
  /** For a registered type: Candor's own finer types written as it, with their status. */
  readonly candorCases?: ReadonlyArray<{ type: string; status: number; title: string }>;
}

export interface ExplainedMember {
  readonly position: number;
  readonly of: number;
  readonly proxy: string;
  /** One line: what this hop said, in plain words. */
  readonly summary: string;
  readonly error?: ExplainedType;
  readonly receivedStatus?: number;
  /** A Candor gateway's `candor-upstream-status`: the route's upstream answered this before the named hop failed. */
  readonly upstreamStatus?: number;
  readonly nextHop?: string;
  readonly nextHopMeans?: string;
  readonly details?: string;
  readonly rcode?: string;
  readonly alertId?: number;
  readonly alertMessage?: string;
}

/** A type name Proxy-Status could carry: an RFC 9651 token of the letters the registry uses. */
export const TYPE_NAME = /^[a-z*][a-z0-9_.*-]*$/i;

/** The failure table's words for a type, or RFC 9209's for one Candor never writes, or unknown. */
export function explainType(name: string): ExplainedType {
  if (Object.hasOwn(FAILURES, name)) {
    const type = name as FailureType;
    const kind = FAILURES[type];
    const written = proxyStatusType(type);
    const retryAfter = kind.retryAfter
      ? 'A Candor gateway sends Retry-After with it: wait as long as it says. '
      : '';
    const cases = FAILURE_TYPES.filter((other) => other !== type && proxyStatusType(other) === type);
    return {
      type,
      known: written === type ? 'rfc9209' : 'candor',
      title: kind.title,
      meaning: kind.explanation,
      status: kind.status,
      shape: kind.shape,
      retryAfter: kind.retryAfter,
      clientMayRetry: kind.clientMayRetry,
      advice: retryAfter + clientAdvice(new Failure(type, '', { stage: kind.furthestStage })),
      fix: kind.fix,
      ...(written === type ? {} : { writtenAs: written }),
      ...(cases.length === 0
        ? {}
        : {
            candorCases: cases.map((c) => ({
              type: c,
              status: FAILURES[c].status,
              title: FAILURES[c].title,
            })),
          }),
    };
  }
  const other = OTHER_REGISTERED_TYPES[name];
  if (other !== undefined && Object.hasOwn(OTHER_REGISTERED_TYPES, name))
    return {
      type: name,
      known: 'rfc9209',
      candorWrites: false,
      title: other.title,
      meaning: other.explanation,
      status: other.status,
      shape: other.shape,
    };
  return { type: name, known: 'unknown' };
}

/** Types a Candor gateway may write without a next hop because none took part (README's rule). */
const ABOUT_THE_REQUEST = new Set(['destination_not_found', 'proxy_loop_detected', 'http_request_denied']);

/** What a `next-hop` names, by the rules of README's "Which hop next-hop names". */
export function nextHopMeans(
  proxy: string,
  nextHop: string | undefined,
  error: ExplainedType | undefined,
): string {
  if (nextHop === undefined) {
    if (error === undefined || error.known === 'unknown') return 'none named';
    return error.shape === 'client' || ABOUT_THE_REQUEST.has(error.type)
      ? 'none named: no upstream took part (a refusal about the request or its client alone: no route, a loop, an access rule, a bad request)'
      : "none named: the proxy keeps its upstream's name to itself (a Candor gateway with errors.detail: minimal)";
  }
  if (nextHop.startsWith('auth:'))
    return `the auth hop "${nextHop.slice(5)}" (forward auth or an identity provider) ${proxy} asked before forwarding: it failed, not the route's upstream`;
  if (nextHop === 'store:redis')
    return `the OpenID Connect session store (Redis) ${proxy} keeps sign-ins in: it failed, not the route's upstream`;
  if (nextHop.startsWith('store:'))
    return `a store ${proxy} keeps state in (${nextHop.slice(6)}), not the route's upstream`;
  return `the upstream ${proxy} sent the request to (a Candor gateway names it, or its target's address with errors.expose_upstream_address)`;
}

function summary(member: ProxyStatusMember, error: ExplainedType | undefined): string {
  if (error === undefined && member.receivedStatus !== undefined)
    return `passed on the ${member.receivedStatus} its next hop answered: ${member.proxy} did not fail, the status is the next hop's own`;
  if (error === undefined) return `${member.proxy} names no error: nothing failed at this hop`;
  if (error.known === 'unknown')
    return `${member.proxy} says "${error.type}": unknown, not a type of RFC 9209's registry nor of Candor's (the proxy's own; its details may say more)`;
  const received =
    member.receivedStatus !== undefined
      ? `, after its next hop answered ${member.receivedStatus}`
      : member.upstreamStatus !== undefined
        ? `, after the route's upstream answered ${member.upstreamStatus} (the request was delivered: resend it only if that is safe)`
        : '';
  return `${member.proxy} failed: ${error.title}${received}`;
}

/** Each member, in header order: the first written nearest the origin, the last nearest the client. */
export function explainMembers(members: readonly ProxyStatusMember[]): ExplainedMember[] {
  return members.map((member, i) => {
    const name = member.error ?? member.unknownError;
    const error = name === undefined ? undefined : explainType(name);
    return {
      position: i + 1,
      of: members.length,
      proxy: member.proxy,
      summary: summary(member, error),
      ...(error === undefined ? {} : { error }),
      ...(member.receivedStatus === undefined ? {} : { receivedStatus: member.receivedStatus }),
      ...(member.upstreamStatus === undefined ? {} : { upstreamStatus: member.upstreamStatus }),
      ...(member.nextHop === undefined ? {} : { nextHop: member.nextHop }),
      ...(error === undefined && member.nextHop === undefined
        ? {}
        : { nextHopMeans: nextHopMeans(member.proxy, member.nextHop, error) }),
      ...(member.details === undefined ? {} : { details: member.details }),
      ...(member.rcode === undefined ? {} : { rcode: member.rcode }),
      ...(member.alertId === undefined ? {} : { alertId: member.alertId }),
      ...(member.alertMessage === undefined ? {} : { alertMessage: member.alertMessage }),
    };
  });
}

const NAMED = /^[ \t]*proxy-status[ \t]*:/i;

/**
 * A value as pasted: the field value alone, or whole `Proxy-Status:` lines from curl -i (CRLF
 * and all), several of which are one field, joined with commas (RFC 9110 §5.3). Where some
 * lines are named Proxy-Status, only they are read: the whole head curl -i printed, pasted as
 * it came, has a status line and other fields beside them, which are no part of the value.
 */
export function readPasted(
  text: string,
): { value: string; members: ProxyStatusMember[] } | { problem: string } {
  const lines = text.split(/\r?\n/);
  const named = lines.filter((line) => NAMED.test(line));
  const value = (named.length > 0 ? named : lines)
    .map((line) => line.replace(NAMED, '').trim())
    .filter((line) => line !== '')
    .join(', ');
  const problem = proxyStatusProblem(value);
  return problem === undefined ? { value, members: readProxyStatusMembers(value) } : { problem };
}
