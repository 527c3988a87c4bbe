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
