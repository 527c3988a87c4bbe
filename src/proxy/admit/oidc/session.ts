import type { JWTPayload } from 'jose';
import type { FieldMap } from '../../../core/net/downstream.ts';
import type { RequestSpans } from '../../../observe/tracing/spans.ts';

/**
 * The next hop Proxy-Status names when the session store (session-store.ts) fails: no address, as
 * a hop known by its URL is shown where the config does not expose addresses.
 */
export const SESSION_STORE_HOP = 'store:redis';

/** The session a cookie carries: the ID token's claims, the tokens, and when they expire. */
export interface Session {
  /** The ID token's claims. */
  readonly c: JWTPayload;
  /** The ID token (the logout's id_token_hint), left out when the cookie could not hold it. */
  readonly i?: string;
  /** The refresh token, when the provider gave one. */
  readonly r?: string;
  /** When the session's tokens were issued, and when they expire (Date.now()). */
  readonly a: number;
  readonly e: number;
}

/** What the sign-in reads of a request (route-access.ts's AccessRequest has it all). */
export interface SignInRequest {
  readonly method: string;
  /** The path in its normal form, query included. */
  readonly target: string;
  readonly host: string;
  /** The scheme the request came by: `https` on a TLS listener. */
  readonly protocol: string;
  readonly fields: FieldMap;
  /** The head's fields as sent: the key the renewed session's cookies are kept by until the answer. */
  readonly headers: readonly string[];
  /** The request's spans: its calls to the token endpoint are traced under them (undefined when tracing is off). */
  readonly spans?: RequestSpans;
}
