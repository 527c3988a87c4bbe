import type { Session } from './session.ts';

/**
 * What the primary answers a worker about to renew a session (`candor serve --workers N`): `go`,
 * this worker renews it for the gateway (and tells how it went); `renewed`, another worker did,
 * here is the session it got; `refused`, the provider refused that refresh token; `alone`, the
 * worker that renewed could not (the provider down, it died): renew here, untold.
 */
export type PeerRenewal =
  | { readonly outcome: 'go' }
  | { readonly outcome: 'renewed'; readonly session: Session }
  | { readonly outcome: 'refused' }
  | { readonly outcome: 'alone' };

/** How a renewal ended, told to the primary for the workers waiting on it. */
export type RenewalOutcome = 'renewed' | 'refused' | 'failed';

/**
 * The other workers of the gateway, for the session renewals (session-tokens.ts): a page's
 * requests come on several connections, which land on several workers, each with the cookie
 * from before the renewal; with a provider that rotates refresh tokens a second renewal is
 * refused and ends the user's session. `key`: the refresh token's SHA-256.
 */
export interface RenewalPeers {
  /** undefined: no answer within `waitMs` (the primary busy or gone): renew here. */
  askRenewal(key: string, waitMs: number): Promise<PeerRenewal | undefined>;
  tellRenewed(key: string, outcome: RenewalOutcome, session: Session | undefined): void;
}
