import type { DownstreamHead, ResponseSink } from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { ListenerFacts } from './listener.ts';

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
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return false;
  const keyAuthorization = acme.httpAnswer(token);
  if (keyAuthorization !== undefined) {
    answer(keyAuthorization, head, response, record);
    return true;
  }
  const remote = acme.remoteHttpAnswer;
  if (remote === undefined) return false;
  // The response sink outlives this call: the session logs the request when it closes.
  void remote(token).then((found) => answer(found, head, response, record));
  return true;
}

/** 200 with the key authorization, or 404 for a token no gateway of the fleet is validating. */
function answer(
  keyAuthorization: string | undefined,
  head: DownstreamHead,
  response: ResponseSink,
  record: RequestRecord,
): void {
  if (response.closed) return;
  const status = keyAuthorization === undefined ? 404 : 200;
  record.status = status;
  record.acme = 'http-01';
  const body = Buffer.from(keyAuthorization ?? 'no such ACME challenge\n');
  response.sendHead(status, '', [
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
}
