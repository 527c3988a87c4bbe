import type { DownstreamHead, ResponseSink } from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { ListenerFacts } from './listener.ts';

/** What the request path answers of an ACME validation (the gateway's ordered certificates: server/acme). */
export interface AcmeChallenges {
  /** The key authorization for an HTTP-01 token being validated now; undefined for any other token. */
  httpAnswer(token: string): string | undefined;
}

const CHALLENGE_PATH = '/.well-known/acme-challenge/';

/**
 * ACME's HTTP-01 validation (RFC 8555 §8.3): a GET or HEAD on a plain listener of
 * `/.well-known/acme-challenge/<token>` for a token being validated now is answered with its
 * key authorization, before routing (an http → https redirect route must not send the CA
 * away). Any other token goes on to routing: the app behind may be validating names of its own.
 * True when it answered.
 */
export function answeredChallenge(
  acme: AcmeChallenges | undefined,
  listener: ListenerFacts,
  head: DownstreamHead,
  response: ResponseSink,
  record: RequestRecord,
): boolean {
  if (acme === undefined || listener.protocol !== 'http') return false;
  if ((head.method !== 'GET' && head.method !== 'HEAD') || !head.target.startsWith(CHALLENGE_PATH))
    return false;
  const token = head.target.slice(CHALLENGE_PATH.length);
  const keyAuthorization = /^[A-Za-z0-9_-]+$/.test(token) ? acme.httpAnswer(token) : undefined;
  if (keyAuthorization === undefined) return false;
  record.status = 200;
  record.acme = 'http-01';
  const body = Buffer.from(keyAuthorization);
  response.sendHead(200, '', [
    'content-type',
    'text/plain',
    'cache-control',
    'no-store',
    'content-length',
    String(body.length),
    'x-request-id',
    record.id,
  ]);
  if (head.method !== 'HEAD') response.write(body);
  response.end();
  return true;
}
