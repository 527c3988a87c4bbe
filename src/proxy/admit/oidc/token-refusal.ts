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
    // Quoted as the redirect path's code is: JSON.stringify left C1 (0x9b, a terminal's CSI), DEL
    // and bidi overrides raw, and the details reach the text/plain body a terminal shows.
    `it refused the gateway's client (${err.status}, "${errorCode(String(err.error))}"): check client_id and client_secret_env with the provider`,
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

/** What RFC 6749 (Appendix A.7) lets an `error` code hold: printable ASCII but `"` and `\`. */
const NOT_IN_ERROR_CODE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/g;

/**
 * An `error` code of the provider's answer as the client and the log are told it: at most 64
 * characters, each it may not hold a `?`. The redirect path's answer came through the browser,
 * as whoever sent it there wrote it, the token endpoint's from the provider, and the code is
 * quoted in every body (the text/plain one read in a terminal, where an ESC in it recoloured or
 * cleared the screen and a CR or LF forged a line), in Proxy-Status and in the log line.
 */
export function errorCode(code: string): string {
  return (code.length > 64 ? `${code.slice(0, 64)}...` : code).replace(NOT_IN_ERROR_CODE, '?');
}
