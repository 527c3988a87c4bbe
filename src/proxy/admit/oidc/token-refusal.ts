import * as oauth from 'oauth4webapi';
import type { Failure } from '../../../core/failure/failure.ts';
import { unusableAnswer } from '../../../core/failure/unusable-answer.ts';

/**
 * What a token endpoint's refusal in OAuth's words (RFC 6749 §5.2, oauth4webapi's
 * ResponseBodyError under 500) says: `invalid_grant` refuses the grant the user brought (a code
 * expired or used, a refresh token revoked), the user's to sign in again; every other code
 * (`invalid_client`, `unauthorized_client`: the gateway's secret wrong at the provider, or
 * `invalid_request`, `unsupported_grant_type`, `invalid_scope`) refuses the gateway's own client,
 * which no user can mend: an answer the gateway cannot use, the hop's 502, never a 401 nor a
 * session ended. Undefined for anything that is no such refusal.
 */
export function tokenRefusal(err: unknown): 'grant' | Failure | undefined {
  if (!(err instanceof oauth.ResponseBodyError) || err.status >= 500) return undefined;
  if (err.error === 'invalid_grant') return 'grant';
  return unusableAnswer(
    `it refused the gateway's client (${err.status}, ${JSON.stringify(err.error).slice(0, 66)}): check client_id and client_secret_env with the provider`,
  );
}

/**
 * Whether oauth4webapi refused an ID token whose `nonce` is not `nonce`, whatever else it refused
 * first: `'another'` (it names another sign-in's) or `'none'` (it names none); undefined for any
 * other refusal. The code it was exchanged for was issued for another authorization request than
 * this browser's sign-in, a code the browser (or an attacker through it) brought to the redirect
 * path; or, for `'none'`, the provider leaves out the nonce it was sent (OpenID Connect Core
 * §3.1.2.1 says it must not), which the gateway cannot tell from the first. Either way the
 * browser's 400, never the provider's failure, nor a count on its circuit, which a client could
 * otherwise open for every user. Read from the claims oauth4webapi gives with its refusal.
 */
export function nonceRefused(err: unknown, nonce: string): 'another' | 'none' | undefined {
  if (!(err instanceof oauth.OperationProcessingError)) return undefined;
  const cause: unknown = err.cause;
  if (typeof cause !== 'object' || cause === null || !('claims' in cause)) return undefined;
  const claims: unknown = cause.claims;
  if (typeof claims !== 'object' || claims === null) return undefined;
  const said = (claims as { nonce?: unknown }).nonce;
  if (said === nonce) return undefined;
  return said === undefined ? 'none' : 'another';
}
