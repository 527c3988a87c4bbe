import type { DownstreamHead } from '../../core/net/downstream.ts';
import { OwnAnswer } from '../../core/net/own-answer.ts';
import type { ListenerFacts } from './request-handlers.ts';

/** What the request path answers of an ACME validation (the gateway's ordered certificates: server/acme). */
export interface AcmeChallenges {
  /** The key authorization for an HTTP-01 token being validated now; undefined for any other token. */
  httpAnswer(token: string): string | undefined;
  /**
   * In a fleet of gateways (`store.redis`), where another gateway's validation is looked up:
   * then every challenge path is the gateway's, answered 404 when no gateway knows the token.
   */
  readonly remoteHttpAnswer?: (token: string) => Promise<string | undefined>;
}

const CHALLENGE_PATH = '/.well-known/acme-challenge/';

/**
 * ACME's HTTP-01 validation (RFC 8555 §8.3): a GET or HEAD on a plain listener of
 * `/.well-known/acme-challenge/<token>` for a token being validated now is answered with its
 * key authorization, before routing (an http → https redirect route must not send the CA
 * away). Any other token goes on to routing (undefined): the app behind may be validating
 * names of its own; but in a fleet (`store.redis`) every challenge path is the gateway's,
 * answered from the fleet's store a moment later, 404 when no gateway knows the token.
 */
export function acmeChallenge(
  acme: AcmeChallenges | undefined,
  listener: ListenerFacts,
  head: DownstreamHead,
): OwnAnswer | Promise<OwnAnswer> | undefined {
  if (acme === undefined || listener.protocol !== 'http') return undefined;
  if ((head.method !== 'GET' && head.method !== 'HEAD') || !head.target.startsWith(CHALLENGE_PATH))
    return undefined;
  const token = head.target.slice(CHALLENGE_PATH.length);
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const keyAuthorization = acme.httpAnswer(token);
  if (keyAuthorization !== undefined) return answerOf(keyAuthorization);
  return acme.remoteHttpAnswer?.(token).then(answerOf);
}

/** 200 with the key authorization, or 404 for a token no gateway of the fleet is validating. */
function answerOf(keyAuthorization: string | undefined): OwnAnswer {
  return new OwnAnswer(
    keyAuthorization === undefined ? 404 : 200,
    ['content-type', 'text/plain', 'cache-control', 'no-store'],
    Buffer.from(keyAuthorization ?? 'no such ACME challenge\n'),
  );
}
