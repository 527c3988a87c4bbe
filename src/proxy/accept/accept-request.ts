import type { DownstreamLimits } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { DownstreamHead, FieldMap } from '../../core/net/downstream.ts';
import { hasBody } from '../../core/net/downstream.ts';
import type { OwnAnswer } from '../../core/net/own-answer.ts';
import { isLoop } from '../route/request-target.ts';
import { type AcmeChallenges, acmeChallenge } from './acme-challenge.ts';
import { forwardedCertificateRefusal } from './forwarded-certificate.ts';
import { OPTIONS_ANSWER } from './options-answer.ts';
import { checkRequest, maxForwardsSpent } from './request-checks.ts';

/** What the accept phase makes of a request its server parsed; undefined: on to routing. */
export type Accepted =
  /** Refused: whatever the client sent after its head cannot be trusted (the connection closes after the answer). */
  | { readonly refused: Failure }
  /** A sound request answered with this failure (a loop, an unreadable forwarded certificate): the connection goes on. */
  | { readonly failed: Failure }
  /** Answered by the gateway itself, with no route: an ACME validation (`acme` names it), `OPTIONS *`. */
  | { readonly answer: OwnAnswer | Promise<OwnAnswer | Failure>; readonly acme?: string }
  | undefined;

/**
 * The accept phase, in order: an upgrade with a body (its body could not be framed once the
 * connection is handed over), what the server's parser lets through that a careful server must
 * refuse (request-checks.ts), a client certificate a trusted proxy forwarded unreadable
 * (forwarded-certificate.ts), ACME's HTTP-01 validation on a plain listener, `OPTIONS *` (in
 * either form) and an OPTIONS whose Max-Forwards is spent (RFC 9110 §9.3.7, §7.6.2: answered
 * by their recipient, Candor), and a loop (a `Via` naming this gateway).
 */
export function acceptRequest(
  // The session's runtime as it is (no object of its fields made per request).
  gateway: {
    readonly name: string;
    readonly config: { readonly limits: DownstreamLimits };
    readonly acme?: AcmeChallenges;
  },
  head: DownstreamHead,
  fields: FieldMap,
): Accepted {
  if (head.upgrade && hasBody(head))
    return {
      refused: new Failure('http_request_error', 'an upgrade request with a body is not supported', {
        status: 400,
      }),
    };
  const refused = checkRequest(head, fields, gateway.config.limits);
  if (refused) return { refused };
  // Sound framing, a body that can be read past: the connection goes on after this 400.
  const unreadable = forwardedCertificateRefusal(head);
  if (unreadable) return { failed: unreadable };
  const challenge = acmeChallenge(gateway.acme, head, fields);
  if (challenge !== undefined) return { answer: challenge, acme: 'http-01' };
  if (head.method === 'OPTIONS' && (asksTheServer(head.target) || maxForwardsSpent(head.headers)))
    return { answer: OPTIONS_ANSWER };
  if (isLoop(fields.via as string | undefined, gateway.name))
    return {
      failed: new Failure('proxy_loop_detected', `this request already passed through "${gateway.name}"`),
    };
  return undefined;
}

/**
 * `OPTIONS *`, or its absolute form with an empty path and no query (`OPTIONS http://a.example`),
 * which RFC 9112 §3.2.4 has the last proxy send on as `*`: a question about the server, not
 * about `/` (which the absolute form's empty path would otherwise become).
 */
function asksTheServer(target: string): boolean {
  return target === '*' || /^https?:\/\/[^/?#]*$/i.test(target);
}
