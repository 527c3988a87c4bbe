import { Failure } from '../../core/failure/failure.ts';
import type { DownstreamHead, FieldMap } from '../../core/net/downstream.ts';
import { hostnameOf } from '../../core/net/hostname.ts';
import { OwnAnswer } from '../../core/net/own-answer.ts';

/** What the request path answers of an ACME validation (the gateway's ordered certificates: server/acme). */
export interface AcmeChallenges {
  /**
   * The key authorization for an HTTP-01 token being validated now for the name `host`
   * (lowercase, no port); undefined for any other token, or this one asked for another host.
   */
  httpAnswer(token: string, host: string): string | undefined;
  /**
   * In a fleet of gateways (`store.redis`), where another gateway's validation is looked up:
   * then every challenge path is the gateway's, answered 404 when no gateway knows the token
   * for that host. Rejects when the fleet's store could not be asked.
   */
  readonly remoteHttpAnswer?: (token: string, host: string) => Promise<string | undefined>;
}

const CHALLENGE_PATH = '/.well-known/acme-challenge/';

/**
 * ACME's HTTP-01 validation (RFC 8555 §8.3): a GET or HEAD on a plain listener of
 * `/.well-known/acme-challenge/<token>` for a token being validated now is answered with its
 * key authorization, before routing (an http → https redirect route must not send the CA
 * away). Any other token goes on to routing (undefined): the app behind may be validating
 * names of its own; but in a fleet (`store.redis`) every challenge path is the gateway's,
 * answered from the fleet's store a moment later: 404 `destination_not_found` when no gateway
 * knows the token, 503 `proxy_internal_response` when the store does not answer.
 * A token is answered only for the name it validates, as the CA asks (Host: that name): any
 * other Host pointed here (a name of someone else's, a rebinding page) is not told the key
 * authorization, as Caddy refuses it too; it goes on as any other token.
 */
export function acmeChallenge(
  acme: AcmeChallenges | undefined,
  head: DownstreamHead,
  fields: FieldMap,
): OwnAnswer | Promise<OwnAnswer | Failure> | undefined {
  // The connection's own scheme: a trusted proxy's X-Forwarded-Proto (request-scheme.ts) does not move it.
  if (acme === undefined || head.encrypted) return undefined;
  if ((head.method !== 'GET' && head.method !== 'HEAD') || !head.target.startsWith(CHALLENGE_PATH))
    return undefined;
  const token = head.target.slice(CHALLENGE_PATH.length);
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  // The origin form only reaches here: Host is the request's name (one Host: request-checks.ts).
  const host = typeof fields.host === 'string' ? hostnameOf(fields.host) : '';
  const keyAuthorization = acme.httpAnswer(token, host);
  if (keyAuthorization !== undefined) return answerOf(keyAuthorization);
  return acme.remoteHttpAnswer?.(token, host).then(
    (found) =>
      found === undefined
        ? new Failure(
            'destination_not_found',
            `no gateway of the fleet is validating this ACME token for ${host}`,
          )
        : answerOf(found),
    // Not a 404: the gateway cannot tell whether another one is validating the token (the CA
    // tries again, and an order waiting on this validation is not failed for nothing).
    (err) =>
      new Failure(
        'proxy_internal_response',
        "the fleet's store (store.redis) did not answer: whether a gateway is validating this ACME token is not known",
        { cause: err, retryAfter: 1 },
      ),
  );
}

/** 200 with the key authorization. */
function answerOf(keyAuthorization: string): OwnAnswer {
  return new OwnAnswer(
    200,
    ['content-type', 'text/plain', 'cache-control', 'no-store'],
    Buffer.from(keyAuthorization),
  );
}
